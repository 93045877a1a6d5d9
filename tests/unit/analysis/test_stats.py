"""Every formula against values computed by hand."""
import math

import numpy as np
import pytest

from hpcval.analysis import stats


@pytest.mark.parametrize('n,ranks', [
    (10, (2, 10)),    # z sqrt(10) = 6.198: ceil(1.901) = 2, ceil(1 + 8.099) = 10
    (20, (6, 16)),    # z sqrt(20) = 8.765: ceil(5.617) = 6, ceil(15.383) = 16
    (100, (41, 61)),  # z sqrt(100) = 19.6: ceil(40.2) = 41, ceil(60.8) = 61
    (6, (1, 6)),      # ceil(0.599) = 1, ceil(6.40) = 7 -> clipped to 6
])
def test_median_ci_ranks(n, ranks):
    assert stats.median_ci_ranks(n) == ranks


def test_median_ci_picks_order_statistics():
    x = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]          # sorted 1..10
    assert stats.median_ci(x) == (5.5, 2.0, 10.0, 10)


def test_median_ci_too_few_runs_has_no_interval():
    med, lo, hi, n = stats.median_ci([3, 1, 2, np.nan, np.inf])
    assert (med, n) == (2.0, 3) and math.isnan(lo) and math.isnan(hi)


def test_cov_and_robust_cov():
    x = [2, 4, 4, 4, 5, 5, 7, 9]                 # mean 5, sample sd sqrt(32/7)
    assert stats.cov(x) == pytest.approx(math.sqrt(32 / 7) / 5)
    # numpy linear percentiles: Q1 = 4, Q3 = 5.5, median 4.5
    assert stats.robust_cov(x) == pytest.approx(1.5 / 4.5)


def test_tukey_counts_not_drops():
    x = [10, 11, 10, 12, 11, 10, 11, 40]         # Q1 10, Q3 11.25, upper fence 13.125
    assert stats.tukey_outliers(x) == 1
    assert stats.tukey_outliers([1, 2, 3, 4, 5]) == 0


def test_clopper_pearson_known_values():
    lo, hi = stats.clopper_pearson(2, 10)
    assert lo == pytest.approx(0.02521, abs=1e-5) and hi == pytest.approx(0.55610, abs=1e-5)
    lo, hi = stats.clopper_pearson(0, 10)           # (0, 1 - 0.025^(1/10))
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** 0.1)
    assert all(math.isnan(v) for v in stats.clopper_pearson(0, 0))


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    adj = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adj = stats.holm([0.5, np.nan, 0.9])
    assert adj[0] == pytest.approx(1.0) and math.isnan(adj[1]) and adj[2] == pytest.approx(1.0)


def test_ratio_ci_brackets_the_truth():
    rng = np.random.default_rng(3)
    a = 110 * np.exp(rng.normal(0, 0.03, 30))
    b = 100 * np.exp(rng.normal(0, 0.03, 30))
    ratio, lo, hi = stats.ratio_ci(a, b)
    assert lo < 1.10 < hi and lo < ratio < hi and hi - lo < 0.05
    assert stats.ratio_ci([5, 5], [5, 5]) == (1.0, 1.0, 1.0)


def test_mann_whitney_and_fisher():
    assert stats.mann_whitney([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)   # exact: 2/20
    assert stats.mann_whitney([1, 1], [1, 1]) == 1.0
    # 5/5 failed vs 0/5: p = 2 / C(10,5) = 2/252
    assert stats.fisher(5, 5, 0, 5) == pytest.approx(2 / 252)
    assert stats.fisher(5, 5, 0, 5, 'greater') == pytest.approx(1 / 252)


def test_runs_needed_grows_as_the_gap_shrinks():
    rng = np.random.default_rng(0)
    a, b = np.exp(rng.normal(0, 0.05, 10)), np.exp(rng.normal(0, 0.05, 10))
    assert stats.runs_needed(a, b, 0.01, difference=False) > stats.runs_needed(a, b, 0.05, difference=False) > 0
    assert math.isnan(stats.runs_needed(a, b, 0))


def test_nearly_constant_samples_still_get_an_interval():
    # a shaped link: the same rate to 0.01 MB/s in nearly every run; BCa's
    # acceleration is undefined there, the percentile interval is not
    a = [119.53, 119.53, 119.53, 119.52, 119.54, 119.54]
    b = [119.39, 119.48, 119.53, 119.53, 119.53, 119.53]
    ratio, lo, hi = stats.ratio_ci(a, b)
    assert ratio == 1.0 and 0.999 < lo <= 1.0 <= hi < 1.002


def test_runs_needed_counts_the_slow_runs_the_iqr_hides():
    # a fresh machine's hsn bandwidth: four fast runs, two at a third of the rate;
    # the candidate at half.  The IQR of six sees no spread; the test cannot decide
    base = np.array([2500., 2550., 2480., 2520., 800., 850.])
    cand = np.array([1200., 1210., 1190., 1205., 1195., 1200.])
    gap = abs(math.log(np.median(cand) / np.median(base))) - math.log(1.1)
    assert stats.runs_needed(cand, base, gap) > 6
    assert stats.runs_needed(cand, base, gap, family=7) > stats.runs_needed(cand, base, gap)


def test_runs_needed_is_at_least_what_holm_over_the_family_allows():
    # steady values: the width rule alone says 2; complete separation of n a
    # side gives p = 2 / C(2n, n), which must beat alpha / cells
    a, b = np.array([1.0, 1.001, 0.999]), np.array([2.0, 2.001, 1.999])
    assert stats.runs_needed(a, b, 0.5, family=1) == 4          # 2/C(8,4) = 0.029 < 0.05
    assert stats.runs_needed(a, b, 0.5, family=7) == 6          # 2/C(12,6) = 0.0022 < 0.05/7
    assert stats.min_exact_p(6) == pytest.approx(2 / 924)
