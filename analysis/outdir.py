"""Writing a report directory: CSV tables and the atomic swap into place.

Light on imports on purpose (no scipy): `hpcval history show` has a time
budget and shares these with `hpcval report`.
"""
import os
import shutil
import tempfile
from pathlib import Path


def write_csv(df, path):
    '''CSV through Arrow's writer: the results table has a row per perf value (1M at 100k cases).'''
    import pyarrow as pa
    import pyarrow.csv as pacsv
    arrays = []
    for name in df.columns:
        col = df[name]
        try:
            arrays.append(pa.array(col, from_pandas=True))
        except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # numbers and text mixed in one column: write it as text
            arrays.append(pa.array(col.astype(object).where(col.notna(), None).map(
                lambda v: v if v is None else str(v)), from_pandas=True))
    pacsv.write_csv(pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns]), path)


def swap_into_place(tmp, outdir):
    '''Rename the finished folder over the old one: a reader never sees half a report.'''
    old = None
    if outdir.exists():
        old = Path(tempfile.mkdtemp(prefix=f'.{outdir.name}.old-', dir=outdir.parent))
        os.rmdir(old)
        os.rename(outdir, old)
    os.rename(tmp, outdir)
    os.chmod(outdir, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
