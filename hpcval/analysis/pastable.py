"""Tables to paste into a proposal: Markdown and LaTeX (booktabs), from one display frame.

The display frame holds text already formatted (textfmt.fmt): the same cells in
every format, so the CSV's numbers, the Markdown and the LaTeX never disagree
on rounding.  LaTeX comes from pandas' Styler (``\\usepackage{booktabs}``).
"""
from hpcval.analysis.textfmt import md


def markdown(frame):
    '''A GitHub-flavoured Markdown table; every cell escaped as literal text.'''
    head = '| ' + ' | '.join(md(str(c)) for c in frame.columns) + ' |'
    rule = '|' + '|'.join('---' for _ in frame.columns) + '|'
    body = ['| ' + ' | '.join(md(str(v)) for v in row) + ' |' for row in frame.itertuples(index=False)]
    return '\n'.join([head, rule, *body]) + '\n'


def latex(frame, caption, label):
    '''A LaTeX table (booktabs rules), every cell escaped; ``caption`` says what it is.'''
    styler = frame.style.hide(axis='index').format(escape='latex').format_index(escape='latex', axis=1)
    return styler.to_latex(hrules=True, caption=caption, label=label, position='htbp',
                           column_format='l' * len(frame.columns)) + '\n'
