"""The statistics of docs/statistics.md, on top of scipy.stats.

Hand-written only where scipy has nothing: the order-statistic CI of the
median (Le Boudec's ranks) and Holm's step-down adjustment.
"""
import math
import warnings

import numpy as np
from scipy import stats

TOO_FEW_RUNS = 6          # below this a median CI is not given, and the row says so


def _clean(x):
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def median_ci_ranks(n, conf=0.95):
    '''1-based ranks (lo, hi) of the nonparametric CI of the median.

    lo = ceil((n - z sqrt(n)) / 2), hi = ceil(1 + (n + z sqrt(n)) / 2),
    clipped to 1..n (Le Boudec; Hoefler & Belli rule 5).
    '''
    z = stats.norm.ppf(0.5 + conf / 2)
    lo = math.ceil((n - z * math.sqrt(n)) / 2)
    hi = math.ceil(1 + (n + z * math.sqrt(n)) / 2)
    return max(lo, 1), min(hi, n)


def median_ci(x, conf=0.95):
    '''(median, lo, hi, n); lo/hi are NaN below TOO_FEW_RUNS values.'''
    x = np.sort(_clean(x))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    med = float(np.median(x))
    if n < TOO_FEW_RUNS:
        return med, math.nan, math.nan, n
    lo, hi = median_ci_ranks(n, conf)
    return med, float(x[lo - 1]), float(x[hi - 1]), n


def cov(x):
    '''Coefficient of variation s / mean (sample standard deviation).'''
    x = _clean(x)
    if len(x) < 2 or np.mean(x) == 0:
        return math.nan
    return float(np.std(x, ddof=1) / np.mean(x))


def robust_cov(x):
    '''IQR / median: a CoV that one wild run cannot inflate.'''
    x = _clean(x)
    if len(x) < 2 or np.median(x) == 0:
        return math.nan
    return float(stats.iqr(x) / np.median(x))


def tukey_outliers(x, k=1.5):
    '''How many values lie outside [Q1 - k IQR, Q3 + k IQR]: counted, never dropped.'''
    x = _clean(x)
    if len(x) < 4:
        return 0
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    return int(np.sum((x < q1 - k * iqr) | (x > q3 + k * iqr)))


def clopper_pearson(k, n, conf=0.95):
    '''Exact binomial CI of a failure proportion k/n.'''
    if n == 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=conf, method='exact')
    return float(ci.low), float(ci.high)


def holm(pvalues):
    '''Holm step-down adjusted p-values (NaN stays NaN and does not count).'''
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind='stable')]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def mann_whitney(a, b):
    '''Two-sided Mann-Whitney U p-value (NaN when a side is empty or all equal).'''
    a, b = _clean(a), _clean(b)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative='two-sided').pvalue)


def _median_ratio(a, b, axis=-1):
    return np.median(a, axis=axis) / np.median(b, axis=axis)


BCA_MAX_N = 500     # BCa's jackknife is O(n^2); beyond this the percentile CI is as good


def _large_sample_ratio_ci(a, b, conf):
    '''Both samples large: combine the order-statistic CIs of the two medians on the log scale.

    Each median's standard error is read off its own distribution-free CI;
    the log ratio's is their root sum of squares.  Asymptotically exact, and
    O(n log n) where resampling 10^4 values 2000 times would take seconds.
    '''
    z = stats.norm.ppf(0.5 + conf / 2)
    se = []
    for x in (np.log(a), np.log(b)):
        lo, hi = median_ci_ranks(len(x), 0.95)
        xs = np.sort(x)
        se.append((xs[hi - 1] - xs[lo - 1]) / (2 * stats.norm.ppf(0.975)))
    centre = math.log(np.median(a) / np.median(b))
    half = z * math.hypot(*se)
    return math.exp(centre - half), math.exp(centre + half)


def ratio_ci(a, b, conf=0.95, n_resamples=2000, seed=0, method='BCa'):
    '''median(a) / median(b) with a bootstrap CI: (ratio, lo, hi).

    BCa needs some spread; with identical values or too few runs it falls
    back to NaN bounds rather than an interval that pretends.  When both
    samples exceed BCA_MAX_N the interval comes from the medians' order
    statistics instead (see _large_sample_ratio_ci); BCa's jackknife would
    cost n^2 there and its bias correction is negligible.
    '''
    a, b = _clean(a), _clean(b)
    if len(a) == 0 or len(b) == 0 or np.median(b) == 0:
        return math.nan, math.nan, math.nan
    ratio = float(np.median(a) / np.median(b))
    if len(a) < 2 or len(b) < 2:
        return ratio, math.nan, math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return ratio, ratio, ratio
    if min(len(a), len(b)) > BCA_MAX_N and a.min() > 0 and b.min() > 0:
        return (ratio, *_large_sample_ratio_ci(a, b, conf))
    big = max(len(a), len(b))
    lo, hi = _bootstrap(a, b, conf, n_resamples, seed, method if big <= BCA_MAX_N else 'percentile')
    if not (math.isfinite(lo) and math.isfinite(hi)) and method == 'BCa':
        # BCa's acceleration is undefined when nearly every jackknife ratio is
        # the same (a rate-limited link gives one value in almost every run):
        # the percentile interval still holds there
        lo, hi = _bootstrap(a, b, conf, n_resamples, seed, 'percentile')
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ratio, math.nan, math.nan
    return ratio, lo, hi


def _bootstrap(a, b, conf, n_resamples, seed, method):
    big = max(len(a), len(b))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')       # degenerate-distribution warnings: we check the result
        res = stats.bootstrap((a, b), _median_ratio, vectorized=True, paired=False,
                              confidence_level=conf, n_resamples=n_resamples, method=method,
                              batch=max(1, int(4e6 // big)), rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def fisher(k1, n1, k2, n2, alternative='two-sided'):
    '''Fisher exact test p-value of k1/n1 against k2/n2 ('greater': k1/n1 is higher).'''
    if n1 == 0 or n2 == 0:
        return math.nan
    return float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative=alternative).pvalue)


def min_exact_p(n):
    '''The smallest two-sided Mann-Whitney p-value with n runs a side: 2 / C(2n, n) (complete separation).'''
    return 2 / math.comb(2 * n, n) if n > 0 else 1.0


def runs_needed(a, b, gap_log, conf=0.90, alpha=0.05, family=1, power=0.8, difference=True):
    '''Runs per side likely to decide a cell: the largest of three rules.

    - Width: the CI of log(median ratio) narrower than ``gap_log`` (the distance
      between the observed log ratio and the edge of +-delta),
      n = 2 (z 1.2533 s / gap)^2, s the pooled standard deviation of the log
      values, 1.2533 the median's asymptotic efficiency.
    - Rank test (Noether): n = (z_{1-a/2} + z_power)^2 / (6 (A - 1/2)^2), A the
      observed probability that a candidate run exceeds a baseline run and
      a = alpha / family (Holm's first step).  A few slow baseline runs leave
      the IQR small but pull A towards 1/2: this is the rule they bind.
    - Exact floor: complete separation of n a side must pass Holm,
      2 / C(2n, n) < alpha / family.
    The last two only with ``difference`` (the ratio lies beyond delta, the
    cell heads for REGRESSION or IMPROVEMENT); inside delta it heads for
    EQUIVALENT, which needs the width alone.
    '''
    a, b = _clean(a), _clean(b)
    if gap_log <= 0 or len(a) < 2 or len(b) < 2 or min(a.min(), b.min()) <= 0:
        return math.nan
    level = alpha / max(1, family)
    n = 2
    while difference and min_exact_p(n) >= level:
        n += 1
    la, lb = np.log(a), np.log(b)
    s = math.sqrt(((len(la) - 1) * la.var(ddof=1) + (len(lb) - 1) * lb.var(ddof=1)) / (len(la) + len(lb) - 2))
    if s > 0:
        z = stats.norm.ppf(0.5 + conf / 2)
        n = max(n, int(math.ceil(2 * (z * 1.2533 * s / gap_log) ** 2)))
    if not difference:
        return n
    auc = (np.sum(a[:, None] > b[None, :]) + 0.5 * np.sum(a[:, None] == b[None, :])) / (len(a) * len(b))
    if 0 < auc < 1 and auc != 0.5:
        zz = stats.norm.ppf(1 - level / 2) + stats.norm.ppf(power)
        n = max(n, int(math.ceil(zz ** 2 / (6 * (auc - 0.5) ** 2))))
    elif auc == 0.5:
        return math.inf        # no separation at all: no run count decides it
    return n
