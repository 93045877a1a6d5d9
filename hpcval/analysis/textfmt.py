"""How numbers and names are written in reports (HTML, Markdown, file
names): shared by the run report and the history report.  Light imports:
the history command must not pull in matplotlib to format a number."""
import re

import numpy as np


def slug(text):
    '''A file-name-safe form of a case or variable name (at most 60 characters).'''
    return re.sub(r'[^A-Za-z0-9]+', '_', str(text)).strip('_')[:60] or 'x'


def short_series(series, check):
    '''A series without its check's name and the % signs: "mode=strong ranks_per_node=2".'''
    rest = str(series)[len(check):] if str(series).startswith(check) else str(series)
    return rest.replace('%', '').strip() or check


def fmt(value, digits=3):
    '''A measured value for a table: NaN blank, large values with one decimal.'''
    if isinstance(value, (float, np.floating)):
        if value != value:
            return ''
        if abs(value) >= 100:
            return f'{value:,.1f}'
        return f'{value:.{digits}g}'
    return '' if value is None else str(value)


def count(value):
    '''A count (runs needed): an integer; NaN blank; infinite as "no count decides".'''
    if value is None or value != value:
        return ''
    if value == float('inf'):
        return 'no count decides'
    return f'{int(value):d}'


def pct(value):
    '''A fraction as a percentage with one decimal; NaN or None blank.'''
    return '' if value is None or value != value else f'{100 * value:.1f} %'


def disk_size(n):
    '''Bytes on disk (an image, a folder): MiB below a GiB, else GiB with two decimals; '-' for none.'''
    if not n:
        return '-'
    return f'{n / 2**20:.0f} MiB' if n < 2**30 else f'{n / 2**30:.2f} GiB'


# Text from a run (check names, parameters, host names, fail reasons, command
# lines) is hostile until escaped: it may hold Markdown, HTML or terminal
# control sequences.  One function per output kind; the Markdown environments
# finalize every {{ }} through md(), the command line prints through printable().

#: C0, DEL, C1, and the Unicode line separators and bidirectional overrides
#: that reorder or hide what a terminal shows
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]')
_C_ESCAPES = {'\t': '\\t', '\n': '\\n', '\r': '\\r'}


def _visible(m):
    ch = m.group()
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch]
    return f'\\x{ord(ch):02x}' if ord(ch) < 0x100 else f'\\u{ord(ch):04x}'


def printable(text):
    '''``text`` for a terminal: control characters (ESC, BEL, CR, ... C1, DEL,
    bidirectional overrides) as visible escapes (``\\x1b``), so data can neither
    move the cursor, clear the screen, set the window title nor hide itself.'''
    return _CONTROL.sub(_visible, str(text))


_MD_INLINE = re.compile(r'[\\`|*\[\]]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])')
#: what would open a block (heading, quote, list, rule, fence, setext line)
#: where a value starts a line; a signed number (-1.5, +3 %) stays as it is
_MD_BLOCK = re.compile(r'^(\s*)(?:([#=~+-])(?![+-]?\d)|(\d{1,9})([.)])(?=\s|$))')


def md(value):
    '''``value`` as literal text anywhere in Markdown, table cells included:
    ``& < >`` as HTML entities (renderers pass raw HTML through), ``\\ ` | * [ ]``
    and word-edge ``_`` backslash-escaped, CR/LF (and other control characters,
    as visible escapes) never break a line or a row, and a leading ``#``, ``-``,
    ``+``, ``=``, ``~`` or ``1.`` cannot start a heading, list or fence.'''
    text = str(value)
    text = text.replace('\r\n', ' ').replace('\r', ' ').replace('\n', ' ')
    text = printable(text)
    text = text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    text = _MD_INLINE.sub(lambda m: '\\' + m.group(), text)
    return _MD_BLOCK.sub(lambda m: m.group(1) + ('\\' + m.group(2) if m.group(2) else m.group(3) + '\\' + m.group(4)),
                         text, count=1)


def md_code(value):
    '''``value`` as a Markdown code span when that shows it literally (no
    backtick, ``|``, ``<``, ``&``, backslash or control character in it), else
    as escaped text (md): inside a code span an escape would show as typed.'''
    import markupsafe
    text = str(value)
    if text and not re.search(r'[`|<>&\\\x00-\x1f\x7f-\x9f\u2028\u2029]', text) and text.strip() == text:
        return markupsafe.Markup(f'`{text}`')
    return markupsafe.Markup(md(text))


def md_finalize(value):
    '''jinja2 ``finalize`` of the Markdown environments: every ``{{ }}`` goes
    through md() unless a filter (md, code) already made it Markdown.'''
    import markupsafe
    return value if isinstance(value, markupsafe.Markup) else md(value)


def markdown_env(env):
    '''Make jinja2 Environment ``env`` a Markdown one: no HTML autoescape, every
    ``{{ }}`` escaped by md_finalize, filters ``md`` and ``code``.'''
    import markupsafe
    env.autoescape = False
    env.finalize = md_finalize
    env.filters.update(md=lambda v: markupsafe.Markup(md(v)), code=md_code)
    return env


def printable_figure(fig):
    '''printable() on every text of a matplotlib Figure (titles, axis labels,
    legends) before it is drawn: a name with ESC in it is drawn as ``\\x1b`` and
    no warning about a missing glyph carries the raw byte to stderr.  Tick
    labels are redrawn from their formatter: give those through printable().'''
    from matplotlib.text import Text
    for t in fig.findobj(Text):
        text = t.get_text()
        if _CONTROL.search(text):
            t.set_text(printable(text))
    return fig
