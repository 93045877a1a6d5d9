"""Which columns tell variants apart, and a readable label for each variant."""

# The variant dimensions of docs/data-model.md, plus where and how a case ran
VARIANT_COLUMNS = ['system', 'partition', 'environ', 'runtime', 'mpi', 'fabric',
                   'implementation', 'backend', 'dtype', 'mode', 'target', 'ranks_per_node', 'num_nodes']


def varying(frame, columns=VARIANT_COLUMNS):
    '''The variant columns that take more than one value in ``frame``.'''
    out = []
    for col in columns:
        if col in frame.columns and frame[col].astype(str).nunique(dropna=False) > 1:
            out.append(col)
    return out


def label(row, columns):
    '''"environ=host-openmpi, num_nodes=2" for the columns that vary, else "all".'''
    parts = []
    for col in columns:
        value = row[col]
        if col == 'num_nodes' and value != value:      # NaN: a perflog whose format logs no node count
            parts.append('nodes unknown')
        elif col == 'num_nodes':
            parts.append(f'{int(value)} node{"s" if int(value) != 1 else ""}')
        else:
            parts.append(f'{col}={value}')
    return ', '.join(parts) if parts else ''


def add_variant(frame, columns=None):
    '''Return a copy of ``frame`` with a ``variant`` label column.'''
    frame = frame.copy()
    cols = varying(frame) if columns is None else columns
    if not cols:
        # nothing varies: still say what it is
        cols = [c for c in ('environ', 'num_nodes') if c in frame.columns]
    frame['variant'] = [label(r, cols) for _, r in frame[cols].iterrows()] if cols else ''
    return frame
