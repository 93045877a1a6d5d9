"""Mixins every hpcval check shares: node count, provenance, and launcher tweaks."""
import os
import re
import shlex

from common import Plugin
import reframe.utility.sanity as sn
from reframe.core.builtins import parameter, run_after, run_before, variable


class NodeCountMixin(Plugin):
    '''``num_nodes`` as a loggable parameter (ReFrame has no such attribute yet).

    ``hpcval run --nodes 1,2,3`` re-parameterises it with ``-P num_nodes=1,2,3``;
    a partition declares how many nodes it has in ``extras['max_nodes']``.
    '''
    num_nodes = parameter([1], type=int, loggable=True)

    @run_after('setup')
    def skip_beyond_partition(self):
        max_nodes = self.current_partition.extras.get('max_nodes', 1)
        self.skip_if(self.num_nodes > max_nodes,
                     f'num_nodes={self.num_nodes} but partition '
                     f'{self.current_partition.fullname} has {max_nodes} node(s)')


class ProvenanceMixin(Plugin):
    '''Record where a number came from, as loggable fields of the run report.

    The program prints ``# MPI Library: ...`` (from MPI_Get_library_version in
    the running binary) and ``# Hosts: ...``; sanity fails when the library is
    not of the family the programming environment promises.
    '''
    image_digest = variable(str, value='', loggable=True)
    mpi_library = variable(str, value='', loggable=True)
    hosts = variable(str, value='', loggable=True)
    #: the job's own run time, timed inside its script: the rest of a
    #: campaign's wall time is harness, ReFrame and batch-system overhead
    job_seconds = variable(float, type(None), value=None, loggable=True)
    #: Substring the loaded MPI library must contain; default: the
    #: environment's ``extras['mpi_family']``
    expected_mpi = variable(str, type(None), value=None, loggable=True)

    @run_after('setup')
    def set_expected_mpi(self):
        if self.expected_mpi is None:
            self.expected_mpi = self.current_environ.extras.get('mpi_family', '')

    @run_before('run', always_last=True)
    def time_the_job(self):
        self.prerun_cmds = self.prerun_cmds + ['hpcval_t0=$(date +%s.%N)']
        self.postrun_cmds = ['echo "# Job seconds: $(awk -v a=$hpcval_t0 -v b=$(date +%s.%N) '
                             '\'BEGIN{printf "%.3f", b - a}\')"'] + self.postrun_cmds

    @run_before('sanity')
    def record_provenance(self):
        try:
            text = self._stdout_text()
        except OSError:
            return
        m = re.search(r'^#\s*MPI Library:\s*(.+?)\s*$', text, re.M)
        if m:
            self.mpi_library = m.group(1).strip('\x00 \t')
        m = re.search(r'^# Job seconds: ([0-9.]+)$', text, re.M)
        if m:
            self.job_seconds = float(m.group(1))
        m = re.search(r'^#\s*Hosts:\s*(.*?)\s*$', text, re.M)
        if m:
            self.hosts = ','.join(sorted(set(h for h in m.group(1).split(',') if h)))

    def _stdout_text(self):
        with open(os.path.join(self.stagedir, str(self.stdout.evaluate()))) as fp:
            return fp.read()

    def _stderr_text(self):
        try:
            with open(os.path.join(self.stagedir, str(self.stderr.evaluate()))) as fp:
                return fp.read()
        except OSError:
            return ''

    def provenance_problems(self):
        found = []
        if not self.mpi_library:
            found.append('the program did not report its MPI library')
        elif self.expected_mpi and self.expected_mpi not in self.mpi_library:
            found.append(f'MPI library is {self.mpi_library!r}, '
                         f'expected {self.expected_mpi!r}')
        return found


#: slurmstepd's word when Slurm stops a job: time limit, node failure, scancel
_SLURM_CANCELLED = re.compile(r'\*\*\* (?:JOB|STEP) \S+ ON (\S+) CANCELLED AT \S+(?: (DUE TO [A-Z ]+?))? \*\*\*')


#: srun's word for a task that died of a signal (the cause; "Terminated" tasks are its effect)
_SRUN_TASK_DIED = re.compile(r'^srun: error: (\S+): tasks? ([0-9,-]+): (Killed|Segmentation fault|Aborted|Bus error)',
                             re.M)


def job_problems(stderr):
    '''What the batch system said it did to the job (its stderr), as sanity problems:
    the rank that died first, then Slurm's cancellations.'''
    died = [f'rank {tasks} on {node}: {how.lower()}' for node, tasks, how in _SRUN_TASK_DIED.findall(stderr)]
    return died + [f'Slurm cancelled the job on {node} ' + (why.lower() if why else '(scancel or a failure)')
                   for node, why in _SLURM_CANCELLED.findall(stderr)]


def shell_words(args):
    '''Arguments as words of the job script.  ReFrame writes ``executable_opts``
    (and a container's command) into it as they are: a string variable set
    with -S, such as ``8; rm -rf ~`` or ``$(id)``, would run.'''
    return [shlex.quote(str(a)) for a in args]


def assert_no_problems(problems, what):
    '''One sanity assertion listing every problem found, or True.'''
    return sn.assert_false(problems, msg=f'{what}: ' + '; '.join(problems))


def unbind_for_threads(test):
    '''mpirun binds small jobs to one core; a threaded rank needs them all.'''
    if test.current_partition.launcher_type.registered_name in ('mpirun', 'mpiexec'):
        test.job.launcher.options += ['--bind-to', 'none']
