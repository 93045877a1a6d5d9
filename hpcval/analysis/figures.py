"""Figures as matplotlib Figure objects (no pyplot state, no display needed)."""

import numpy as np
import pandas as pd

from cycler import cycler
from matplotlib.cm import tab20
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from hpcval.analysis.microbench import BANDWIDTH_BENCHMARKS
from hpcval.analysis.textfmt import printable, short_series
from hpcval.sizes import size_label


def _curve_figure(curve, benchmarks, ylabel, title, logy=True):
    fig = Figure(figsize=(8, 4.8), layout='constrained')
    ax = fig.add_subplot()
    sel = curve[curve['benchmark'].isin(benchmarks)]
    for (bench, variant), c in sel.groupby(['benchmark', 'variant'], sort=True):
        name = (variant or bench) if len(benchmarks) == 1 else (f'{bench} ({variant})' if variant else bench)
        line, = ax.plot(c['msg_size'], c['median'], marker='o', ms=3, label=name)
        if (c['n'] > 1).any():
            ax.fill_between(c['msg_size'], c['min'], c['max'], alpha=0.2, color=line.get_color())
    ax.set_xscale('log', base=2)
    if logy:
        ax.set_yscale('log')
    sizes = sorted(int(s) for s in sel['msg_size'].unique())
    ticks = [s for s in sizes if (s.bit_length() - 1) % 2 == 0] or sizes
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(size_label))
    ax.tick_params(axis='x', labelrotation=45)
    ax.set_xlabel('message size')
    return _finish(fig, ax, ylabel, title)


def vs_size(curve, benchmark):
    '''One benchmark's curves, one line per variant: one question per figure
    (a whole-system sweep would put 30 curves of four kinds into one).'''
    if not (curve['benchmark'] == benchmark).any():
        return None
    what = 'bandwidth (MB/s)' if benchmark in BANDWIDTH_BENCHMARKS else 'latency (µs)'
    return _curve_figure(curve, [benchmark], f'{what}, median; band: min-max',
                         f'{benchmark}: {what.split()[0]} vs message size')


def matmul_rates(table):
    '''GEMM rate per matrix order, each variant against its measured peak (dashed, its
    colour); the nominal peaks (dotted, grey) once each, marked as assumptions.'''
    if table is None or table.empty:
        return None
    fig = Figure(figsize=(8, 4.2), layout='constrained')
    ax = fig.add_subplot()
    for variant, t in table.groupby('variant'):
        name = variant or 'GEMM'
        line, = ax.plot(t['n'], t['gflops_median'], marker='o', label=name)
        ax.vlines(t['n'], t['gflops_min'], t['gflops_max'], color=line.get_color(), alpha=0.5)
        measured = t['measured_peak_gflops'].iloc[0] if 'measured_peak_gflops' in t else float('nan')
        if measured == measured:
            ax.axhline(measured, ls='--', color=line.get_color(), alpha=0.7,
                       label=f'{name}: measured peak {measured:.1f}')
    for peak in sorted(table['nominal_peak_gflops'].dropna().unique()):
        ax.axhline(peak, ls=':', color='0.4', label=f'nominal peak {peak:.1f} (assumed clock)')
    ax.set_xscale('log', base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(table['n'].unique())))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f'{int(x)}'))
    ax.set_ylim(bottom=0)
    ax.set_xlabel('matrix order n')
    ax.set_ylabel('GFLOP/s per node (median; bar: min-max)')
    ax.set_title('Matrix multiply rate against the measured peak (GFLOP/s)')
    ax.grid(True, alpha=0.3)
    _legend(fig, ax, len(ax.get_legend_handles_labels()[1]))
    return fig


VERDICT_COLOURS = {'REGRESSION': '#c62828', 'IMPROVEMENT': '#2e7d32', 'EQUIVALENT': '#1565c0',
                   'INCONCLUSIVE': '#9e9e9e'}


def _node_axis(ax, nodes):
    ax.set_xscale('log', base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(nodes)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f'{int(round(x))}'))
    ax.set_xlabel('nodes')


#: more series than this: the legend goes below the plot, fits are left to the table
CROWDED = 8


def _crowded_cycle(ax):
    '''Twenty colours, then another marker: 30 series stay apart.'''
    ax.set_prop_cycle(cycler(marker=['o', 's', '^', 'D']) * cycler(color=list(tab20.colors)))


def _finish(fig, ax, ylabel, title, which='both'):
    '''The y label, title, grid and legend every line figure ends with.'''
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which=which, alpha=0.3)
    _legend(fig, ax, len(ax.get_legend_handles_labels()[1]))
    return fig


def _legend(fig, ax, entries):
    '''Inside the axes for a few entries; below the plot, with the figure
    made taller, for many (a whole-system sweep has 30 series).'''
    if entries <= CROWDED:
        ax.legend(fontsize='small')
        return
    longest = max(len(t) for t in ax.get_legend_handles_labels()[1])
    ncol = 1 if longest > 50 else 2
    fig.set_figheight(fig.get_figheight() + 0.15 * -(-entries // ncol))
    fig.legend(loc='outside lower center', ncol=ncol, fontsize='x-small', frameon=False)


def vs_nodes(rows, title, ylabel, logy=False):
    '''Each series' median against the node count, bars the 95 % CI: how a
    latency, a collective or a per-node rate moves with the job's size.'''
    fig = Figure(figsize=(7.5, 4.6), layout='constrained')
    ax = fig.add_subplot()
    if rows['series'].nunique() > CROWDED:
        _crowded_cycle(ax)
    for series, g in rows.groupby('series', observed=True):
        g = g.sort_values('num_nodes')
        lo = (g['median'] - g['ci_lo']).clip(lower=0).fillna(0)
        hi = (g['ci_hi'] - g['median']).clip(lower=0).fillna(0)
        ax.errorbar(g['num_nodes'], g['median'], yerr=[lo, hi], marker='o', ms=4, capsize=3,
                    label=printable(short_series(series, g['check'].iloc[0])))
    _node_axis(ax, rows['num_nodes'].unique())
    if logy:
        ax.set_yscale('log')
    return _finish(fig, ax, ylabel, title)


def speedup(rows, title):
    '''Strong-scaling speedup, log-log, with the ideal line and each series' Amdahl fit.'''
    fig = Figure(figsize=(7.5, 4.8), layout='constrained')
    ax = fig.add_subplot()
    nodes = sorted(rows['num_nodes'].unique())
    n0 = nodes[0]
    ideal = [n / n0 for n in nodes]
    ax.plot(nodes, ideal, ls='--', color='black', lw=1, label='ideal')
    crowded = rows['series'].nunique() > CROWDED
    if crowded:
        _crowded_cycle(ax)
    for series, g in rows.groupby('series'):
        g = g.sort_values('num_nodes')
        series = short_series(series, g['check'].iloc[0])
        line, = ax.plot(g['num_nodes'], g['speedup'], **({} if crowded else {'marker': 'o'}),
                        label=f'{series} (measured)')
        a, b = g['amdahl_a'].iloc[0], g['amdahl_b'].iloc[0]
        if not crowded and np.isfinite(a) and np.isfinite(b) and (a + b):
            p = np.geomspace(1, nodes[-1] / n0, 50)
            ax.plot(p * n0, (a + b) / (a + b / p), ls=':', color=line.get_color(),
                    label=f'Amdahl fit, serial fraction {g["amdahl_serial_fraction"].iloc[0]:.3f}')
    _node_axis(ax, nodes)
    ax.set_yscale('log', base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: f'{y:g}'))
    return _finish(fig, ax, f'speedup vs {n0} node(s)', title)


def efficiency(rows, title, floor=0.75):
    fig = Figure(figsize=(7.5, 4.2), layout='constrained')
    ax = fig.add_subplot()
    nodes = sorted(rows['num_nodes'].unique())
    crowded = rows['series'].nunique() > CROWDED
    if crowded:
        _crowded_cycle(ax)
    for series, g in rows.groupby('series'):
        g = g.sort_values('num_nodes')
        ax.plot(g['num_nodes'], g['efficiency'], **({} if crowded else {'marker': 'o'}),
                label=short_series(series, g['check'].iloc[0]))
    ax.axhline(floor, color='#c62828', ls='--', lw=1, label=f'floor {floor:.0%}')
    if floor != 0.5:
        ax.axhline(0.5, color='#ef6c00', ls=':', lw=1, label='50 %')
    _node_axis(ax, nodes)
    ax.set_ylim(0, max(1.1, float(rows['efficiency'].max()) * 1.05))
    return _finish(fig, ax, f'{rows["mode"].iloc[0]}-scaling efficiency', title, which='major')


def boxes(values, title, ylabel):
    '''values: {label: array}; box = quartiles, whiskers 1.5 IQR, notch ~ 95 % CI of the median.'''
    fig = Figure(figsize=(7.5, 4.2), layout='constrained')
    ax = fig.add_subplot()
    labels = list(values)
    ax.boxplot([values[k] for k in labels], tick_labels=[printable(k) for k in labels], showfliers=True,
               notch=all(len(values[k]) >= 6 for k in labels))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis='x', labelrotation=30)
    ax.grid(True, axis='y', alpha=0.3)
    return fig


def ratios(table, title):
    '''Variant ratio per node count with its bootstrap CI; 1 = no difference.'''
    # the check's name once, in the title: the labels keep what tells the rows apart
    labels = [f'{short_series(getattr(r, "family", r.check), r.check)} {r.pvar}, {r.num_nodes:g} n: '
              f'{r.numerator}/{r.denominator}' for r in table.itertuples()]
    fig = Figure(figsize=(7.5 + 0.06 * max(map(len, labels), default=0), 0.9 + 0.35 * max(3, len(table))),
                 layout='constrained')
    ax = fig.add_subplot()
    y = np.arange(len(table))
    lo = (table['ratio'] - table['ci_lo']).clip(lower=0).fillna(0)
    hi = (table['ci_hi'] - table['ratio']).clip(lower=0).fillna(0)
    ax.errorbar(table['ratio'], y, xerr=[lo, hi], fmt='o', capsize=3)
    ax.axvline(1, color='black', lw=1)
    ax.set_yticks(y, [printable(lbl) for lbl in labels], fontsize='small')
    ax.invert_yaxis()
    ax.set_xlabel('ratio of medians (95 % CI)')
    span = pd.concat([table['ratio'], table['ci_lo'], table['ci_hi']]).astype(float)
    span = span[np.isfinite(span) & (span > 0)]
    # a ratio is symmetric on a log axis (2 and 0.5 equally far from 1): needed
    # once one ratio (a fabric's 15x) would squash the others against 1
    if not span.empty and span.max() / span.min() > 4:
        ax.set_xscale('log')
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f'{x:g}'))
    checks = ', '.join(dict.fromkeys(map(str, table['check']))) if 'check' in table.columns else ''
    ax.set_title(f'{title}: {checks}' if checks else title)
    ax.grid(True, axis='x', alpha=0.3)
    return fig


def forest(table, delta, title, max_rows=40):
    '''Candidate/baseline ratios with 95 % CIs, the +-delta band, coloured by verdict.'''
    t = table.copy()
    t['dist'] = np.abs(np.log(t['ratio'].astype(float)))
    t = t.sort_values(['verdict', 'dist'], ascending=[True, False]).head(max_rows)
    fig = Figure(figsize=(8, 1.0 + 0.3 * max(3, len(t))), layout='constrained')
    ax = fig.add_subplot()
    ax.axvspan(1 - delta, 1 + delta, color='#bbdefb', alpha=0.5, label=f'±{delta:.0%}')
    ax.axvline(1, color='black', lw=1)
    y = np.arange(len(t))
    for verdict, colour in VERDICT_COLOURS.items():
        sel = (t['verdict'] == verdict).to_numpy()
        if not sel.any():
            continue
        s = t[sel]
        lo = (s['ratio'] - s['ci_lo']).clip(lower=0).fillna(0)
        hi = (s['ci_hi'] - s['ratio']).clip(lower=0).fillna(0)
        ax.errorbar(s['ratio'], y[sel], xerr=[lo, hi], fmt='o', color=colour, capsize=3, label=verdict)
    labels = [printable(f'{r.case} {r.pvar}') for r in t.itertuples()]
    ax.set_yticks(y, [lbl if len(lbl) < 60 else lbl[:57] + '...' for lbl in labels], fontsize='small')
    ax.invert_yaxis()
    ax.set_xlabel('candidate / baseline (median ratio, 95 % BCa CI)')
    ax.set_title(title)
    ax.grid(True, axis='x', alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    return fig


def gan_scaling(table):
    '''Global samples/s against ranks, one line per variant and mode, with the 95 % CI.'''
    if table is None or table.empty:
        return None
    fig = Figure(figsize=(8, 4.2), layout='constrained')
    ax = fig.add_subplot()
    for (variant, mode), t in table.groupby(['variant', 'mode']):
        label = f'{mode}' + (f' ({variant})' if variant else '')
        line, = ax.plot(t['ranks'], t['samples_per_s'], marker='o', label=label)
        ok = t['ci_lo'].notna()
        if ok.any():
            ax.vlines(t.loc[ok, 'ranks'], t.loc[ok, 'ci_lo'], t.loc[ok, 'ci_hi'], color=line.get_color(), alpha=0.5)
        # ideal: the base rate times the rank ratio
        r0, base = t['ranks'].iloc[0], t['samples_per_s'].iloc[0]
        ax.plot(t['ranks'], base * t['ranks'] / r0, ls=':', color=line.get_color(), alpha=0.6)
    ax.xaxis.set_major_locator(FixedLocator(sorted(table['ranks'].unique())))
    ax.set_ylim(bottom=0)
    ax.set_xlabel('MPI ranks')
    ax.set_ylabel('global samples/s (median; bar: 95 % CI)')
    ax.set_title('3D-GAN training throughput (dotted: ideal scaling)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small')
    return fig


def io_rates(table):
    '''Metadata rates per target (one colour each), grouped by operation, one panel per variant.'''
    if table is None or table.empty:
        return None
    from hpcval.analysis.smallfile import OPS
    variants = list(dict.fromkeys(table['variant']))[:6]
    targets = list(dict.fromkeys(table['target']))
    colours = {t: f'C{i}' for i, t in enumerate(targets)}
    fig = Figure(figsize=(min(16, 4 + 3.2 * len(variants)), 4.2), layout='constrained')
    axes = fig.subplots(1, len(variants), sharey=True, squeeze=False)[0]
    width = 0.8 / max(1, len(targets))
    x = np.arange(len(OPS))
    for ax, variant in zip(axes, variants):
        t = table[table['variant'] == variant]
        for i, target in enumerate(targets):
            row = t[t['target'] == target]
            if row.empty:
                continue
            ax.bar(x + (i - (len(targets) - 1) / 2) * width, [row.iloc[0][op] for op in OPS], width,
                   color=colours[target], label=target)
        ax.set_xticks(x, [op for op in OPS])
        ax.set_yscale('log')
        ax.set_title(variant or 'all', fontsize='medium')
        ax.grid(True, axis='y', which='both', alpha=0.3)
    axes[0].set_ylabel('file ops/s (median of per-run means)')
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='outside lower center', ncols=len(targets), fontsize='small')
    fig.suptitle('Small-file metadata rates per target')
    return fig


def extrapolation(measured, predicted, curves, measured_max, title, ylabel):
    '''Measured medians (filled markers, solid line, 95 % CI bars) and the model's forecast
    (dashed curve, hollow markers with the prediction interval) on a log2 node axis; the
    extrapolated range shaded and labelled MODEL, so no reader takes it for a measurement.

    ``measured``: label, num_nodes, median, ci_lo, ci_hi; ``predicted``: label, nodes,
    predicted, lo, hi; ``curves``: label -> (nodes, values) of the model.'''
    fig = Figure(figsize=(8, 4.6), layout='constrained')
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(list(measured['label']) + list(predicted['label'])))
    top = max([measured_max] + list(predicted['nodes']))
    if top > measured_max:
        ax.axvspan(measured_max, top * 1.15, color='0.92', zorder=0)
        ax.text(measured_max * 1.03, 0.97, 'MODEL (extrapolated, not measured)', transform=ax.get_xaxis_transform(),
                va='top', fontsize='small', color='0.3')
    ax.axvline(measured_max, color='0.5', lw=1, ls=':')
    for i, label in enumerate(labels):
        colour = f'C{i % 10}'
        m = measured[measured['label'] == label].sort_values('num_nodes')
        ax.plot(m['num_nodes'], m['median'], 'o-', color=colour, label=f'{label}: measured')
        ok = m['ci_lo'].notna()
        ax.vlines(m.loc[ok, 'num_nodes'], m.loc[ok, 'ci_lo'], m.loc[ok, 'ci_hi'], color=colour, alpha=0.6)
        if label in curves:
            x, y = curves[label]
            ax.plot(x, y, '--', color=colour, alpha=0.8, label=f'{label}: model')
        p = predicted[(predicted['label'] == label) & (predicted['nodes'] > measured_max)]
        if not p.empty:
            lo = (p['predicted'] - p['lo']).clip(lower=0).fillna(0)
            hi = (p['hi'] - p['predicted']).clip(lower=0).fillna(0)
            ax.errorbar(p['nodes'], p['predicted'], yerr=[lo, hi], fmt='o', mfc='white', color=colour, capsize=3)
    ax.set_xscale('log', base=2)
    values = pd.concat([measured['median'], predicted['predicted'], predicted['hi']]).astype(float)
    values = values[np.isfinite(values) & (values > 0)]
    # a model that runs away (x100 at 8x) would flatten the measurements to a line at 0
    if not values.empty and values.max() / values.min() > 10:
        ax.set_yscale('log')
    ticks = sorted(set(int(n) for n in list(measured['num_nodes']) + list(predicted['nodes'])))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f'{int(round(x))}'))
    ax.set_xlim(min(ticks) / 1.15, top * 1.15)
    ax.set_xlabel('nodes (dotted line: largest measured)')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    # below the plot: inside, it would cover the measurements or the MODEL label
    entries = len(ax.get_legend_handles_labels()[1])
    fig.set_figheight(fig.get_figheight() + 0.2 * -(-entries // 2))
    fig.legend(loc='outside lower center', ncol=2, fontsize='small', frameon=False)
    return fig
