#!/usr/bin/env python3
"""Calibration of the compare verdicts on synthetic samples with a known shift.

Each trial draws a baseline and a candidate (lognormal, mean-one noise of the
given CoV; the candidate's times scaled by 1 + shift) and classifies them
with the very code `hpcval compare` uses (analysis.compare._cell + classify).
One comparison per trial, so Holm leaves p unchanged.

    .venv/bin/python benchmarks/calibration.py [--trials 1000]
"""
import argparse
import math

import numpy as np

from hpcval.analysis import compare

SCENARIOS = [
    # name, shift, cov, runs per side, target
    ('no shift', 0.00, 0.03, 10, 'REGRESSION <= 7 %'),
    ('10 % slower', 0.10, 0.03, 10, 'REGRESSION >= 95 %'),
    ('2 % slower', 0.02, 0.03, 10, 'EQUIVALENT >= 80 %'),
    ('2 % slower', 0.02, 0.03, 20, 'EQUIVALENT >= 80 %'),
    ('2 % slower', 0.02, 0.03, 30, 'EQUIVALENT >= 80 %'),
    ('2 % slower', 0.02, 0.01, 10, 'EQUIVALENT >= 80 %'),
]


def run(shift, cov, n, trials, delta=0.05, alpha=0.05, seed=0):
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(math.log(1 + cov ** 2))
    counts = {'default': {}, 'strict': {}}
    for t in range(trials):
        base = 100 * np.exp(rng.normal(-sigma ** 2 / 2, sigma, n))
        cand = 100 * (1 + shift) * np.exp(rng.normal(-sigma ** 2 / 2, sigma, n))
        cell = compare._cell(base, cand, 'lower', delta, seed=t)
        for rule, strict in (('default', False), ('strict', True)):
            v = compare.classify(cell['ratio'], cell['ci_lo'], cell['ci_hi'], cell['ci90_lo'],
                                 cell['ci90_hi'], cell['p'], 'lower', delta, alpha, strict)
            counts[rule][v] = counts[rule].get(v, 0) + 1
    return {rule: {v: c / trials for v, c in d.items()} for rule, d in counts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--trials', type=int, default=1000)
    args = ap.parse_args()
    print('| scenario | CoV | runs/side | REGRESSION | EQUIVALENT | INCONCLUSIVE | REGRESSION (strict) | target |')
    print('|---|---:|---:|---:|---:|---:|---:|---|')
    for i, (name, shift, cov, n, target) in enumerate(SCENARIOS):
        r = run(shift, cov, n, args.trials, seed=1000 * i)
        d, s = r['default'], r['strict']
        print(f'| {name} | {cov:.0%} | {n} | {d.get("REGRESSION", 0):.1%} | {d.get("EQUIVALENT", 0):.1%} '
              f'| {d.get("INCONCLUSIVE", 0):.1%} | {s.get("REGRESSION", 0):.1%} | {target} |', flush=True)
    print(f'\n{args.trials} trials per scenario, delta = 5 %, alpha = 0.05')


if __name__ == '__main__':
    main()
