"""OSU-style MPI microbenchmarks: latency, bw, bibw, allreduce, alltoall.

Built from checks/src/osu_mpi.c by a fixture (once per environment), or the
real OSU binaries when ``implementation='osu'`` (``OSU_DIR`` or ``PATH``).
Every message size becomes a performance variable (``latency_8B``,
``bw_4MiB``, ...), so the whole curve lands in the run report.
"""
import os
import shlex
import shutil
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import (fixture, parameter, run_after, run_before,
                                   sanity_function, variable)

sys.path.insert(0, os.path.dirname(__file__))  # for 'common', however ReFrame loads us
from common import osu                                          # noqa: E402
from common.build import MpiSourceBuild                         # noqa: E402
from common.containers import ContainerMixin                    # noqa: E402
from common.fabrics import FabricMixin                          # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words)

#: benchmark -> (metric, OSU binary, smallest size, point-to-point?)
BENCHMARKS = {
    'latency':   ('latency', 'osu_latency', 1, True),
    'bw':        ('bw', 'osu_bw', 1, True),
    'bibw':      ('bw', 'osu_bibw', 1, True),
    'allreduce': ('latency', 'osu_allreduce', 4, False),
    'alltoall':  ('latency', 'osu_alltoall', 1, False),
}


class build_osu_mpi(MpiSourceBuild):
    '''Compile osu_mpi.c with the environment's MPI compiler wrapper.'''
    sourcepath = 'osu_mpi.c'
    executable = 'osu_mpi'


@rfm.simple_test
class MpiMicrobench(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin,
                    FabricMixin):
    descr = 'OSU-style MPI latency/bandwidth/collective curves, 1 B to 4 MiB'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'mpi', 'microbenchmark'}
    benchmark = parameter(list(BENCHMARKS), type=str, loggable=True)
    workload = variable(str, value='mpi_microbench', loggable=True)
    #: what the check is, so how the report analyses it (hpcval.analysis.roles)
    role = variable(str, value='network', loggable=True)
    osu_build = fixture(build_osu_mpi, scope='environment')
    #: recipe whose image carries osu_mpi built against its own MPI
    container_image = 'openmpi'

    #: 'hpcval' (our osu_mpi.c) or 'osu' (real OSU binaries)
    implementation = variable(str, value='hpcval', loggable=True)
    osu_dir = variable(str, value=os.environ.get('OSU_DIR', ''))
    benchmark_binary = variable(str, value='', loggable=True)
    max_message_size = variable(int, value=4 << 20, loggable=True)
    #: None keeps OSU's default for the benchmark (e.g. 10000/100 for latency)
    num_iters = variable(int, type(None), value=None, loggable=True)
    num_warmup = variable(int, type(None), value=None, loggable=True)
    num_iters_large = variable(int, type(None), value=None, loggable=True)
    num_warmup_large = variable(int, type(None), value=None, loggable=True)
    #: ranks per node for collectives; None: the node's core count
    tasks_per_node = variable(int, type(None), value=None)
    #: what scaling tables and variant ratios quote ('' : 8 B latency, or the
    #: bandwidth at the largest message run)
    scaling_pvar = variable(str, value='', loggable=True)

    @run_after('init')
    def check_implementation(self):
        if self.implementation not in ('hpcval', 'osu'):
            raise ValueError(f'implementation must be hpcval or osu, not {self.implementation!r}')

    @run_after('init')
    def set_scaling_pvar(self):
        if not self.scaling_pvar:
            sizes = self.expected_sizes
            size = sizes[-1] if self.metric == 'bw' else (8 if 8 in sizes else sizes[0])
            self.scaling_pvar = f'{self.metric}_{osu.size_label(size)}'

    @property
    def metric(self):
        return BENCHMARKS[self.benchmark][0]

    @property
    def expected_sizes(self):
        return osu.message_sizes(BENCHMARKS[self.benchmark][2], self.max_message_size)

    @run_after('setup')
    def set_tasks(self):
        if BENCHMARKS[self.benchmark][3]:
            # point to point: two ranks, on two nodes when there are two
            self.skip_if(self.num_nodes > 2, 'point-to-point uses at most 2 nodes')
            self.num_tasks = 2
            self.num_tasks_per_node = 1 if self.num_nodes == 2 else 2
        else:
            per_node = self.tasks_per_node or self.current_partition.processor.num_cpus or 2
            self.num_tasks_per_node = per_node
            self.num_tasks = per_node * self.num_nodes

    @run_after('setup')
    def set_executable(self):
        builtdir = self.osu_build.stagedir
        opts = ['-m', f'{BENCHMARKS[self.benchmark][2]}:{self.max_message_size}']
        for flag, value in (('-i', self.num_iters), ('-x', self.num_warmup)):
            if value is not None:
                opts += [flag, str(value)]
        if self.implementation == 'hpcval':
            for flag, value in (('-I', self.num_iters_large), ('-X', self.num_warmup_large)):
                if value is not None:
                    opts += [flag, str(value)]
            binary = os.path.join(builtdir, 'osu_mpi')
            self.executable = shlex.quote(binary)
            self.executable_opts = shell_words([self.benchmark] + opts)
            # in an image: the image's own build of the same source
            self.container_command = ' '.join(['/opt/hpcval/bin/osu_mpi'] + self.executable_opts)
            self.setup_container()
        else:
            self.skip_if(self.runtime != 'bare', 'real OSU binaries are run bare only')
            binary = self._find_osu_binary(BENCHMARKS[self.benchmark][1])
            self.skip_if(binary is None, f'no {BENCHMARKS[self.benchmark][1]} in OSU_DIR or PATH')
            self.executable = shlex.quote(binary)
            self.executable_opts = shell_words(opts)
            # Real OSU binaries do not print the library: a probe built with the
            # same MPI wrapper and launched the same way prints it first.
            launcher = self.job.launcher.run_command(self.job)
            self.prerun_cmds = [f'{launcher} {shlex.quote(os.path.join(builtdir, "osu_mpi"))} version']
        self.benchmark_binary = (f'{self.container_image}:/opt/hpcval/bin/osu_mpi'
                                 if self.runtime != 'bare' else binary)

    def _find_osu_binary(self, name):
        if self.osu_dir:
            for root, _, files in os.walk(self.osu_dir):
                if name in files:
                    return os.path.join(root, name)
            return None
        return shutil.which(name)

    @sanity_function
    def validate(self):
        killed = job_problems(self._stderr_text())
        try:
            out = osu.parse(self._stdout_text())
        except (OSError, osu.OsuParseError) as err:
            return assert_no_problems(killed + [f'unreadable OSU output: {err}'], self.benchmark)
        problems = killed + osu.problems(out, self.expected_sizes, self.metric)
        if self.implementation == 'hpcval' and out.validation != 'Pass':
            problems.append('no "# Validation: Pass" line')
        problems += self.provenance_problems()
        problems += self.container_problems(self._stdout_text())
        largest = out.values.get(max(self.expected_sizes)) if self.metric == 'bw' else None
        problems += self.fabric_problems(self._stdout_text(), self._stderr_text(), largest)
        return assert_no_problems(problems, self.benchmark)

    @run_before('performance')
    def set_perf_variables(self):
        unit = 'us' if self.metric == 'latency' else 'MB/s'
        self.perf_variables = {
            f'{self.metric}_{osu.size_label(size)}':
                sn.make_performance_function(self._value_at(size), unit)
            for size in self.expected_sizes
        }

    @sn.deferrable
    def _value_at(self, size):
        return osu.parse(self._stdout_text()).values[size]
