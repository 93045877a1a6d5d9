"""Synthetic ReFrame run reports (data_version 4.2) with known scaling, noise and failures.

Tests of the analysis use them to check that it recovers the known values;
benchmarks use them to produce 10 000 - 100 000 test cases for speed runs.

    from benchmarks.synth_reports import generate, truth
    paths = generate(tmp_path, node_counts=(1, 2, 4, 8), runs=200, cov=0.03)
    expected = json.loads((tmp_path / 'truth.json').read_text())

    .venv/bin/python benchmarks/synth_reports.py OUTDIR --cases 100000 --extra-pvars 9 \\
        --cases-per-report 10000

The model, per check x variant x node count N x repeat r (one test case each):

* noise-free time   T(N) = base_time * (s + (1 - s) * N0 / N)        mode 'strong'
                    T(N) = base_time * (1 + s * log2(N / N0))         mode 'weak'
  with s = serial_fraction and N0 the smallest node count;
* measured time     T(N) * variant_factor * X,  X lognormal with mean 1 and
  coefficient of variation ``cov``: sigma = sqrt(log(1 + cov^2)),
  X = exp(sigma * Z - sigma^2 / 2), so median(X) = exp(-sigma^2 / 2);
* pvar ``time`` [s] and ``extra_pvars`` pvars ``rate_<k>`` = (k+1)*1000/time
  [samples/s] from the same draw;
* a case fails with probability fail_rate (or fail_rate_per_node[N]); a case
  whose job_nodelist holds ``bad_node`` fails with bad_node_fail_rate instead.
  A failed case has result 'fail', a fail_phase drawn from run/sanity/
  performance with weights 0.5/0.3/0.2, a fail_reason and no perfvalues.

Only numpy and the standard library: the CLI runs without the analysis package.
"""
import argparse
import hashlib
import json
import math
import re
import sys
import time
import uuid as _uuid
from pathlib import Path

import numpy as np

DATA_VERSION = '4.2'
REFRAME_VERSION = '4.10.4'
FAIL_PHASES = ('run', 'sanity', 'performance')
FAIL_WEIGHTS = (0.5, 0.3, 0.2)
TASKS_PER_NODE = 4
RATE_SCALE = 1000.0            # rate_<k> = (k + 1) * RATE_SCALE / time
EPOCH = 1767225600             # 2026-01-01T00:00:00Z: first session's start
SESSION_GAP = 60.0             # seconds between one session's end and the next start
CASE_OVERHEAD = 2.0            # seconds of scheduling per case, on top of its time
REPORT_NAME = 'report.json'
TRUTH_NAME = 'truth.json'

# Fields a variant may not set: the generator owns them
_RESERVED = {
    'name', 'display_name', 'unique_name', 'short_name', 'hashcode', 'system', 'partition',
    'environ', 'result', 'fail_phase', 'fail_reason', 'run_index', 'session_uuid', 'uuid',
    'job_nodelist', 'num_nodes', 'num_tasks', 'num_tasks_per_node', 'perfvalues', 'fixture',
    'job_completion_time', 'job_completion_time_unix', 'job_submit_time', 'jobid',
    'job_exitcode', 'scaling_mode', 'workload',
}
_KEY = re.compile(r'^\w+$')

_FAIL_REASONS = {
    'run': "spawned process error: command 'srun ./synth_app' failed with exit code 1 on {node}",
    'sanity': "sanity error: pattern 'Solution converged' not found in 'rfm_job.out'",
    'performance': "performance error: pattern 'Elapsed time:' not found in 'rfm_job.out'",
}


def node_name(i):
    '''1 -> "nid0001".'''
    return f'nid{i:04d}'


def variant_label(variant):
    '''{'mpi': 'bundled', 'x': 1} -> "mpi=bundled,x=1"; {} -> "".'''
    return ','.join(f'{k}={v}' for k, v in variant.items())


def _noise_sigma(cov):
    return math.sqrt(math.log1p(cov * cov))


def noise_free_time(n, n0, base_time, serial_fraction, mode):
    if mode == 'strong':
        return base_time * (serial_fraction + (1.0 - serial_fraction) * n0 / n)
    return base_time * (1.0 + serial_fraction * math.log2(n / n0))


def _check_args(checks, node_counts, runs, base_time, serial_fraction, mode, cov, fail_rate,
                fail_rate_per_node, bad_node, bad_node_fail_rate, nodes_in_system, variants,
                variant_factors, extra_pvars, cases_per_report):
    if not checks or any(not isinstance(c, str) or not _KEY.match(c) for c in checks):
        raise ValueError(f'checks must be non-empty identifiers: {checks!r}')
    if len(set(checks)) != len(checks):
        raise ValueError(f'checks repeat a name: {checks!r}')
    if not node_counts or any(int(n) != n or n < 1 for n in node_counts):
        raise ValueError(f'node_counts must be positive integers: {node_counts!r}')
    if len(set(node_counts)) != len(node_counts):
        raise ValueError(f'node_counts repeat a value: {node_counts!r}')
    if max(node_counts) > nodes_in_system:
        raise ValueError(f'{max(node_counts)} nodes asked of a system of {nodes_in_system}')
    if int(runs) != runs or runs < 1:
        raise ValueError(f'runs must be a positive integer: {runs!r}')
    if not base_time > 0:
        raise ValueError(f'base_time must be > 0: {base_time!r}')
    if not 0.0 <= serial_fraction <= 1.0:
        raise ValueError(f'serial_fraction must lie in [0, 1]: {serial_fraction!r}')
    if mode not in ('strong', 'weak'):
        raise ValueError(f"mode must be 'strong' or 'weak': {mode!r}")
    if not cov >= 0:
        raise ValueError(f'cov must be >= 0: {cov!r}')
    rates = [fail_rate, bad_node_fail_rate] + list((fail_rate_per_node or {}).values())
    if any(not 0.0 <= p <= 1.0 for p in rates):
        raise ValueError(f'failure probabilities must lie in [0, 1]: {rates!r}')
    if bad_node is not None and bad_node not in {node_name(i) for i in range(1, nodes_in_system + 1)}:
        raise ValueError(f'bad_node {bad_node!r} is not one of nid0001..{node_name(nodes_in_system)}')
    for v in variants:
        if not isinstance(v, dict):
            raise ValueError(f'a variant must be a dict of fields: {v!r}')
        for k, val in v.items():
            if not _KEY.match(str(k)) or k in _RESERVED:
                raise ValueError(f'variant field {k!r} is not allowed (reserved or not an identifier)')
            if re.search(r'\s', str(val)) or str(val) == '':
                raise ValueError(f'variant value {val!r} of {k!r} must be non-empty without blanks')
    labels = [variant_label(v) for v in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f'variants repeat: {labels!r}')
    if variant_factors is not None:
        if isinstance(variant_factors, dict):
            unknown = set(variant_factors) - set(labels)
            if unknown:
                raise ValueError(f'variant_factors names unknown variants {sorted(unknown)!r}; '
                                 f'keys are labels such as {labels[0]!r}')
        elif len(variant_factors) != len(variants):
            raise ValueError('variant_factors must be a dict keyed by variant label or a list '
                             'as long as variants')
    if int(extra_pvars) != extra_pvars or extra_pvars < 0:
        raise ValueError(f'extra_pvars must be an integer >= 0: {extra_pvars!r}')
    if cases_per_report is not None and (int(cases_per_report) != cases_per_report or cases_per_report < 1):
        raise ValueError(f'cases_per_report must be a positive integer: {cases_per_report!r}')


def _factors(variants, variant_factors):
    if variant_factors is None:
        return [1.0] * len(variants)
    if isinstance(variant_factors, dict):
        return [float(variant_factors.get(variant_label(v), 1.0)) for v in variants]
    return [float(f) for f in variant_factors]


def truth(*, checks=('SynthApp',), node_counts=(1, 2, 4, 8), runs=10, base_time=100.0,
          serial_fraction=0.05, mode='strong', cov=0.03, fail_rate=0.0, fail_rate_per_node=None,
          bad_node=None, bad_node_fail_rate=0.5, nodes_in_system=16, variants=None,
          variant_factors=None, extra_pvars=0, cases_per_report=None, seed=0, system='synth',
          partition='compute', environ='host-openmpi'):
    '''The known values that generate() with the same arguments draws from (a JSON-able dict).'''
    variants = [dict(v) for v in (variants or [{}])]
    checks, node_counts = list(checks), [int(n) for n in node_counts]
    _check_args(checks, node_counts, runs, base_time, serial_fraction, mode, cov, fail_rate,
                fail_rate_per_node, bad_node, bad_node_fail_rate, nodes_in_system, variants,
                variant_factors, extra_pvars, cases_per_report)
    factors = _factors(variants, variant_factors)
    sigma = _noise_sigma(cov)
    median_factor = math.exp(-sigma * sigma / 2.0)
    n0 = min(node_counts)
    t0 = noise_free_time(n0, n0, base_time, serial_fraction, mode)
    per_node = {int(k): float(v) for k, v in (fail_rate_per_node or {}).items()}
    cells = []
    for check in checks:
        for variant, factor in zip(variants, factors):
            for n in node_counts:
                t = noise_free_time(n, n0, base_time, serial_fraction, mode)
                if mode == 'strong':
                    speedup = t0 / t
                    efficiency = speedup * n0 / n
                else:
                    efficiency = t0 / t
                    speedup = efficiency * n / n0          # scaled (Gustafson) speedup
                p = per_node.get(n, float(fail_rate))
                p_bad_in = n / nodes_in_system if bad_node is not None else 0.0
                p_bad = float(bad_node_fail_rate) if bad_node is not None else None
                expected_fail = (1 - p_bad_in) * p + p_bad_in * (p_bad or 0.0)
                median_time = t * factor * median_factor
                cells.append({
                    'check': check, 'workload': check.lower(), 'variant': variant,
                    'variant_label': variant_label(variant), 'variant_factor': factor,
                    'num_nodes': n, 'num_tasks': TASKS_PER_NODE * n, 'runs': int(runs),
                    'mode': mode, 'serial_fraction': serial_fraction,
                    'noise_free_time': t, 'mean_time': t * factor, 'median_time': median_time,
                    'median_rate': [(k + 1) * RATE_SCALE / median_time for k in range(extra_pvars)],
                    'speedup': speedup, 'efficiency': efficiency,
                    'fail_prob': p, 'fail_prob_bad_node': p_bad,
                    'p_bad_node_in_job': p_bad_in, 'expected_fail_share': expected_fail,
                    'bad_node': bad_node,
                })
    total = len(cells) * int(runs)
    return {
        'generator': 'benchmarks/synth_reports.py',
        'params': {
            'checks': checks, 'node_counts': node_counts, 'runs': int(runs),
            'base_time': base_time, 'serial_fraction': serial_fraction, 'mode': mode, 'cov': cov,
            'fail_rate': fail_rate,
            'fail_rate_per_node': {str(k): v for k, v in per_node.items()} or None,
            'bad_node': bad_node, 'bad_node_fail_rate': bad_node_fail_rate,
            'nodes_in_system': nodes_in_system, 'variants': variants,
            'variant_factors': factors, 'extra_pvars': int(extra_pvars),
            'cases_per_report': cases_per_report, 'seed': seed, 'system': system,
            'partition': partition, 'environ': environ,
        },
        'n0': n0,
        'noise': {'cov': cov, 'sigma': sigma, 'median_factor': median_factor},
        'fail_phases': dict(zip(FAIL_PHASES, FAIL_WEIGHTS)),
        'pvars': {'time': {'unit': 's', 'better': 'lower'},
                  **{f'rate_{k}': {'unit': 'samples/s', 'better': 'higher',
                                   'value': f'{(k + 1) * RATE_SCALE:g} / time'}
                     for k in range(extra_pvars)}},
        'num_cases': total,
        'expected_fail_share': sum(c['expected_fail_share'] for c in cells) / len(cells),
        'cells': cells,
    }


def _nodelists(rng, nn, nodes_in_system):
    '''Per case, a sorted set of nn[i] distinct node indices in 1..nodes_in_system.'''
    out = [None] * len(nn)
    chunk = max(1, 4_000_000 // nodes_in_system)
    for start in range(0, len(nn), chunk):
        part = nn[start:start + chunk]
        keys = rng.random((len(part), nodes_in_system))
        for n in np.unique(part):
            rows = np.nonzero(part == n)[0]
            sel = np.argpartition(keys[rows], int(n) - 1, axis=1)[:, :int(n)]
            sel = np.sort(sel, axis=1) + 1
            for r, s in zip(rows.tolist(), sel.tolist()):
                out[start + r] = s
    return out


def _stamp(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(t))


def _session_stamp(t):
    return time.strftime('%Y%m%dT%H%M%S+0000', time.gmtime(t))


def _clean(outdir):
    '''Remove report/truth files an earlier generate() left here (and nothing else).'''
    for p in [outdir / REPORT_NAME, outdir / TRUTH_NAME, *outdir.glob(f'session-*/{REPORT_NAME}')]:
        if p.is_file():
            p.unlink()


def generate(outdir, *, checks=('SynthApp',), node_counts=(1, 2, 4, 8), runs=10, base_time=100.0,
             serial_fraction=0.05, mode='strong', cov=0.03, fail_rate=0.0, fail_rate_per_node=None,
             bad_node=None, bad_node_fail_rate=0.5, nodes_in_system=16, variants=None,
             variant_factors=None, extra_pvars=0, cases_per_report=None, seed=0, system='synth',
             partition='compute', environ='host-openmpi'):
    '''Write synthetic run reports under ``outdir`` and ``outdir/truth.json``; return the report paths.

    One report.json when cases_per_report is None or not smaller than the number
    of cases, else outdir/session-000/report.json, ... each its own session.
    Report and truth files an earlier call left in outdir are replaced.
    '''
    args = dict(checks=checks, node_counts=node_counts, runs=runs, base_time=base_time,
                serial_fraction=serial_fraction, mode=mode, cov=cov, fail_rate=fail_rate,
                fail_rate_per_node=fail_rate_per_node, bad_node=bad_node,
                bad_node_fail_rate=bad_node_fail_rate, nodes_in_system=nodes_in_system,
                variants=variants, variant_factors=variant_factors, extra_pvars=extra_pvars,
                cases_per_report=cases_per_report, seed=seed, system=system, partition=partition,
                environ=environ)
    tr = truth(**args)
    cells = tr['cells']
    runs, extra_pvars = int(runs), int(extra_pvars)
    ncells, ncases = len(cells), len(cells) * runs
    sigma = tr['noise']['sigma']

    # Cases run repeat-major: repeat r of every cell, then repeat r + 1, so that
    # a report cut out of the sequence holds every configuration
    cell_of = np.tile(np.arange(ncells), runs)
    repeat_of = np.repeat(np.arange(runs), ncells)
    mean_t = np.array([c['mean_time'] for c in cells])[cell_of]
    nn = np.array([c['num_nodes'] for c in cells])[cell_of]
    p_fail = np.array([c['fail_prob'] for c in cells])[cell_of]

    # All draws in one fixed order, independent of outcomes
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(ncases)
    u = rng.random(ncases)
    phase = rng.choice(len(FAIL_PHASES), size=ncases, p=FAIL_WEIGHTS)
    nodes = _nodelists(rng, nn, nodes_in_system)
    ids = np.random.default_rng([seed, 0x5E55])          # session uuids, apart from the rest

    values = mean_t * np.exp(sigma * z - sigma * sigma / 2.0)
    if bad_node is not None:
        bad = int(bad_node[3:])
        has_bad = np.array([bad in ns for ns in nodes])
        p_fail = np.where(has_bad, bad_node_fail_rate, p_fail)
    else:
        has_bad = np.zeros(ncases, dtype=bool)
    failed = u < p_fail

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _clean(outdir)
    per = ncases if not cases_per_report or cases_per_report >= ncases else int(cases_per_report)
    nfiles = -(-ncases // per)
    width = max(3, len(str(nfiles - 1)))

    # What stays the same for every case of a cell
    key_time = f'{system}:{partition}:time'
    key_rates = [(f'{system}:{partition}:rate_{k}', (k + 1) * RATE_SCALE) for k in range(extra_pvars)]
    bases, names = [], []
    for i, c in enumerate(cells):
        tokens = [f'%num_nodes={c["num_nodes"]}'] + [f'%{k}={v}' for k, v in c['variant'].items()]
        name = ' '.join([c['check']] + tokens)
        hashcode = hashlib.sha256(name.encode()).hexdigest()[:8]
        base = {
            'name': name, 'display_name': None, 'unique_name': f'{c["check"]}_{i}',
            'short_name': f'{c["check"]}_{hashcode}', 'hashcode': hashcode,
            'filename': f'checks/synth/{c["workload"]}.py', 'descr': f'synthetic {c["check"]}',
            'system': system, 'partition': partition, 'environ': environ, 'scheduler': 'slurm',
            'fixture': False, 'result': 'pass', 'fail_phase': None, 'fail_reason': None,
            'run_index': 0, 'session_uuid': None, 'uuid': None,
            'jobid': None, 'job_exitcode': 0, 'job_nodelist': None, 'job_submit_time': None,
            'job_completion_time': None, 'job_completion_time_unix': None,
            'job_stdout': 'rfm_job.out', 'job_stderr': 'rfm_job.err',
            'time_run': None, 'time_total': None,
            'num_tasks': c['num_tasks'], 'num_tasks_per_node': TASKS_PER_NODE,
            'tags': ['synth', c['workload']], 'perfvalues': None,
            # loggable fields
            'num_nodes': c['num_nodes'], 'workload': c['workload'], 'runtime': 'bare',
            'mpi': 'host', 'fabric': '', 'mpi_library': 'Open MPI v4.1.4', 'scaling_mode': mode,
        }
        base.update(c['variant'])
        bases.append(base)
        names.append(name)

    values_l, cell_l, rep_l = values.tolist(), cell_of.tolist(), repeat_of.tolist()
    failed_l, phase_l, bad_l = failed.tolist(), phase.tolist(), has_bad.tolist()
    hosts = [node_name(i) for i in range(nodes_in_system + 1)]
    paths, t_start, perf_rows = [], float(EPOCH), 0
    for f in range(nfiles):
        lo, hi = f * per, min(ncases, (f + 1) * per)
        session = str(_uuid.UUID(bytes=ids.bytes(16), version=4))
        clock, testcases, nfail = t_start, [], 0
        for j, i in enumerate(range(lo, hi)):
            cell = cell_l[i]
            t = values_l[i]
            tc = dict(bases[cell])
            nodelist = [hosts[k] for k in nodes[i]]
            submit = clock
            clock += t + CASE_OVERHEAD
            tc['display_name'] = f'{names[cell]} %.repeat_no={rep_l[i]}'
            tc['session_uuid'] = session
            tc['uuid'] = f'{session}:0:{j}'
            tc['jobid'] = str(100000 + i)
            tc['job_nodelist'] = nodelist
            tc['job_submit_time'] = submit
            tc['job_completion_time_unix'] = clock
            tc['job_completion_time'] = _stamp(clock)
            tc['time_run'] = t
            tc['time_total'] = t + CASE_OVERHEAD
            if failed_l[i]:
                nfail += 1
                ph = FAIL_PHASES[phase_l[i]]
                tc['result'] = 'fail'
                tc['fail_phase'] = ph
                tc['fail_reason'] = _FAIL_REASONS[ph].format(
                    node=bad_node if bad_l[i] else nodelist[0])
                tc['job_exitcode'] = 1 if ph == 'run' else 0
                tc['perfvalues'] = {}
            else:
                pv = {key_time: [t, 0, None, None, 's', 'pass']}
                for key, scale in key_rates:
                    pv[key] = [scale / t, 0, None, None, 'samples/s', 'pass']
                tc['perfvalues'] = pv
                perf_rows += 1 + extra_pvars
            testcases.append(tc)
        n = hi - lo
        rep = {
            'session_info': {
                'data_version': DATA_VERSION, 'hostname': 'synth-login', 'uuid': session,
                'time_start': _session_stamp(t_start), 'time_start_unix': t_start,
                'time_end': _session_stamp(clock), 'time_end_unix': clock,
                'time_elapsed': clock - t_start,
                'cmdline': (f'reframe -C config/synth.py --system {system} -c checks/synth '
                            f'-r --repeat {runs}'),
                'config_files': ['<builtin>', 'config/synth.py'],
                'user': 'synth', 'version': REFRAME_VERSION, 'workdir': '/synth',
                'num_cases': n, 'num_failures': nfail, 'num_aborted': 0, 'num_skipped': 0,
                'hpcval_campaign': 'synth', 'hpcval_synth_seed': seed,
            },
            'runs': [{'run_index': 0, 'num_cases': n, 'num_failures': nfail, 'num_aborted': 0,
                      'num_skipped': 0, 'testcases': testcases}],
            'restored_cases': [],
        }
        path = outdir / REPORT_NAME if nfiles == 1 else outdir / f'session-{f:0{width}d}' / REPORT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'w') as fp:
            fp.write(json.dumps(rep))       # dumps, not dump: only dumps uses the C encoder
        del rep, testcases
        paths.append(path)
        t_start = clock + SESSION_GAP

    tr['realized'] = {
        'files': [str(p.relative_to(outdir)) for p in paths],
        'num_cases': ncases, 'num_failures': int(failed.sum()), 'perf_rows': perf_rows,
        'failures_by_phase': {ph: int((failed & (phase == k)).sum()) for k, ph in enumerate(FAIL_PHASES)},
        'cases_with_bad_node': int(has_bad.sum()),
        'failures_with_bad_node': int((failed & has_bad).sum()),
    }
    (outdir / TRUTH_NAME).write_text(json.dumps(tr, indent=1) + '\n')
    return paths


def runs_for(cases, checks=1, variants=1, node_counts=4):
    '''The number of repeats that gives about ``cases`` test cases.'''
    return max(1, round(cases / (checks * variants * node_counts)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('outdir')
    ap.add_argument('--cases', type=int, default=10000, help='about this many test cases in all')
    ap.add_argument('--extra-pvars', type=int, default=0, help='rate_<k> pvars beside time')
    ap.add_argument('--cases-per-report', type=int, help='split into sessions of this many cases')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--checks', default='SynthApp', help='comma-separated check names')
    ap.add_argument('--node-counts', default='1,2,4,8')
    ap.add_argument('--mode', choices=('strong', 'weak'), default='strong')
    ap.add_argument('--serial-fraction', type=float, default=0.05)
    ap.add_argument('--cov', type=float, default=0.03)
    ap.add_argument('--fail-rate', type=float, default=0.0)
    ap.add_argument('--bad-node', help='e.g. nid0007')
    ap.add_argument('--bad-node-fail-rate', type=float, default=0.5)
    ap.add_argument('--nodes-in-system', type=int, default=16)
    ap.add_argument('--mpi-variants', help="comma-separated mpi values, e.g. host,bundled")
    a = ap.parse_args(argv)
    checks = tuple(a.checks.split(','))
    node_counts = tuple(int(n) for n in a.node_counts.split(','))
    variants = [{'mpi': m} for m in a.mpi_variants.split(',')] if a.mpi_variants else None
    runs = runs_for(a.cases, len(checks), len(variants or [{}]), len(node_counts))
    t0 = time.perf_counter()
    try:
        paths = generate(a.outdir, checks=checks, node_counts=node_counts, runs=runs,
                         serial_fraction=a.serial_fraction, mode=a.mode, cov=a.cov,
                         fail_rate=a.fail_rate, bad_node=a.bad_node,
                         bad_node_fail_rate=a.bad_node_fail_rate,
                         nodes_in_system=a.nodes_in_system, variants=variants,
                         extra_pvars=a.extra_pvars, cases_per_report=a.cases_per_report, seed=a.seed)
    except ValueError as err:
        ap.error(str(err))
    elapsed = time.perf_counter() - t0
    real = json.loads((Path(a.outdir) / TRUTH_NAME).read_text())['realized']
    print(f'{len(paths)} files, {real["num_cases"]} cases ({real["num_failures"]} failed), '
          f'{real["perf_rows"]} perf rows written to {a.outdir} in {elapsed:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
