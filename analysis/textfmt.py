"""How numbers and names are written in reports (HTML, Markdown, file
names): shared by the run report and the history report.  Light imports:
the history command must not pull in matplotlib to format a number."""
import re

import numpy as np


def slug(text):
    '''A file-name-safe form of a case or variable name (at most 60 characters).'''
    return re.sub(r'[^A-Za-z0-9]+', '_', str(text)).strip('_')[:60] or 'x'


def fmt(value, digits=3):
    '''A measured value for a table: NaN blank, large values with one decimal.'''
    if isinstance(value, (float, np.floating)):
        if value != value:
            return ''
        if abs(value) >= 100:
            return f'{value:,.1f}'
        return f'{value:.{digits}g}'
    return '' if value is None else str(value)


def pct(value):
    '''A fraction as a percentage with one decimal; NaN or None blank.'''
    return '' if value is None or value != value else f'{100 * value:.1f} %'
