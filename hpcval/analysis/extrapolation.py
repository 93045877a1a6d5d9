"""Performance-model extrapolation of one series over node counts, as Extra-P does it.

Extra-P (Calotoiu et al., "Using automated performance modeling to find
scalability bugs in complex codes", SC13; github.com/extra-p/extrap) is not a
dependency: extrap 4.2.5 pins numpy < 2.  Its published single-parameter
method is implemented here, vectorised so that it can run inside a bootstrap.

p is the node count.  Performance-model normal form (PMNF), one parameter:
  f(p) = c0 + sum_k c_k p^(i_k) log2(p)^(j_k)
with (i, j) = (num/den, j) from Extra-P's Basic modeler building blocks,
`create_default_building_blocks(allow_log_terms=True, allow_negative_exponents=True)`
(the negative exponents are Extra-P's "for strong scaling").  A block that is
not finite at a measured or requested p (log2(1) = 0 to a negative power) is
left out for that series only; Extra-P drops every log term once a point is
<= 1, we are finer.
Hypotheses: the constant; c0 + c1 t for every block t; from 5 distinct node
counts on also c0 + c1 t1 + c2 t2, t1 != t2 (the PMNF with n = 2 terms).
Fewer than 3 node counts: no model.
Coefficients: least squares on the per-node-count means (Extra-P's default measure).
Selection (Extra-P's): leave-one-out cross-validation,
  SMAPE = mean_i 2 |y_i - yhat_(-i)| / (|y_i| + |yhat_(-i)|)
(a fraction here; Extra-P prints it in %), where for least squares in closed
form yhat_(-i) = y_i - e_i / (1 - h_ii), e the residuals and h_ii the leverages
of the fit on all points.  The constant model starts as the best, with its
SMAPE on all points; a hypothesis wins only with a strictly lower SMAPE
(ties: the first in Extra-P's block order).  A hypothesis with a term whose
contribution max_i |c_k t_k(p_i)| / |y_i| is below EPSILON = 0.0005 (or a zero
coefficient) is rejected (Extra-P divides by the measured value, as here).
Not copied: Extra-P's zeroing of a tiny c0 inside each LOO fold.
Added: the best two-term hypothesis replaces the best one-term one only when
  SMAPE(one-term) / SMAPE(two-term) >= TWO_TERM_GAIN = 3
(Extra-P's Refining modeler accepts a refinement at a SMAPE ratio of 1.5).
With ~1 900 two-term hypotheses and 5-6 noisy points the smallest LOO SMAPE
is mostly luck: at 2 % run noise, measured on 1-8 nodes, the plain rule
(gain 1) missed T = 5 + 100/N at 64 nodes by 34 % (median) and 131 % (90th
percentile), gain 3 by 3.8 % and 43 % (benchmarks/extrapolation_laws.py).
Also added: pairs with VIF > MAX_VIF are left out (ill-conditioned).
Rates (better = 'higher') are modelled as the time-like 1/R; predictions and
interval ends are inverted back (lo and hi swap).
"""
import math
from dataclasses import dataclass, field

import numpy as np

#: points between the smallest measured and the largest requested size where a model must stay positive
POSITIVE_GRID = 8
MAX_FACTOR = 10          # past MAX_FACTOR x the largest measured size a prediction is flagged
EPSILON = 0.0005         # Extra-P's minimum term contribution
MIN_POINTS = 3           # distinct node counts below which nothing is modelled
TWO_TERM_POINTS = 5      # distinct node counts from which two-term hypotheses are tried
TWO_TERM_GAIN = 3.0      # a two-term model must cut the best one-term LOO SMAPE by this factor
MAX_VIF = 100            # a pair's second term 99 % explained by the first: ill-conditioned, left out
_COLLINEAR = 1e-7        # a term this close to constant over the measured p adds nothing to c0
_LEVERAGE = 1e-9         # 1 - h_ii below this: one point fixes the fit, its LOO is undefined
_CELLS = 2_000_000       # float64 cells per chunk of replicates x hypotheses x points

_POSITIVE = ((0, 1, 1), (0, 1, 2), (1, 4, 0), (1, 3, 0), (1, 4, 1), (1, 3, 1), (1, 4, 2), (1, 3, 2), (1, 2, 0),
             (1, 2, 1), (1, 2, 2), (2, 3, 0), (3, 4, 0), (2, 3, 1), (3, 4, 1), (4, 5, 0), (2, 3, 2), (3, 4, 2),
             (1, 1, 0), (1, 1, 1), (1, 1, 2), (5, 4, 0), (5, 4, 1), (4, 3, 0), (4, 3, 1), (3, 2, 0), (3, 2, 1),
             (3, 2, 2), (5, 3, 0), (7, 4, 0), (2, 1, 0), (2, 1, 1), (2, 1, 2), (9, 4, 0), (7, 3, 0), (5, 2, 0),
             (5, 2, 1), (5, 2, 2), (8, 3, 0), (11, 4, 0), (3, 1, 0), (3, 1, 1))
_NEGATIVE_LOG = ((0, 1, -1), (0, 1, -2), (-1, 4, -1), (-1, 3, -1), (-1, 4, -2), (-1, 3, -2), (-1, 2, -1),
                 (-1, 2, -2), (-2, 3, -1), (-3, 4, -1), (-2, 3, -2), (-3, 4, -2), (-1, 1, -1), (-1, 1, -2),
                 (-5, 4, -1), (-4, 3, -1), (-3, 2, -1), (-3, 2, -2), (-2, 1, -1), (-2, 1, -2), (-5, 2, -1),
                 (-5, 2, -2), (-3, 1, -1))
_NEGATIVE_POLY = ((-1, 4, 0), (-1, 3, 0), (-1, 2, 0), (-2, 3, 0), (-3, 4, 0), (-4, 5, 0), (-1, 1, 0), (-5, 4, 0),
                  (-4, 3, 0), (-3, 2, 0), (-5, 3, 0), (-7, 4, 0), (-2, 1, 0), (-9, 4, 0), (-7, 3, 0), (-5, 2, 0),
                  (-8, 3, 0), (-11, 4, 0), (-3, 1, 0))
BUILDING_BLOCKS = _POSITIVE + _NEGATIVE_LOG + _NEGATIVE_POLY     # Extra-P's order: first wins a tie


def term_values(block, p):
    '''p^(num/den) * log2(p)^j; inf or nan where that is not finite.'''
    num, den, j = block
    p = np.asarray(p, float)
    with np.errstate(all='ignore'):
        v = p ** (num / den)
        return v * np.log2(p) ** j if j else v


def _term_text(block):
    num, den, j = block
    parts = []
    if num:
        e = f'{num}' if den == 1 else f'{num}/{den}'
        parts.append('p' if (num, den) == (1, 1) else f'p^{e}' if num > 0 and den == 1 else f'p^({e})')
    if j:
        parts.append('log2(p)' if j == 1 else f'log2(p)^{j}' if j > 0 else f'log2(p)^({j})')
    return '·'.join(parts)


@dataclass(frozen=True)
class Model:
    '''One fitted PMNF hypothesis, f(p) = c0 + sum_k c_k t_k(p), p the node count.'''
    terms: tuple             # ((num, den, j), ...), () for the constant
    coefficients: tuple      # (c0, c1, ...)
    smape: float             # LOO-CV SMAPE (a fraction); the constant's is on all points

    def predict(self, p):
        '''f at the node counts p, in the modelled (time-like) space.'''
        p = np.atleast_1d(np.asarray(p, float))
        out = np.full(p.shape, float(self.coefficients[0]))
        for c, block in zip(self.coefficients[1:], self.terms):
            out = out + c * term_values(block, p)
        return out

    def text(self, digits=3):
        '''`7.91 + 52.3·p^(-1) + 1.04·log2(p)`.'''
        out = f'{self.coefficients[0]:.{digits}g}'
        for c, block in zip(self.coefficients[1:], self.terms):
            out += f' {"-" if c < 0 else "+"} {abs(c):.{digits}g}·{_term_text(block)}'
        return out

    def form(self):
        '''`c0 + c1·p^(-1) + c2·log2(p)`: the shape, for grouping series.'''
        return ' + '.join(['c0'] + [f'c{k}·{_term_text(b)}' for k, b in enumerate(self.terms, 1)])


class _Search:
    '''Every hypothesis for one set of node counts, orthonormalised once, so that
    scoring one y, or B bootstrap replicates at once, is a few array products.

    Columns [1, t_a, t_b] become orthonormal [1/sqrt(n), q1, q2] (Gram-Schmidt):
    q1 = u_a / r1, u = t - mean(t); w = u_b - s q1, s = q1.u_b, q2 = w / r2.
    A pair with VIF = 1/(1 - R^2) > MAX_VIF (R^2 of t_b on [1, t_a]) is left out:
    its coefficients cancel each other and its extrapolation is arbitrary.
    Then yhat = ybar + (q1.y) q1 + (q2.y) q2, h_ii = 1/n + q1_i^2 + q2_i^2, and
    c_b = (q2.y) / r2, c_a = ((q1.y) - c_b s) / r1, c0 = ybar - c_a mean(t_a) - c_b mean(t_b).'''

    def __init__(self, p, targets=()):
        p = np.asarray(p, float)
        n = len(p)
        where = np.concatenate([p, np.asarray(targets, float).ravel()])
        blocks = [b for b in BUILDING_BLOCKS if np.isfinite(term_values(b, where)).all()]
        t = np.array([term_values(b, p) for b in blocks]).reshape(len(blocks), n)
        u = t - t.mean(1, keepdims=True)
        r = np.linalg.norm(u, axis=1)
        keep = r > _COLLINEAR * np.maximum(np.linalg.norm(t, axis=1), np.finfo(float).tiny)
        self.blocks = [b for b, k in zip(blocks, keep) if k]
        t, u, r = t[keep], u[keep], r[keep]
        q = u / r[:, None]
        a, b = np.arange(len(t)), np.full(len(t), -1)
        q2, s, r2 = np.zeros_like(q), np.zeros(len(t)), np.ones(len(t))
        if n >= TWO_TERM_POINTS and len(t) > 1:
            pa, pb = np.triu_indices(len(t), 1)
            ps = np.einsum('ij,ij->i', q[pa], u[pb])
            w = u[pb] - ps[:, None] * q[pa]
            w -= np.einsum('ij,ij->i', q[pa], w)[:, None] * q[pa]     # once more: rounding
            pr = np.linalg.norm(w, axis=1)
            ok = pr >= r[pb] / math.sqrt(MAX_VIF)                   # |w| / |u_b| = sqrt(1 - R^2)
            a, b = np.concatenate([a, pa[ok]]), np.concatenate([b, pb[ok]])
            q2 = np.concatenate([q2, w[ok] / pr[ok, None]])
            s, r2 = np.concatenate([s, ps[ok]]), np.concatenate([r2, pr[ok]])
        h = 1 / n + q[a] ** 2 + q2 ** 2
        fine = (1 - h > _LEVERAGE).all(1)
        self.a, self.b, self.q1, self.q2 = a[fine], b[fine], q[a][fine], q2[fine]
        self.single = int((self.b < 0).sum())              # one-term hypotheses come first
        self.s, self.r1, self.r2, self.lev = s[fine], r[a][fine], r2[fine], 1 - h[fine]
        self.t = np.vstack([t, np.zeros((1, n))])          # row -1: the absent second term
        # where a time must stay positive: the targets and the span up to them
        span = [p.min(), max(p.max(), where.max())]
        self.check_at = self.at(np.concatenate([where, np.geomspace(*span, POSITIVE_GRID)]))
        self.mean, self.abs_t = self.t.mean(1), np.abs(self.t)
        self.n = n

    def __len__(self):
        return len(self.a)

    def fit(self, y, gain=None):
        '''Best hypothesis per row of y (B x n, all > 0): index (-1 the constant), smape, c0, c_a, c_b.'''
        y = np.atleast_2d(np.asarray(y, float))
        gain = TWO_TERM_GAIN if gain is None else gain
        step = max(1, _CELLS // max(1, len(self) * self.n))
        with np.errstate(all='ignore'):             # inf and nan are judged below, not warned about
            out = [self._fit(y[i:i + step], gain) for i in range(0, len(y), step)]
        return tuple(np.concatenate(parts) for parts in zip(*out))

    def _fit(self, y, gain):
        rows = np.arange(len(y))
        ybar, ay = y.mean(1), np.abs(y)
        const = np.mean(2 * np.abs(y - ybar[:, None]) / (ay + np.abs(ybar)[:, None]), axis=1)
        if not len(self):
            return np.full(len(y), -1), const, ybar, np.zeros(len(y)), np.zeros(len(y))
        g1, g2 = y @ self.q1.T, y @ self.q2.T                           # B x H
        # in place, B x H x n: d = y - yhat_(-i) = e / (1 - h); then 2 |d| / (|y| + |y - d|)
        d = g1[..., None] * self.q1
        tmp = np.multiply(g2[..., None], self.q2)
        d += tmp
        np.subtract((y - ybar[:, None])[:, None, :], d, out=d)
        d /= self.lev
        np.subtract(y[:, None, :], d, out=tmp)
        np.abs(tmp, out=tmp)
        tmp += ay[:, None, :]
        np.abs(d, out=d)
        d /= tmp
        loo = 2 * d.mean(2)
        cb = g2 / self.r2
        ca = (g1 - cb * self.s) / self.r1
        # Extra-P's epsilon rule: max_i |c t(p_i)| / y_i, the max taken per block first
        top = (self.abs_t[None] / ay[:, None, :]).max(2)                # B x (K + 1)
        ok = (np.isfinite(loo) & (ca != 0) & (np.abs(ca) * top[:, self.a] >= EPSILON)
              & ((self.b < 0) | ((cb != 0) & (np.abs(cb) * top[:, self.b] >= EPSILON))))
        # a time (or time per unit of work) is positive: a hypothesis that predicts
        # one <= 0 at a requested size, or on the way there, describes no program
        c0 = ybar[:, None] - ca * self.mean[self.a] - cb * self.mean[self.b]           # B x H
        lowest = (c0[..., None] + ca[..., None] * self.check_at[self.a] + cb[..., None] * self.check_at[self.b]).min(2)
        ok &= lowest > 0
        loo = np.where(ok, loo, np.inf)
        best = np.argmin(loo[:, :self.single], axis=1)
        if self.single < len(self):
            pair = self.single + np.argmin(loo[:, self.single:], axis=1)
            with np.errstate(divide='ignore', invalid='ignore'):
                ratio = loo[rows, best] / loo[rows, pair]
            best = np.where(ratio >= gain, pair, best)
        win = loo[rows, best] < const                                   # strictly better than the constant
        ca, cb = np.where(win, ca[rows, best], 0.0), np.where(win, cb[rows, best], 0.0)
        bi = np.where(win, best, 0)
        c0 = ybar - ca * self.mean[self.a[bi]] - cb * self.mean[self.b[bi]]
        return np.where(win, best, -1), np.where(win, loo[rows, best], const), c0, ca, cb

    def model(self, idx, smape, c0, ca, cb):
        if idx < 0:
            return Model((), (float(c0),), float(smape))
        terms = [self.blocks[self.a[idx]]] + ([self.blocks[self.b[idx]]] if self.b[idx] >= 0 else [])
        return Model(tuple(terms), tuple(float(c) for c in (c0, ca, cb)[:len(terms) + 1]), float(smape))

    def predict(self, fitted, blocks_at):
        '''Predictions of ``fitted`` (what fit returns) where ``blocks_at`` (from at) holds the blocks' values.'''
        idx, _, c0, ca, cb = fitted
        bi = np.where(idx >= 0, idx, 0)
        ia, ib = self.a[bi], self.b[bi]
        return c0[:, None] + ca[:, None] * blocks_at[ia] + cb[:, None] * blocks_at[ib]

    def at(self, where):
        '''The blocks' values at ``where`` (K+1 x m, the last row zero: the absent second term).'''
        where = np.asarray(where, float)
        return np.vstack([np.array([term_values(b, where) for b in self.blocks]).reshape(-1, len(where)),
                          np.zeros((1, len(where)))])


def select(p, y, targets=(), gain=TWO_TERM_GAIN):
    '''The chosen model for distinct node counts p and their means y (time-like, > 0).
    ``targets``: node counts the model must also be finite at; ``gain``: TWO_TERM_GAIN.'''
    p, y = np.asarray(p, float).ravel(), np.asarray(y, float).ravel()
    if len(p) != len(y) or len(np.unique(p)) != len(p):
        raise ValueError('p must be distinct node counts, one mean y each')
    with np.errstate(invalid='ignore'):
        fine = np.isfinite(p).all() and np.isfinite(y).all() and (p > 0).all() and (y > 0).all()
    if len(p) < MIN_POINTS or not fine:
        raise ValueError(f'need at least {MIN_POINTS} distinct positive node counts with finite positive means')
    search = _Search(p, targets)
    return search.model(*(v[0] for v in search.fit(y[None], gain)))


@dataclass
class Extrapolation:
    '''Rows: per target nodes, predicted, lo, hi (one production run), mean_lo, mean_hi
    (the mean), measured (inside the measured range), factor (target / measured_max),
    range ('interpolation', 'extrapolation', 'below the measured range'), flag (str).'''
    model: Model | None
    why: str
    measured_max: int
    nodes_measured: list
    held_out: dict | None = None
    rows: list = field(default_factory=list)
    inverted: bool = False       # the model is of 1/R (a rate)
    dropped: int = 0             # run values left out: not finite or not positive


def _clean(runs, inverted):
    clean, dropped = {}, 0
    for n, v in runs.items():
        v = np.asarray(v, float).ravel()
        with np.errstate(all='ignore'):
            good = np.isfinite(v) & (v > 0)
        n = float(n) if n is not None else math.nan
        if not (math.isfinite(n) and n > 0):
            dropped += v.size
            continue
        dropped += int((~good).sum())
        if good.any():
            clean[n] = 1 / v[good] if inverted else v[good]
    return dict(sorted(clean.items())), dropped


def _node(n):
    return int(n) if float(n).is_integer() else float(n)


def _resample(clean, n_boot, rng):
    '''B x n bootstrap means: runs resampled within each node count; the spread
    scaled by sqrt(k / (k - 1)), as the bootstrap variance of a mean of k runs
    is (k - 1)/k of the unbiased one.  A single run gives its node count no spread.'''
    out = np.empty((n_boot, len(clean)))
    for col, v in enumerate(clean.values()):
        k, m = len(v), v.mean()
        draws = v[rng.integers(0, k, (n_boot, k))].mean(1)
        # the scaling can push a skewed sample's mean below 0: a time-like mean stays positive
        out[:, col] = np.maximum(m + (draws - m) * (math.sqrt(k / (k - 1)) if k > 1 else 0.0), 1e-6 * m)
    return out


def _run_noise(clean):
    '''Pooled relative deviations of the runs around their node count's mean,
    scaled by sqrt(k / (k - 1)) (deviations from a sample mean are too small).'''
    parts = [(v / v.mean() - 1) * math.sqrt(len(v) / (len(v) - 1)) for v in clean.values() if len(v) > 1]
    return np.concatenate(parts) if parts else np.zeros(1)


def _row(t, nodes):
    '''A target's row before prediction: where it lies against the measured node counts.'''
    if not len(nodes):
        return {'nodes': _node(t), 'predicted': math.nan, 'lo': math.nan, 'hi': math.nan, 'mean_lo': math.nan,
                'mean_hi': math.nan, 'measured': False, 'factor': math.nan, 'range': '', 'flag': ''}
    top = float(nodes[-1])
    factor, inside = float(t / top), bool(nodes[0] <= t <= top)
    flag = (f'beyond {MAX_FACTOR}x the largest measured size ({_node(top)}): not a forecast'
            if factor > MAX_FACTOR else '')
    return {'nodes': _node(t), 'predicted': math.nan, 'lo': math.nan, 'hi': math.nan, 'mean_lo': math.nan,
            'mean_hi': math.nan, 'measured': inside, 'factor': factor,
            'range': 'interpolation' if inside else 'extrapolation' if t > top else 'below the measured range',
            'flag': flag}


def _back(x, inverted):
    '''A time-like value back to the caller's space: 1/x for a rate (inf for x <= 0).'''
    x = np.asarray(x, float)
    if not inverted:
        return x
    with np.errstate(all='ignore'):
        return np.where(x > 0, 1 / x, math.inf)


def extrapolate(runs, targets, better='lower', level=0.95, n_boot=400, seed=0, gain=TWO_TERM_GAIN):
    '''Model ``runs`` ({node_count: run values}) and predict at ``targets``.

    Interval for one production run, from B = n_boot replicates: runs resampled
    within each node count, the model re-selected and refitted (model
    uncertainty included), predicted at each target, each prediction times
    (1 + r) for every pooled relative run deviation r; lo, hi = the
    (1 - level)/2 and (1 + level)/2 percentiles.  mean_lo, mean_hi: the same
    without the run noise.  held_out: selected and fitted without the largest
    node count, predicted there; rel_error = predicted / measured - 1, measured
    the mean there (for a rate 1/mean(1/R), the mean the model sees).'''
    if better not in ('lower', 'higher'):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    if not 0 < level < 1:
        raise ValueError('level must lie in (0, 1)')
    tg = np.asarray(list(targets), float).ravel()
    if not (np.isfinite(tg).all() and (tg > 0).all()):
        raise ValueError('targets must be positive node counts')
    inverted = better == 'higher'
    clean, dropped = _clean(runs, inverted)
    nodes = np.array(list(clean), float)
    top = float(nodes[-1]) if len(nodes) else math.nan
    out = Extrapolation(model=None, why='', measured_max=_node(top) if len(nodes) else 0,
                        nodes_measured=[_node(n) for n in nodes], inverted=inverted, dropped=dropped)
    out.rows = [_row(t, nodes) for t in tg]
    if len(nodes) < MIN_POINTS:
        out.why = (f'{len(nodes)} node count(s) with usable runs: at least {MIN_POINTS} are needed '
                   f'to choose a model')
        return out
    y = np.array([v.mean() for v in clean.values()])
    search = _Search(nodes, tg)
    fitted = search.fit(y[None], gain)
    out.model = search.model(*(v[0] for v in fitted))
    point = out.model.predict(tg)
    if n_boot > 0 and len(tg):
        rng = np.random.default_rng(seed)
        boot = search.predict(search.fit(_resample(clean, n_boot, rng), gain), search.at(tg))
        boot = np.maximum(boot, 0.0)          # a time below 0 is no time: read as 0 (a rate: unbounded)
        noise = _run_noise(clean)
        if len(noise) > 200:
            noise = rng.choice(noise, 200, replace=False)
        single = np.maximum(boot[:, None, :] * (1 + noise[None, :, None]), 0.0).reshape(-1, len(tg))
        q = [50 * (1 - level), 50 * (1 + level)]
        m_lo, m_hi = np.percentile(boot, q, axis=0)
        s_lo, s_hi = np.percentile(single, q, axis=0)
    else:
        m_lo = m_hi = s_lo = s_hi = np.full(len(tg), math.nan)
    if inverted:                              # 1/x reverses the order
        m_lo, m_hi, s_lo, s_hi = m_hi, m_lo, s_hi, s_lo
    for row, *vals in zip(out.rows, point, s_lo, s_hi, m_lo, m_hi):
        row.update(zip(('predicted', 'lo', 'hi', 'mean_lo', 'mean_hi'), (float(_back(v, inverted)) for v in vals)))
        if vals[0] <= 0 and not row['flag']:
            row['flag'] = 'the model predicts a non-positive time there: not a forecast'
    if len(nodes) - 1 >= MIN_POINTS:
        held = _Search(nodes[:-1], nodes[-1:])
        guess = held.model(*(v[0] for v in held.fit(y[None, :-1], gain))).predict(nodes[-1:])[0]
        pred, meas = float(_back(guess, inverted)), float(_back(y[-1], inverted))
        out.held_out = {'nodes': _node(top), 'predicted': pred, 'measured': meas, 'rel_error': pred / meas - 1}
    return out
