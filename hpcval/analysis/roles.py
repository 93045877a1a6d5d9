"""What each check is, and so how the report analyses it (docs/data-model.md, "Roles").

- application: strong or weak scaling of its figure of merit (speedup,
  efficiency, Karp-Flatt, the Amdahl fit, node-hours);
- kernel: the rate per node against the node's measured limit; no speedup;
- network: curves by fabric and node count, variant ratios; no efficiency;
- io: rates per target against node count, as a share of the ramdisk's;
- environment: pass or fail with the reason.

A check declares its role (the loggable variable ``role``); an override
(``hpcval report --role CHECK=ROLE``, a campaign's ``report.roles``) wins.  A
check that declares none is guessed an application when it sweeps node counts
and measures exactly one time or rate; anything else gets per-case tables
only (role ``cases``).
"""
import pandas as pd

from hpcval.analysis import units
from hpcval.reframe_facts import NO_ROLE as CASES, ROLES
#: how a check got its role, as the report says it
DECLARED, SET, GUESSED, NONE = 'declared', 'set', 'guessed', 'none'


def _declared(g):
    if 'role' not in g.columns:
        return ''
    named = [str(v) for v in g['role'].dropna().unique() if str(v) in ROLES]
    return named[0] if len(named) == 1 else ''


def _guess(g):
    '''application when the check sweeps node counts and measures one time or rate.'''
    if 'num_nodes' not in g.columns or g['num_nodes'].dropna().nunique() < 2:
        return CASES
    pvars = g[['pvar', 'unit']].dropna(subset=['pvar']).drop_duplicates('pvar')
    timed = [p for p, u in zip(pvars['pvar'], pvars['unit']) if units.kind(u)]
    return 'application' if len(timed) == 1 else CASES


def assign(frame, overrides=None):
    '''check -> role and how it was found: one row per check (columns check, role, how).'''
    overrides = overrides or {}
    rows = []
    if 'check' in frame.columns and not frame.empty:
        for check, g in frame.groupby('check', observed=True, sort=True):
            check = str(check)
            if check in overrides:
                role, how = overrides[check], SET
            elif _declared(g):
                role, how = _declared(g), DECLARED
            else:
                role = _guess(g)
                how = GUESSED if role != CASES else NONE
            rows.append({'check': check, 'role': role, 'how': how})
    return pd.DataFrame(rows, columns=['check', 'role', 'how'])


def checks_of(table, role):
    '''The checks that ``assign`` gave ``role``.'''
    return set(table.loc[table['role'] == role, 'check'])


def parse(specs):
    '''["CHECK=ROLE", ...] -> {check: role}; ValueError names the bad one.'''
    out = {}
    for spec in specs or ():
        check, sep, role = str(spec).partition('=')
        if not sep or not check.strip() or role.strip() not in ROLES + (CASES,):
            raise ValueError(f'{spec!r} is not CHECK=ROLE with ROLE one of {", ".join(ROLES + (CASES,))}')
        out[check.strip()] = role.strip()
    return out
