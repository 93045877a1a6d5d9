"""HPC Challenge (Debian's hpcc 1.5.0): HPL's GFLOP/s across nodes, the Top500 kernel.

One HPCC run per case, over ``num_nodes`` x ``ranks_per_node`` ranks: the
check writes ``hpccinf.txt`` into the stage directory with HPL's N grown
with the square root of the rank count (``n_one_rank`` at one rank, a
multiple of ``nb``) and the most nearly square P x Q grid, runs ``hpcc`` under
checks/src/app_launch.py (which proves the MPI library each rank loaded, and
the BLAS), and reads the summary of ``hpccoutf.txt`` (checks/common/hpcc.py).
Recorded: ``hpl`` (GFLOP/s of the whole run), ``hpl_per_node`` (the
headline: a kernel is read per node), and the Star (every rank at once)
DGEMM and STREAM triad, PTRANS, MPI RandomAccess and MPI FFT.  Sanity fails
when HPCC says it failed, HPL's residual check fails, or the run's size or
grid is not the one asked for.  Bare by default; ``-P runtime=charliecloud``
runs the hpcc of the lammps image (containers/lammps/Dockerfile installs it).
"""
import os
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import run_after, run_before, sanity_function, variable

sys.path.insert(0, os.path.dirname(__file__))
from common import appspec, hpcc                                # noqa: E402
from common.containers import ContainerMixin                    # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words)

#: `hpcval run --system NAME` with no check named leaves it out: run it by name or campaigns/hpcc.yaml
WHOLE_SYSTEM_SWEEP = False
_OUTPUT = 'hpccoutf.txt'


@rfm.simple_test
class Hpcc(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin):
    descr = 'HPC Challenge: HPL across nodes (Top500), DGEMM, STREAM, PTRANS, RandomAccess, FFT'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'hpcc', 'hpl', 'kernel'}
    workload = variable(str, value='hpcc', loggable=True)
    role = variable(str, value='kernel', loggable=True)
    scaling_pvar = variable(str, value='hpl_per_node', loggable=True)
    ranks_per_node = variable(int, value=1, loggable=True)
    #: HPL's N at one rank; N grows with sqrt(ranks)
    n_one_rank = variable(int, value=1600, loggable=True)
    nb = variable(int, value=80, loggable=True)
    ranks = variable(int, value=0, loggable=True)
    hpl_n = variable(int, value=0, loggable=True)
    hpl_grid = variable(str, value='', loggable=True)
    #: the BLAS library hpcc mapped (Debian's alternative: reference BLAS unless OpenBLAS is installed)
    blas_library_path = variable(str, value='', loggable=True)
    hpcc = variable(str, value='hpcc')
    container_image = 'lammps'
    #: HPCC's own input and output, kept in the run's output folder
    keep_files = ['hpccinf.txt', _OUTPUT]

    @run_after('setup')
    def set_job(self):
        self.ranks = self.num_nodes * self.ranks_per_node
        self.num_tasks = self.ranks
        self.num_tasks_per_node = self.ranks_per_node
        self.num_cpus_per_task = 1
        self.hpl_n = hpcc.problem_size(self.ranks, self.n_one_rank, self.nb)
        p, q = hpcc.grid(self.ranks)
        self.hpl_grid = f'{p}x{q}'
        self.env_vars['OMP_NUM_THREADS'] = '1'
        self.executable = 'python3'
        self.executable_opts = shell_words([os.path.join(self.stagedir, 'app_launch.py'), '--', self.hpcc])
        self.container_command = ' '.join(shell_words(['python3', '/rfm_workdir/app_launch.py', '--', 'hpcc']))
        self.setup_container()

    @run_before('run')
    def write_input(self):
        p, q = hpcc.grid(self.ranks)
        with open(os.path.join(self.stagedir, 'hpccinf.txt'), 'w') as fp:
            fp.write(hpcc.input_text(self.hpl_n, self.nb, p, q))

    def _output(self):
        try:
            with open(os.path.join(self.stagedir, _OUTPUT)) as fp:
                return fp.read()
        except OSError:
            return ''

    @sanity_function
    def validate(self):
        problems = job_problems(self._stderr_text())
        try:
            text = self._stdout_text()
        except OSError as err:
            return assert_no_problems(problems + [f'no output: {err}'], 'hpcc')
        reports = appspec.rank_reports(text)
        problems += appspec.rank_problems(reports, self.ranks)
        self.hosts = appspec.hosts(reports) or self.hosts
        for line in text.splitlines():
            if line.startswith('# BLAS Library Path: '):
                self.blas_library_path = line.split(': ', 1)[1].strip()
        p, q = hpcc.grid(self.ranks)
        problems += hpcc.problems(self._output(), self.ranks, self.hpl_n, p, q)
        problems += self.provenance_problems()
        problems += self.container_problems(appspec.library_paths_line(reports))
        return assert_no_problems(problems, 'hpcc')

    @run_before('performance')
    def set_perf_variables(self):
        pv = {pvar: sn.make_performance_function(self._figure(pvar), unit)
              for pvar, (_, unit, _) in hpcc.FIGURES.items()}
        pv['hpl_per_node'] = sn.make_performance_function(self._per_node('hpl'), 'GFLOP/s')
        self.perf_variables = pv

    @sn.deferrable
    def _figure(self, pvar):
        return hpcc.figures(hpcc.summary(self._output())).get(pvar)

    @sn.deferrable
    def _per_node(self, pvar):
        value = hpcc.figures(hpcc.summary(self._output())).get(pvar)
        return None if value is None else value / self.num_nodes
