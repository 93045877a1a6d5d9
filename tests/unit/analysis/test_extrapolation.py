"""Extra-P's performance-model extrapolation, checked on laws with known answers.

Runs are drawn from a known law T(N) with multiplicative normal noise (2 %),
5 runs per node count; every check is a median or a share over many seeded
experiments, so that a lucky draw can neither pass nor fail it.
"""
import itertools
import time
import warnings
from collections import Counter

import numpy as np
import pytest

from hpcval.analysis import extrapolation as ex
from hpcval.analysis.scaling import amdahl_fit

pytestmark = pytest.mark.unit

NODES = [1, 2, 3, 4, 6, 8]
FAR = np.array([16, 32, 64])
NOISE = 0.02


def strong(n):
    return 5 + 100 / np.asarray(n, float)


def weak(n):
    return 20 + 10 * np.log2(np.asarray(n, float))


def _runs(law, nodes, seed, noise=NOISE, k=5):
    rng = np.random.default_rng(seed)
    return {n: law(n) * (1 + noise * rng.standard_normal(k)) for n in nodes}


def _means(runs):
    return np.array(list(runs), float), np.array([np.mean(v) for v in runs.values()])


def _rel(pred, true):
    return np.abs(np.asarray(pred) / true - 1)


# the method itself

def test_building_blocks_are_extra_p_s():
    assert len(ex.BUILDING_BLOCKS) == 42 + 23 + 19 == len(set(ex.BUILDING_BLOCKS))
    assert ex.BUILDING_BLOCKS[:3] == ((0, 1, 1), (0, 1, 2), (1, 4, 0))
    assert (-1, 1, 0) in ex.BUILDING_BLOCKS and (0, 1, -1) in ex.BUILDING_BLOCKS


def test_log_blocks_are_left_out_only_where_not_finite():
    '''log2(1) = 0 to a negative power: out when 1 is measured or requested, in otherwise.'''
    with_one = ex._Search(np.array([1., 2, 4, 8]))
    without = ex._Search(np.array([2., 4, 8, 16]))
    asked_for_one = ex._Search(np.array([2., 4, 8, 16]), targets=[1])
    negative_log = {b for b in ex.BUILDING_BLOCKS if b[2] < 0}
    assert not negative_log & set(with_one.blocks)
    assert negative_log <= set(without.blocks)
    assert not negative_log & set(asked_for_one.blocks)
    # positive log powers stay: log2(1)^1 = 0 is finite
    assert (0, 1, 1) in with_one.blocks


def _brute_force(p, y, gain):
    '''Extra-P's selection written out: refit without each point, SMAPE of the
    held-out predictions, epsilon rule on the full fit, the constant first;
    then this module's additions, the VIF limit and the two-term gain.'''
    def columns(terms):
        return np.column_stack([np.ones_like(p)] + [ex.term_values(b, p) for b in terms])

    def loo_smape(x):
        errs = []
        for i in range(len(p)):
            keep = np.arange(len(p)) != i
            c = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
            guess = x[i] @ c
            errs.append(2 * abs(y[i] - guess) / (abs(y[i]) + abs(guess)))
        return np.mean(errs)

    def valid(x):
        if x.shape[1] == 3:           # the pair's terms: variance inflation 1 / (1 - corr^2)
            corr = np.corrcoef(x[:, 1], x[:, 2])[0, 1]
            if corr ** 2 >= 1 or 1 / (1 - corr ** 2) > ex.MAX_VIF:
                return False
        c = np.linalg.lstsq(x, y, rcond=None)[0]
        return all(c[k] != 0 and np.max(np.abs(c[k] * x[:, k]) / np.abs(y)) >= ex.EPSILON
                   for k in range(1, x.shape[1]))

    blocks = [b for b in ex.BUILDING_BLOCKS if np.isfinite(ex.term_values(b, p)).all()]
    best = {1: (np.inf, None), 2: (np.inf, None)}
    hypotheses = [(b,) for b in blocks]
    if len(p) >= ex.TWO_TERM_POINTS:
        hypotheses += list(itertools.combinations(blocks, 2))
    for terms in hypotheses:
        x = columns(terms)
        if np.linalg.matrix_rank(x) < x.shape[1] or not valid(x):
            continue
        s = loo_smape(x)
        if s < best[len(terms)][0]:
            best[len(terms)] = (s, terms)
    pick = best[2] if best[1][0] / best[2][0] >= gain else best[1]
    constant = np.mean(2 * np.abs(y - y.mean()) / (np.abs(y) + abs(y.mean())))
    return pick if pick[0] < constant else (constant, ())


@pytest.mark.parametrize('nodes, gain, seed, size', [([1, 2, 4, 8], ex.TWO_TERM_GAIN, 0, 1),
                                                     ([1, 2, 4, 8], ex.TWO_TERM_GAIN, 1, 1),
                                                     ([1, 2, 3, 4, 8], 1.0, 0, 2),
                                                     ([2, 3, 4, 6, 8], 1.0, 1, 2),
                                                     ([2, 3, 4, 6, 8], ex.TWO_TERM_GAIN, 0, 1),
                                                     ([2, 3, 4, 6, 8], ex.TWO_TERM_GAIN, 1, 2)])
def test_closed_form_selection_matches_refitting(nodes, gain, seed, size):
    '''The hat-matrix LOO and the vectorised search choose what refitting every
    hypothesis without each point chooses, with the same SMAPE and coefficients
    (``size``: terms chosen; on 2-8 nodes, seed 0, the gain keeps the one-term
    model where the plain rule takes a two-term one).'''
    p, y = _means(_runs(lambda n: 10 + 50 / n + 2 * np.log2(n), nodes, seed, noise=0.03))
    smape, terms = _brute_force(p, y, gain)
    m = ex.select(p, y, gain=gain)
    assert m.terms == terms and len(terms) == size and m.smape == pytest.approx(smape, rel=1e-6)
    x = np.column_stack([np.ones_like(p)] + [ex.term_values(b, p) for b in terms])
    assert m.coefficients == pytest.approx(np.linalg.lstsq(x, y, rcond=None)[0], rel=1e-6)


def test_selection_is_fast():
    p, y = _means(_runs(strong, NODES, 0))
    assert len(ex._Search(p, FAR)) > 1500                 # one- and two-term hypotheses
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        ex.select(p, y, FAR)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.05


def test_model_text_form_and_prediction():
    m = ex.Model(((-1, 1, 0), (0, 1, 1)), (7.91, 52.3, 1.04), 0.01)
    assert m.text() == '7.91 + 52.3·p^(-1) + 1.04·log2(p)'
    assert m.form() == 'c0 + c1·p^(-1) + c2·log2(p)'
    assert m.predict([1, 4]) == pytest.approx([7.91 + 52.3, 7.91 + 52.3 / 4 + 2 * 1.04])
    m = ex.Model(((1, 2, 2), (3, 1, 0)), (1.0, -2.5, 0.25), 0.0)
    assert m.text(2) == '1 - 2.5·p^(1/2)·log2(p)^2 + 0.25·p^3'
    assert ex.Model((), (3.0,), 0.0).form() == 'c0'


# laws with known answers

def test_strong_scaling_law():
    '''T = 5 + 100/N measured on 1-8 nodes: p^(-1) chosen, 16-64 nodes within a few %.'''
    errs, forms = [], Counter()
    for seed in range(20):
        p, y = _means(_runs(strong, NODES, seed))
        m = ex.select(p, y, FAR)
        forms[(-1, 1, 0) in m.terms] += 1
        errs.append(_rel(m.predict(FAR), strong(FAR)))
    assert forms[True] >= 14
    assert np.all(np.median(errs, axis=0) < 0.05)


def test_log_term_found_where_amdahl_fails():
    '''T = 20 + 100/N + 5 log2 N.  At 2 % noise the log term cannot be told
    from the 1/N term on 1-8 nodes (benchmarks/extrapolation_laws.py: ~23 %
    off at 64 nodes, no better than Amdahl), so this measures 1-32 nodes
    (10 counts) and predicts at 64, 128, 256 (2x-8x past): the PMNF within
    5, 8 and 12 % (medians of 30 experiments; 2.5, 5.4 and 8.9 % over the
    benchmark's 200), the non-negative Amdahl fit T = a + b/p
    (scaling.amdahl_fit) off by 15-35 % (it cannot rise again; 33 % at 8x).'''
    def law(n):
        return 20 + 100 / np.asarray(n, float) + 5 * np.log2(n)
    nodes, far = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32], np.array([64, 128, 256])
    pmnf, amdahl = [], []
    for seed in range(30):
        p, y = _means(_runs(law, nodes, seed))
        pmnf.append(_rel(ex.select(p, y, far).predict(far), law(far)))
        a, b, _ = amdahl_fit(p, y)
        amdahl.append(_rel(a + b / far, law(far)))
    pmnf, amdahl = np.median(pmnf, axis=0), np.median(amdahl, axis=0)
    assert np.all(pmnf < [0.05, 0.08, 0.12]), pmnf
    assert np.all((amdahl > 0.15) & (amdahl < 0.35))
    assert np.all(amdahl > 3 * pmnf)


def test_weak_scaling_law():
    '''T = 20 + 10 log2 N: the model c0 + c1·log2(p), predictions within 2 %.'''
    errs, forms = [], Counter()
    for seed in range(20):
        p, y = _means(_runs(weak, NODES, seed))
        m = ex.select(p, y, FAR)
        forms[m.form()] += 1
        errs.append(_rel(m.predict(FAR), weak(FAR)))
    form, count = forms.most_common(1)[0]
    assert form == 'c0 + c1·log2(p)' and count >= 12
    assert np.all(np.median(errs, axis=0) < 0.02)


def test_constant_rate():
    '''R = 3000/s on every node count (better = higher): the constant model of
    1/R, predictions the rate, the interval around it.'''
    forms, errs, inside = Counter(), [], 0
    for seed in range(12):
        r = ex.extrapolate(_runs(lambda n: 3000.0 + 0 * n, NODES, seed), FAR, better='higher', n_boot=100,
                           seed=seed)
        assert r.inverted
        forms[r.model.form()] += 1
        pred = np.array([row['predicted'] for row in r.rows])
        errs.append(_rel(pred, 3000.0))
        inside += all(row['lo'] <= row['predicted'] <= row['hi'] and row['lo'] < 3000 < row['hi']
                      for row in r.rows)
    form, count = forms.most_common(1)[0]
    assert form == 'c0' and count >= 6
    assert np.all(np.median(errs, axis=0) < 0.02)
    assert inside >= 11


def test_rate_is_modelled_as_its_inverse():
    '''R = 1/T with T = 5 + 100/N: the model of 1/R is the time law; the interval ends swap back.'''
    r = ex.extrapolate(_runs(lambda n: 1 / strong(n), NODES, 3), FAR, better='higher', n_boot=100)
    assert (-1, 1, 0) in r.model.terms
    for row, t in zip(r.rows, strong(FAR)):
        assert row['predicted'] == pytest.approx(1 / r.model.predict(row['nodes'])[0])
        assert row['predicted'] == pytest.approx(1 / t, rel=0.1)
        # hi may be inf: a replicate whose time-like prediction reaches 0 leaves the rate unbounded
        assert row['lo'] < row['mean_lo'] <= row['predicted'] <= row['mean_hi'] <= row['hi']


def test_prediction_interval_coverage():
    '''Over 40 experiments, fresh single runs of the true law at 4 (inside
    the measured range: there the run noise is most of the interval) and at
    16-64 nodes fall inside the 95 % interval at least 85 % of the time; the
    interval widens with the distance from the measured range.'''
    rng = np.random.default_rng(12345)
    targets = np.array([4, 16, 32, 64])
    cover, width, mean_width = [], [], []
    for seed in range(40):
        r = ex.extrapolate(_runs(strong, NODES, 100 + seed), targets, n_boot=100, seed=seed)
        lo = np.array([row['lo'] for row in r.rows])
        hi = np.array([row['hi'] for row in r.rows])
        fresh = strong(targets) * (1 + NOISE * rng.standard_normal((25, len(targets))))
        cover.append(((fresh >= lo) & (fresh <= hi)).mean(axis=0))
        width.append((hi - lo) / strong(targets))
        mean_width.append((np.array([row['mean_hi'] - row['mean_lo'] for row in r.rows])) / strong(targets))
    cover, width = np.mean(cover, axis=0), np.median(width, axis=0)
    assert np.all(cover >= 0.85), cover
    assert np.all(np.diff(width) > 0), width
    assert np.all(width > np.median(mean_width, axis=0))      # one run varies more than the mean


def test_bootstrap_is_seeded():
    runs = _runs(strong, NODES, 7)
    a, b = ex.extrapolate(runs, FAR, n_boot=50, seed=1), ex.extrapolate(runs, FAR, n_boot=50, seed=1)
    c = ex.extrapolate(runs, FAR, n_boot=50, seed=2)
    assert a.rows == b.rows and a.rows != c.rows
    none = ex.extrapolate(runs, FAR, n_boot=0)
    assert np.isnan(none.rows[0]['lo']) and none.rows[0]['predicted'] == a.rows[0]['predicted']


# edge cases

def test_fewer_than_three_node_counts_give_no_model():
    r = ex.extrapolate({1: [10.0, 10.2], 2: [6.0, 6.1], 4: [np.nan, np.inf]}, [8, 32])
    assert r.model is None and '3' in r.why and r.held_out is None
    assert r.nodes_measured == [1, 2] and r.measured_max == 2 and r.dropped == 2
    assert all(np.isnan(row['predicted']) for row in r.rows)
    assert r.rows[1]['flag'].startswith('beyond 10x')
    empty = ex.extrapolate({}, [8])
    assert empty.model is None and empty.nodes_measured == [] and empty.rows[0]['range'] == ''
    with pytest.raises(ValueError):
        ex.select([1, 2], [3.0, 2.0])


def test_bad_values_are_dropped_without_warnings():
    runs = {n: list(v) for n, v in _runs(strong, NODES, 5).items()}
    runs[2] += [np.nan, np.inf, -np.inf, 0.0, -3.0]
    runs[float('nan')] = [1.0]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        r = ex.extrapolate(runs, FAR, n_boot=50)
    assert r.dropped == 6 and r.model is not None and r.nodes_measured == NODES
    assert all(np.isfinite(row['predicted']) for row in r.rows)
    with pytest.raises(ValueError):
        ex.extrapolate(runs, [0, 16])
    with pytest.raises(ValueError):
        ex.extrapolate(runs, FAR, better='faster')


def test_range_and_ten_times_flag():
    r = ex.extrapolate(_runs(strong, [2, 3, 4, 6, 8], 0), [1, 3, 8, 16, 80, 81], n_boot=20)
    rows = {row['nodes']: row for row in r.rows}
    assert [rows[n]['range'] for n in (1, 3, 8, 16)] == ['below the measured range', 'interpolation',
                                                         'interpolation', 'extrapolation']
    assert rows[3]['measured'] and not rows[16]['measured']
    assert rows[16]['factor'] == 2 and rows[80]['flag'] == ''          # 10x exactly: still allowed
    assert rows[81]['flag'] == 'beyond 10x the largest measured size (8): not a forecast'
    assert ex.MAX_FACTOR == 10


def test_held_out_error():
    exact = {n: [strong(n)] * 3 for n in NODES}
    r = ex.extrapolate(exact, FAR, n_boot=0)
    assert r.held_out['nodes'] == 8 and r.held_out['rel_error'] == pytest.approx(0, abs=1e-9)
    noisy = ex.extrapolate(_runs(strong, NODES, 1), FAR, n_boot=0)
    h = noisy.held_out
    assert h['rel_error'] == pytest.approx(h['predicted'] / h['measured'] - 1)
    assert h['measured'] == pytest.approx(np.mean(_runs(strong, NODES, 1)[8]))
    assert 0 < abs(h['rel_error']) < 0.1
    assert ex.extrapolate(_runs(strong, [1, 2, 4], 1), FAR, n_boot=0).held_out is None
