"""Figures as matplotlib Figure objects (no pyplot state, no display needed)."""
import io

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from analysis.microbench import BANDWIDTH_BENCHMARKS, LATENCY_BENCHMARKS


def _size_fmt(x, _pos=None):
    x = int(round(x))
    for suffix, mult in (('MiB', 1 << 20), ('KiB', 1 << 10)):
        if x >= mult:
            return f'{x // mult}{suffix}'
    return f'{x}B'


def _curve_figure(curve, benchmarks, ylabel, title, logy=True):
    fig = Figure(figsize=(8, 4.8), layout='constrained')
    ax = fig.add_subplot()
    sel = curve[curve['benchmark'].isin(benchmarks)]
    for (bench, variant), c in sel.groupby(['benchmark', 'variant'], sort=True):
        name = f'{bench} ({variant})' if variant else bench
        line, = ax.plot(c['msg_size'], c['median'], marker='o', ms=3, label=name)
        if (c['n'] > 1).any():
            ax.fill_between(c['msg_size'], c['min'], c['max'], alpha=0.2, color=line.get_color())
    ax.set_xscale('log', base=2)
    if logy:
        ax.set_yscale('log')
    sizes = sorted(int(s) for s in sel['msg_size'].unique())
    ticks = [s for s in sizes if (s.bit_length() - 1) % 2 == 0] or sizes
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(_size_fmt))
    ax.tick_params(axis='x', labelrotation=45)
    ax.set_xlabel('message size')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize='small')
    return fig


def latency_vs_size(curve):
    if not curve['benchmark'].isin(LATENCY_BENCHMARKS).any():
        return None
    return _curve_figure(curve, LATENCY_BENCHMARKS, 'latency (µs), median; band: min-max',
                         'Latency vs message size')


def bandwidth_vs_size(curve):
    if not curve['benchmark'].isin(BANDWIDTH_BENCHMARKS).any():
        return None
    return _curve_figure(curve, BANDWIDTH_BENCHMARKS, 'bandwidth (MB/s), median; band: min-max',
                         'Bandwidth vs message size')


def matmul_rates(table):
    if table is None or table.empty:
        return None
    fig = Figure(figsize=(8, 4.2), layout='constrained')
    ax = fig.add_subplot()
    for variant, t in table.groupby('variant'):
        name = variant or 'DGEMM'
        line, = ax.plot(t['n'], t['gflops_median'], marker='o', label=name)
        ax.vlines(t['n'], t['gflops_min'], t['gflops_max'], color=line.get_color(), alpha=0.5)
        peak = t['nominal_peak_gflops'].iloc[0]
        ax.axhline(peak, ls='--', color=line.get_color(), alpha=0.7,
                   label=f'nominal peak {peak:.1f} GFLOP/s')
    ax.set_xscale('log', base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(table['n'].unique())))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f'{int(x)}'))
    ax.set_ylim(bottom=0)
    ax.set_xlabel('matrix order n')
    ax.set_ylabel('GFLOP/s per node (median; bar: min-max)')
    ax.set_title('DGEMM rate against nominal peak')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small')
    return fig


def to_bytes(fig, fmt):
    buf = io.BytesIO()
    # no timestamps in the files: the same data gives the same bytes
    meta = {'Date': None} if fmt == 'svg' else {'Software': None}
    fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
    return buf.getvalue()
