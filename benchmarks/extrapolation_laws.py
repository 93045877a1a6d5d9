#!/usr/bin/env python3
"""Extrapolation (analysis.extrapolation, Extra-P's PMNF) on laws with known answers.

Each experiment draws 5 runs per node count from a known law with
multiplicative normal noise, extrapolates (the 95 % prediction interval from
the bootstrap, --boot replicates) and compares with the law: |predicted/true - 1|
for the PMNF model, for the non-negative Amdahl fit T = a + b/p on the means
(scaling.amdahl_fit), and for Extra-P's plain two-term rule (gain 1: the
lowest LOO SMAPE wins); coverage = the share of fresh single runs of the law
(20 per size and experiment) inside [lo, hi].  A rate (better = higher) is
fitted as 1/R by both methods and compared as a rate.

    .venv/bin/python benchmarks/extrapolation_laws.py [--experiments 200] [--boot 400] [--noise 0.02]
"""
import argparse
import time
from collections import Counter

import numpy as np

from hpcval.analysis import extrapolation as ex
from hpcval.analysis.scaling import amdahl_fit

SMALL = [1, 2, 3, 4, 6, 8]
WIDE = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]
LAWS = [
    # name, law, better, measured node counts, targets
    ('strong T = 5 + 100/N', lambda n: 5 + 100 / n, 'lower', SMALL, [16, 32, 64]),
    ('T = 10 + 100/N + 5 log2 N', lambda n: 10 + 100 / n + 5 * np.log2(n), 'lower', SMALL, [16, 32, 64]),
    ('weak T = 20 + 10 log2 N', lambda n: 20 + 10 * np.log2(n), 'lower', SMALL, [16, 32, 64]),
    ('constant rate R = 3000', lambda n: 3000.0 + 0 * n, 'higher', SMALL, [16, 32, 64]),
    ('T = 20 + 100/N + 5 log2 N', lambda n: 20 + 100 / n + 5 * np.log2(n), 'lower', WIDE, [64, 128, 256]),
]


def experiment(law, better, nodes, targets, noise, boot, seed):
    rng = np.random.default_rng(seed)
    runs = {n: law(float(n)) * (1 + noise * rng.standard_normal(5)) for n in nodes}
    r = ex.extrapolate(runs, targets, better=better, n_boot=boot, seed=seed)
    tg = np.array(targets, float)
    true = law(tg)
    pred = np.array([row['predicted'] for row in r.rows])
    lo, hi = np.array([row['lo'] for row in r.rows]), np.array([row['hi'] for row in r.rows])
    fresh = true * (1 + noise * rng.standard_normal((20, len(tg))))
    p = np.array(nodes, float)
    y = np.array([np.mean(v if better == 'lower' else 1 / v) for v in runs.values()])
    a, b, _ = amdahl_fit(p, y)
    amdahl = a + b / tg
    plain = ex.select(p, y, tg, gain=1.0).predict(tg)
    if better == 'higher':
        amdahl, plain = 1 / amdahl, 1 / plain
    return {'pmnf': np.abs(pred / true - 1), 'amdahl': np.abs(amdahl / true - 1),
            'plain': np.abs(plain / true - 1), 'cover': ((fresh >= lo) & (fresh <= hi)).mean(axis=0),
            'width': (hi - lo) / true, 'form': r.model.form(),
            'held_out': abs(r.held_out['rel_error']) if r.held_out else np.nan}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--experiments', type=int, default=200)
    ap.add_argument('--boot', type=int, default=400)
    ap.add_argument('--noise', type=float, default=0.02)
    args = ap.parse_args()
    t0 = time.perf_counter()
    print('| law | measured | N | PMNF median | PMNF p90 | Amdahl median | Amdahl p90 | plain rule median '
          '| plain rule p90 | 95 % PI coverage | PI width (median) |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    forms = {}
    for i, (name, law, better, nodes, targets) in enumerate(LAWS):
        res = [experiment(law, better, nodes, targets, args.noise, args.boot, 10_000 * i + s)
               for s in range(args.experiments)]
        get = {k: np.array([r[k] for r in res]) for k in ('pmnf', 'amdahl', 'plain', 'cover', 'width')}
        forms[name] = (Counter(r['form'] for r in res), np.nanmedian([r['held_out'] for r in res]))
        for j, n in enumerate(targets):
            col = {k: v[:, j] for k, v in get.items()}
            print(f'| {name} | {nodes[0]}-{nodes[-1]} ({len(nodes)}) | {n} '
                  f'| {np.median(col["pmnf"]):.1%} | {np.percentile(col["pmnf"], 90):.1%} '
                  f'| {np.median(col["amdahl"]):.1%} | {np.percentile(col["amdahl"], 90):.1%} '
                  f'| {np.median(col["plain"]):.1%} | {np.percentile(col["plain"], 90):.1%} '
                  f'| {np.mean(col["cover"]):.1%} | {np.median(col["width"]):.0%} |', flush=True)
    print('\n| law | models chosen most often (share of experiments) | held-out error at the largest N (median) |')
    print('|---|---|---:|')
    for name, (count, held) in forms.items():
        top = ', '.join(f'`{f}` {c / args.experiments:.0%}' for f, c in count.most_common(3))
        print(f'| {name} | {top} | {held:.1%} |')
    print(f'\n{args.experiments} experiments per law, 5 runs per node count, {args.noise:.0%} normal '
          f'multiplicative noise, {args.boot} bootstrap replicates; two-term gain {ex.TWO_TERM_GAIN}, '
          f'MAX_VIF {ex.MAX_VIF}; plain rule = gain 1.  Wall time {time.perf_counter() - t0:.0f} s')


if __name__ == '__main__':
    main()
