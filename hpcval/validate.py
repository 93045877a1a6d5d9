"""`hpcval validate-image`: a candidate image against the current one, in one session.

1. Both images must be in the image folder and have passed their smoke
   test (built with ``hpcval image build --tag`` or imported).
2. Functional checks on both, through ReFrame on the system: the smoke test
   on a compute node, host-MPI injection with the ABI check, the bundled MPI
   (checks/image_functional.py) and the $HOME trap (checks/container_env.py).
3. Which workloads apply: a workload runs when the programs it needs are in
   both images (APPLIES, probed with ch-run on this host).
4. The workloads of campaigns/validate-image.yaml in one ReFrame session,
   ``-P image=CANDIDATE,CURRENT``, bare as the control, every case
   ``repeat`` times, in random order (``--exec-order random``), so that time
   and load fall on both images alike.  An image that failed the host-MPI
   check has its mpi=host cases skipped with that reason.

analysis.image_validation turns the two sessions into the report.
"""
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hpcval import campaign as campaigns
from hpcval import plan as plans
from hpcval import run
from hpcval.containers import store
from hpcval.errors import UsageError

CAMPAIGN = 'validate-image'
FUNCTIONAL_CHECKS = ['image_functional', 'container_env']
#: what a workload needs in an image: (check module, extra -P values, test run in the image)
APPLIES = (
    ('mpi_microbench', (), 'test -x /opt/hpcval/bin/osu_mpi'),
    ('matmul', ('MatmulBench.backend', 'numpy'), "python3 -c 'import numpy, mpi4py'"),
    ('matmul', ('MatmulBench.backend', 'tensorflow'), "python3 -c 'import tensorflow, mpi4py'"),
    ('gan_training', (), "python3 -c 'import tensorflow, mpi4py'"),
    ('smallfile_io', (), 'test -x /opt/hpcval/bin/smallfile_md'),
)
PROBE_TIMEOUT_S = 120


@dataclass
class Validation:
    candidate: str
    current: str
    functional_dir: Path = None
    workload_dir: Path = None
    functional_rc: int = 0
    workload_rc: int = 0
    applies: list = field(default_factory=list)      # (check, param, value) that ran
    left_out: list = field(default_factory=list)     # (check, param, value, why)
    no_host_mpi: list = field(default_factory=list)
    index: dict = field(default_factory=dict)        # ref -> index entry


def resolve(text, folder):
    '''``NAME[:TAG]`` -> (ref, entry, directory path); UsageError when it cannot be validated.'''
    try:
        name, tag = store.parse_ref(text)
    except store.ImageError as err:
        raise UsageError(str(err)) from None
    ref = store.ref(name, tag)
    entry = store.recorded_images(folder).get(store.key(name, tag))
    if not entry:
        raise UsageError(f'{ref}: not in the image folder {folder} (`hpcval image list`; '
                         f'`hpcval image import {ref} SOURCE` or `hpcval image build {name} --tag {tag}`)')
    path = store.converted(name, 'dir', folder, tag)
    if path is None:
        why = (entry.get('test') or {}).get('status') or 'not converted'
        raise UsageError(f'{ref}: no tested directory image in {folder} (test: {why})')
    return ref, entry, path


def _runs_in(image_dir, command):
    from hpcval.containers.pipeline import Pipeline
    ch = Pipeline(folder=Path(image_dir).parent).ch        # the environment `hpcval image test` runs in
    try:
        proc = subprocess.run(['ch-run', '--set-env', str(image_dir), '--', 'sh', '-c', command], env=ch.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def applicable(paths):
    '''([(check, param, value)], [(check, param, value, why)]): APPLIES probed in every image.'''
    ok, out = [], []
    for check, param, test in APPLIES:
        missing = [ref for ref, path in paths.items() if not _runs_in(path, test)]
        row = (check, *(param or ('', '')))
        if missing:
            out.append((*row, f'`{test}` fails in {", ".join(missing)}'))
        else:
            ok.append(row)
    return ok, out


def _params(applies):
    '''-P options for the backends that apply (check-wide parameters pass as they are).'''
    values = {}
    for _, param, value in applies:
        if param:
            values.setdefault(param, []).append(value)
    opts = []
    for param, vals in values.items():
        opts += ['-P', f'{param}={",".join(vals)}']
    return opts


def functional_failures(frame, ref, probe='mpi', mpi='host'):
    f = frame[(frame['check'] == 'ImageFunctional') & (frame['image'].astype(str) == ref)
              & (frame['probe'].astype(str) == probe) & (frame['mpi'].astype(str) == mpi)]
    return bool(len(f)) and (f['result'].astype(str) != 'pass').any()


def validate(candidate, current, system=None, repeat=None, nodes=None, name=CAMPAIGN, folder=None,
             echo=print, runs_root=None):
    '''Run the functional and the workload sessions; returns a Validation.'''
    from hpcval.analysis import ingest
    folder = Path(folder or store.image_folder())
    cand, cand_entry, cand_dir = resolve(candidate, folder)
    cur, cur_entry, cur_dir = resolve(current, folder)
    if cand == cur:
        raise UsageError(f'{cand} against itself: name two images (`hpcval image list`)')
    v = Validation(cand, cur, index={cand: cand_entry, cur: cur_entry})
    images = f'image={cand},{cur}'
    camp = campaigns.load(CAMPAIGN)
    system = system or camp.system
    tags = {'image_candidate': _digest(cand_entry), 'image_current': _digest(cur_entry)}
    tags = {k: t for k, t in tags.items() if t}

    echo(f'hpcval validate-image: functional checks on {cand} and {cur} ({system})')
    fplan = plans.make(None, FUNCTIONAL_CHECKS, system, [1], 1, [], f'{name}-functional', [], [],
                       ['-P', images])
    v.functional_rc, v.functional_dir = run.execute(fplan.checks, fplan.system, fplan.name, fplan.nodes, 1,
                                                    fplan.setvars, fplan.extra, tags={**fplan.tags, **tags},
                                                    runs_root=runs_root)
    if v.functional_rc == 2:
        return v
    func = ingest.load([v.functional_dir]).frame
    v.no_host_mpi = [ref for ref in (cand, cur) if functional_failures(func, ref)]
    smoke_failed = [ref for ref in (cand, cur) if functional_failures(func, ref, 'smoke', '')
                    or functional_failures(func, ref, 'smoke', 'host')]
    if smoke_failed:
        echo(f'hpcval validate-image: {", ".join(smoke_failed)} failed its smoke test here: nothing is measured')
        return v

    v.applies, v.left_out = applicable({cand: cand_dir, cur: cur_dir})
    for check, param, value, why in v.left_out:
        echo(f'hpcval validate-image: {check}{f" {param}={value}" if param else ""} left out: {why}')
    checks = [c for c in camp.checks if any(a[0] == c for a in v.applies)]
    checks += [a[0] for a in v.applies if a[0] not in checks and a[0] != 'matmul']
    if not checks:
        raise UsageError(f'no workload applies to both {cand} and {cur}: '
                         + '; '.join(why for *_, why in v.left_out))
    setvars = []
    if v.no_host_mpi:
        setvars.append(('no_host_mpi', ','.join(v.no_host_mpi)))
    wplan = plans.make(CAMPAIGN, checks, system, nodes, repeat, setvars, name, [], [],
                       ['-P', images, '--exec-order', 'random'] + _params(v.applies))
    echo(f'hpcval validate-image: {", ".join(checks)}, {wplan.repeat} repeat(s), random order '
         f'-> {shlex.join(wplan.extra[-4:])}')
    v.workload_rc, v.workload_dir = run.execute(wplan.checks, wplan.system, wplan.name, wplan.nodes,
                                                wplan.repeat, wplan.setvars, wplan.extra,
                                                tags={**wplan.tags, **tags}, runs_root=runs_root)
    return v


def _digest(entry):
    d = str(((entry.get('formats') or {}).get('dir') or {}).get('digest') or '')
    return d.split(':', 1)[-1][:12]
