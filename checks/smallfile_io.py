"""Small-file metadata I/O: create, stat, read and remove many small files, per target.

An MPI-parallel metadata benchmark in the spirit of mdtest
(checks/src/smallfile_md.c, built by a fixture), or the real ``mdtest`` when
``implementation='mdtest'`` (``MDTEST`` or ``PATH``).  Each rank works in its
own directory; every phase is timed as its slowest rank; the rates (ops/s,
max/min/mean/stddev over iterations) land in the run report as
``file_creation``, ``file_creation_max``, ... ``file_removal_stddev``.

Targets come from the partition's ``extras['io_targets']``::

    {'home':    {'path': '/home/me', 'shared': True, 'max_files': 100000},
     'work':    {'path': '/scratch/me', 'shared': True, 'max_files': 1000000},
     'ramdisk': {'path': '/dev/shm', 'shared': False}}

The comparison that matters: a parallel file system against a tmpfs.

Safety on shared file systems:

* the guard: on a target marked ``shared``, a case that would create more
  files than its ``max_files`` fails before it runs, unless
  ``-S SmallfileIO.allow_many_files=1``.  The count is every file the run
  creates, ranks x files_per_rank x iterations (the number the program
  reports as created), not the peak number in existence (ranks x
  files_per_rank): the metadata server carries every create, and the guard
  and the report then speak of the same number.
* everything is created under one new directory, ``<target>/hpcval-smallfile-<random>``,
  which the check names; the program removes what it created, also when a
  rank fails; the job script then removes that directory (and only it) if
  anything is left, e.g. after a rank was killed, and says so.  That
  cleanup runs where the job script runs: on a node-local target (a tmpfs)
  of a multi-node case, what a killed rank leaves on another node stays
  there until the node cleans its tmpfs.

Variables for a run: ``files_per_rank``, ``file_bytes``, ``iterations``,
``tasks_per_node`` (1 for a single-rank run), ``target_path`` (another
directory than the site's, e.g. to try a file system), ``max_files`` and
``allow_many_files``.  In a container the target is bound at ``/scratch``
and the image's own build of smallfile_md runs there.
"""
import os
import re
import shlex
import shutil
import sys
import uuid

import reframe as rfm
import reframe.utility.sanity as sn
import reframe.utility.typecheck as typ
from reframe.core.builtins import (fixture, parameter, run_after, run_before,
                                   sanity_function, variable)

sys.path.insert(0, os.path.dirname(__file__))  # for 'common', however ReFrame loads us
from common import mdtest                                       # noqa: E402
from common.build import MpiSourceBuild                         # noqa: E402
from common.containers import ContainerMixin                    # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words)

TARGETS = ('home', 'work', 'ramdisk')
#: file operations reported as performance variables (mdtest's row names)
FILE_OPS = ('creation', 'stat', 'read', 'removal')
#: where the target directory appears inside a container
CONTAINER_TARGET = '/scratch'
RUN_DIR_PREFIX = 'hpcval-smallfile-'
_RUN_DIR = re.compile(rf'^{RUN_DIR_PREFIX}[0-9a-f]{{16}}$')
_LEFT = re.compile(r'^# Left behind: (?P<path>.+) \((?P<n>\d+) entries\)\s*$', re.M)
_TARGET_ERROR = re.compile(r'^ERROR: target (?P<path>.+?) (?P<why>does not exist|is not a directory|'
                           r'is not writable)\s*$', re.M)


class FileLimitExceeded(Exception):
    '''A case would create more files on a shared target than the site allows.'''


class build_smallfile_md(MpiSourceBuild):
    '''Compile smallfile_md.c with the environment's MPI compiler wrapper.'''
    sourcepath = 'smallfile_md.c'
    executable = 'smallfile_md'
    libs = ['dl', 'm']


@rfm.simple_test
class SmallfileIO(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin):
    descr = 'Small-file metadata rates (create/stat/read/remove) on home, work and a ramdisk'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'io', 'metadata'}
    target = parameter(list(TARGETS), type=str, loggable=True)
    workload = variable(str, value='smallfile_io', loggable=True)
    #: what the check is, so how the report analyses it (hpcval.analysis.roles)
    role = variable(str, value='io', loggable=True)
    md_build = fixture(build_smallfile_md, scope='environment')
    #: recipe whose image carries smallfile_md built against its own MPI
    container_image = 'openmpi'

    #: 'hpcval' (our smallfile_md.c) or 'mdtest' (the real one: MDTEST or PATH)
    implementation = variable(str, value='hpcval', loggable=True)
    mdtest_path = variable(str, value=os.environ.get('MDTEST', ''))
    benchmark_binary = variable(str, value='', loggable=True)
    files_per_rank = variable(int, value=200, loggable=True)
    file_bytes = variable(int, value=4096, loggable=True)
    iterations = variable(int, value=3, loggable=True)
    #: ranks per node; None: the node's core count
    tasks_per_node = variable(int, type(None), value=None)

    #: the target directory; '' takes it from extras['io_targets'] (after
    #: setup: the one used).  It must exist: the check never creates it.
    target_path = variable(str, value='', loggable=True)
    #: shared file system (the guard applies); None: as the site says
    target_shared = variable(typ.Bool, type(None), value=None, loggable=True)
    #: most files a case may create on a shared target; None: as the site says
    max_files = variable(int, type(None), value=None, loggable=True)
    #: lift the guard for this run
    allow_many_files = variable(typ.Bool, value=False, loggable=True)
    #: files the case creates: ranks x files_per_rank x iterations
    planned_files = variable(int, type(None), value=None, loggable=True)
    #: the directory under the target that holds everything the case creates
    run_dir = variable(str, value='', loggable=True)
    #: as the program reported them (totals over ranks and iterations)
    files_created = variable(int, type(None), value=None, loggable=True)
    files_removed = variable(int, type(None), value=None, loggable=True)

    #: test hooks: make rank `fail_rank` fail after `fail_after_files` files,
    #: with an I/O error ('error') or SIGKILL ('kill')
    fail_rank = variable(int, value=-1)
    fail_after_files = variable(int, value=-1)
    fail_mode = variable(str, value='error')

    @run_after('init')
    def check_options(self):
        if self.implementation not in ('hpcval', 'mdtest'):
            raise ValueError(f'implementation must be hpcval or mdtest, not {self.implementation!r}')
        if self.fail_mode not in ('error', 'kill'):
            raise ValueError(f'fail_mode must be error or kill, not {self.fail_mode!r}')
        for name in ('files_per_rank', 'iterations'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1')
        if self.file_bytes < 0:
            raise ValueError('file_bytes must not be negative')

    @run_after('setup')
    def set_target(self):
        part = self.current_partition
        targets = part.extras.get('io_targets', {})
        spec = targets.get(self.target)
        self.skip_if(spec is None and not self.target_path,
                     f"target '{self.target}' is not declared in extras['io_targets'] of "
                     f'partition {part.fullname}')
        spec = spec or {}
        self.target_path = os.path.abspath(os.path.expanduser(self.target_path or spec['path']))
        if self.target_shared is None:
            self.target_shared = bool(spec.get('shared', False))
        if self.max_files is None:
            self.max_files = spec.get('max_files')
        # the one directory the case may create and remove under the target
        self.run_dir = f'{RUN_DIR_PREFIX}{uuid.uuid4().hex[:16]}'

    @property
    def run_path(self):
        '''<target>/<run_dir>: the only path the job script ever removes.'''
        if not _RUN_DIR.match(self.run_dir):
            raise ValueError(f'refusing to work with run directory {self.run_dir!r}')
        path = os.path.join(self.target_path, self.run_dir)
        if os.path.dirname(path) != self.target_path:
            raise ValueError(f'refusing to work with {path!r}: not directly under {self.target_path!r}')
        return path

    @run_after('setup')
    def set_tasks(self):
        per_node = self.tasks_per_node or self.current_partition.processor.num_cpus or 2
        self.num_tasks_per_node = per_node
        self.num_tasks = per_node * self.num_nodes
        self.planned_files = self.num_tasks * self.files_per_rank * self.iterations

    @run_after('setup')
    def guard_shared_target(self):
        '''Fail before running when a shared target would get too many files.'''
        if not self.target_shared or self.max_files is None or self.allow_many_files:
            return
        if self.planned_files > self.max_files:
            raise FileLimitExceeded(
                f'target {self.target} ({self.target_path}) is shared and the site allows at most '
                f'{self.max_files} files per case (extras io_targets max_files); this case would '
                f'create {self.planned_files} ({self.num_tasks} ranks x {self.files_per_rank} files '
                f'x {self.iterations} iterations): lower files_per_rank or iterations, or lift '
                f'the limit with -S SmallfileIO.allow_many_files=1')

    @run_after('setup')
    def set_executable(self):
        opts = ['-n', str(self.files_per_rank), '-w', str(self.file_bytes), '-i', str(self.iterations)]
        builtdir = self.md_build.stagedir
        if self.implementation == 'hpcval':
            test_opts = []
            if self.fail_rank >= 0 and self.fail_after_files >= 0:
                test_opts = ['--fail-rank', str(self.fail_rank), '--fail-after-files',
                             str(self.fail_after_files), '--fail-mode', self.fail_mode]
            binary = os.path.join(builtdir, 'smallfile_md')
            self.executable = shlex.quote(binary)
            self.executable_opts = shell_words(['-d', self.target_path, '-R', self.run_dir] + opts + test_opts)
            # in an image: the image's own build, the target bound at /scratch
            self.container_command = ' '.join(shell_words(['/opt/hpcval/bin/smallfile_md', '-d', CONTAINER_TARGET,
                                                           '-R', self.run_dir] + opts + test_opts))
            self.setup_container()
            if self.runtime != 'bare':
                self.container_platform.mount_points.append((self.target_path, CONTAINER_TARGET))
                # a missing bind source stops ch-run before the program can say
                # which target is wrong: say it from the job script
                self.prerun_cmds = self.prerun_cmds + self._check_target()
        else:
            self.skip_if(self.runtime != 'bare', 'the real mdtest is run bare only')
            binary = self.mdtest_path or shutil.which('mdtest')
            self.skip_if(not binary or not os.path.exists(binary), 'no mdtest in MDTEST or PATH')
            self.executable = shlex.quote(binary)
            # -u: a directory per rank; -F: files only; -e/-w: read/write B bytes
            self.executable_opts = shell_words(['-n', self.files_per_rank, '-w', self.file_bytes,
                                                '-e', self.file_bytes, '-u', '-F', '-i', self.iterations,
                                                '-d', self.run_path])
            # mdtest prints no MPI library: a probe built with the same wrapper
            # and launched the same way prints it first.  The target is checked
            # here, the way smallfile_md checks it, before anything is created.
            launcher = self.job.launcher.run_command(self.job)
            self.prerun_cmds = [f'{launcher} {shlex.quote(os.path.join(builtdir, "smallfile_md"))} version'
                                ] + self._check_target(f'mkdir -- {shlex.quote(self.run_path)}')
        self.benchmark_binary = (f'{self.container_image}:/opt/hpcval/bin/smallfile_md'
                                 if self.runtime != 'bare' else binary)

    def _check_target(self, then=':'):
        '''Job script lines: the ERROR line smallfile_md would print for a bad target, else `then`.'''
        return [f'hpcval_target={shlex.quote(self.target_path)}',
                'if [ ! -e "$hpcval_target" ]; then echo "ERROR: target $hpcval_target does not exist"; '
                'elif [ ! -d "$hpcval_target" ]; then echo "ERROR: target $hpcval_target is not a directory"; '
                'elif [ ! -w "$hpcval_target" ]; then echo "ERROR: target $hpcval_target is not writable"; '
                f'else {then}; fi']

    @run_before('run')
    def clean_up_after_the_job(self):
        '''Whatever the program left (a killed rank cannot clean up) goes, and is reported.'''
        self.postrun_cmds = self.postrun_cmds + [
            f'hpcval_run_path={shlex.quote(self.run_path)}',
            'if [ -e "$hpcval_run_path" ]; then echo "# Left behind: $hpcval_run_path '
            '($(find "$hpcval_run_path" -mindepth 1 | wc -l) entries)"; rm -rf -- "$hpcval_run_path"; fi']

    def _host_path(self, path):
        '''A path the program printed, on the host (in a container the target is /scratch).'''
        if self.runtime != 'bare' and (path == CONTAINER_TARGET or path.startswith(CONTAINER_TARGET + '/')):
            return self.target_path + path[len(CONTAINER_TARGET):]
        return path

    @sanity_function
    def validate(self):
        problems = job_problems(self._stderr_text())
        try:
            text = self._stdout_text()
        except OSError as err:
            return assert_no_problems(problems + [f'no output: {err}'], self.target)
        m = _TARGET_ERROR.search(text)
        if m:
            # the target itself is wrong: nothing ran, say which path and why
            problems.append(f'target {self._host_path(m.group("path"))} {m.group("why")}')
            problems += self._leftovers(text)
            return assert_no_problems(problems, self.target)
        head = mdtest.header(text)
        self.files_created, self.files_removed = head.files_created, head.files_removed
        # the program's own ERROR lines say more than a missing summary would
        problems += head.errors
        try:
            out = mdtest.parse(text)
            missing = [op for op in FILE_OPS if f'file_{op}' not in out.rows]
            if missing:
                problems.append('no rate for ' + ', '.join(f'file {op}' for op in missing))
            if out.tasks is not None and out.tasks != self.num_tasks:
                problems.append(f'{out.tasks} tasks ran, {self.num_tasks} were asked for')
            if out.iterations != self.iterations:
                problems.append(f'{out.iterations} iterations ran, {self.iterations} were asked for')
        except mdtest.MdtestParseError as err:
            if not head.errors:
                problems.append(str(err))
        if self.implementation == 'hpcval':
            if self.files_created is None:
                problems.append('the program stopped before reporting the files it created and removed '
                                "(a rank died? see the job's stderr)")
            elif self.files_created != self.files_removed:
                problems.append(f'created {self.files_created} files but removed {self.files_removed}')
            elif not head.errors and self.files_created != self.planned_files:
                problems.append(f'created {self.files_created} files, {self.planned_files} were planned')
            if self.files_created is not None and not head.errors and head.validation != 'Pass':
                problems.append('no "# Validation: Pass" line (a read did not return the written bytes)')
        problems += self._leftovers(text)
        problems += self.provenance_problems()
        problems += self.container_problems(text)
        return assert_no_problems(problems, self.target)

    def _leftovers(self, text):
        '''The program must remove everything it created; the job's cleanup only backs it up.'''
        found = []
        for m in _LEFT.finditer(text):
            n = int(m.group('n'))
            # real mdtest leaves the (empty) -d directory it was given
            if self.implementation == 'hpcval' or n:
                found.append(f'the program left {m.group("path")} behind ({n} entries; '
                             'removed by the job script)')
        if os.path.lexists(self.run_path):
            found.append(f'{self.run_path} is still there after the job')
        return found

    @run_before('performance')
    def set_perf_variables(self):
        self.perf_variables = {}
        for op in FILE_OPS:
            name = f'file_{op}'
            self.perf_variables[name] = sn.make_performance_function(self._rate(name, 'mean'), 'ops/s')
            for stat in ('max', 'min', 'stddev'):
                self.perf_variables[f'{name}_{stat}'] = sn.make_performance_function(
                    self._rate(name, stat), 'ops/s')

    @sn.deferrable
    def _rate(self, name, stat):
        return mdtest.parse(self._stdout_text()).value(name, stat)
