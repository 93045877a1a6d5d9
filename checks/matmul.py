"""Dense matrix multiply rate per node against the node's measured and nominal peak.

One MPI rank per node runs checks/src/matmul_bench.py with every core for
BLAS threads.  Before it, checks/src/fma_peak.c (built by a fixture, like
osu_mpi) runs on every node of the job, bare: independent FMA chains on
every CPU the node gives the job, the widest vector unit its CPU flags offer.
That is the node's measured peak, the limit "% of measured peak" is of.

``backend``: numpy (its BLAS) or tensorflow
(``tf.linalg.matmul``, the kernel the LRZ team measured in TFLOP/s);
``dtype``: float64 (DGEMM) or float32.  The nominal peak (cores x clock x
FLOP/cycle from the vector flags, x 2 for float32) is computed on the node;
a partition may override any factor in its ``extras``: ``peak_gflops`` (the
float64 peak), ``clock_ghz``, ``flops_per_cycle``.  The nominal figure
assumes the base clock; cores that boost above it make it lower than what
the hardware does, which is why the measured one comes first.

Per node: ``gflops_n<N>`` is the slowest node's median (it sets a
bulk-synchronous job's pace), ``measured_peak`` the lowest node's FMA peak
in the check's precision; ``node_rates`` (JSON) holds every node's figures,
from which the report takes the node-to-node spread and the outlier node.
"""
import json
import os
import re
import shlex
import sys

import reframe as rfm
import reframe.utility.sanity as sn
import reframe.utility.typecheck as typ
from reframe.core.builtins import (fixture, parameter, run_after, run_before,
                                   sanity_function, variable)

sys.path.insert(0, os.path.dirname(__file__))
from common.build import MpiSourceBuild                         # noqa: E402
from common.containers import ContainerMixin                    # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words, unbind_for_threads)

_ROW = re.compile(r'^(\d+)\s+([0-9.]+)\s+([0-9.]+)\s*$', re.M)
_PEAK = re.compile(r'^# Nominal peak:\s*([0-9.]+) GFLOP/s per node = (.*)$', re.M)
_MEASURED = re.compile(r'^# Measured peak: (\S+) ([0-9.]+) GFLOP/s = (.*)$', re.M)
_NODE_RATES = re.compile(r'^# Node rates n=(\d+): (.*)$', re.M)


class build_fma_peak(MpiSourceBuild):
    '''Compile fma_peak.c (OpenMP threads; no MPI calls, the wrapper is the compiler at hand).'''
    sourcepath = 'fma_peak.c'
    executable = 'fma_peak'
    cflags = ['-fopenmp']


def parse_node_rates(text):
    '''host -> {'measured_peak': GFLOP/s, 'gflops_n<N>': GFLOP/s} from the job's output.'''
    nodes = {}
    for host, rate, _ in _MEASURED.findall(text):
        nodes.setdefault(host, {})['measured_peak'] = float(rate)
    for n, pairs in _NODE_RATES.findall(text):
        for pair in pairs.split(','):
            host, _, rate = pair.partition('=')
            if host and rate:
                nodes.setdefault(host, {})[f'gflops_n{n}'] = float(rate)
    return nodes


@rfm.simple_test
class MatmulBench(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin):
    descr = 'GEMM GFLOP/s per node (numpy and TensorFlow, float64 and float32) against the measured and nominal peak'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'kernel', 'matmul'}
    backend = parameter(['numpy', 'tensorflow'], type=str, loggable=True)
    dtype = parameter(['float64', 'float32'], type=str, loggable=True)
    workload = variable(str, value='matmul', loggable=True)
    #: what the check is, so how the report analyses it (hpcval.analysis.roles)
    role = variable(str, value='kernel', loggable=True)
    sizes = variable(typ.List[int], value=[1024, 2048, 4096], loggable=True)
    reps = variable(int, value=5, loggable=True)
    python = variable(str, value=sys.executable)
    peak_derivation = variable(str, value='', loggable=True)
    #: run the FMA kernel on every node first (off: the nominal peak only)
    measure_peak = variable(bool, value=True, loggable=True)
    peak_seconds = variable(float, value=0.3)
    measured_peak_derivation = variable(str, value='', loggable=True)
    #: JSON: host -> its measured peak and GEMM medians
    node_rates = variable(str, value='', loggable=True)
    fma_build = fixture(build_fma_peak, scope='environment')
    #: the figure the report headlines: the rate at the largest matrix (set at setup)
    scaling_pvar = variable(str, value='', loggable=True)
    backend_version = variable(str, value='', loggable=True)
    #: the BLAS file(s) the product ran in (an image's libblas.so.3 alternative, a wheel's own)
    blas_library = variable(str, value='', loggable=True)
    #: numpy and mpi4py live in the TensorFlow image's venv
    container_image = 'tensorflow'

    @run_after('setup')
    def set_job(self):
        if not self.scaling_pvar:
            self.scaling_pvar = f'gflops_n{max(int(n) for n in self.sizes)}'
        self.num_tasks = self.num_nodes
        self.num_tasks_per_node = 1
        cores = self.current_partition.processor.num_cores
        if cores:
            self.num_cpus_per_task = cores
        extras = self.current_partition.extras
        self.executable = shlex.quote(self.python)
        self.executable_opts = [os.path.join(self.stagedir, 'matmul_bench.py'),
                                '--backend', self.backend, '--dtype', self.dtype,
                                '--sizes', ','.join(str(int(n)) for n in self.sizes),
                                '--reps', str(self.reps)]
        for key in ('peak_gflops', 'clock_ghz', 'flops_per_cycle'):
            if extras.get(key):
                self.executable_opts += [f'--{key.replace("_", "-")}', str(extras[key])]
        self.executable_opts = shell_words(self.executable_opts)
        # in an image: its python, the same script from the stage directory
        self.container_command = ' '.join(['python3', '/rfm_workdir/matmul_bench.py']
                                          + self.executable_opts[1:])
        self.setup_container()

    @run_before('run')
    def threads_everywhere(self):
        unbind_for_threads(self)
        if self.measure_peak:
            # bare on every node, under the job's own launcher (after the
            # unbinding: a bound rank would measure one core)
            launcher = self.job.launcher.run_command(self.job)
            binary = shlex.quote(os.path.join(self.fma_build.stagedir, 'fma_peak'))
            precision = 'float' if self.dtype == 'float32' else 'double'
            self.prerun_cmds = self.prerun_cmds + [f'{launcher} {binary} {float(self.peak_seconds)} 3 {precision}']

    def _rows(self):
        return {int(n): float(med) for n, med, _ in _ROW.findall(self._stdout_text())}

    @sanity_function
    def validate(self):
        try:
            text = self._stdout_text()
        except OSError as err:
            return sn.assert_true(False, msg=f'no output: {err}')
        rows = self._rows()
        problems = job_problems(self._stderr_text())
        problems += [f'no result for n={n}' for n in self.sizes if int(n) not in rows]
        problems += [f'non-positive rate for n={n}' for n, v in rows.items() if not v > 0]
        if '# Validation: Pass' not in text:
            problems.append('product failed the Freivalds check (or no validation line)')
        peak = _PEAK.search(text)
        if not peak or not float(peak.group(1)) > 0:
            problems.append('no nominal peak reported')
        else:
            self.peak_derivation = peak.group(2).strip()
        if self.measure_peak:
            measured = _MEASURED.findall(text)
            if len(measured) < self.num_nodes:
                problems.append(f'measured peak from {len(measured)} of {self.num_nodes} node(s)')
            elif not all(float(rate) > 0 for _, rate, _ in measured):
                problems.append('a measured peak is not positive')
            else:
                self.measured_peak_derivation = measured[0][2].strip()
        self.node_rates = json.dumps(parse_node_rates(text), sort_keys=True)
        blas = re.search(r'^# BLAS Library Path: (.*?)\s*$', text, re.M)
        self.blas_library = blas.group(1) if blas else ''
        version = re.search(rf'^# {re.escape(self.backend)} (\S+)', text, re.M)
        self.backend_version = version.group(1) if version else ''
        problems += self.provenance_problems()
        problems += self.container_problems(text)
        return assert_no_problems(problems, 'matmul')

    @run_before('performance')
    def set_perf_variables(self):
        self.perf_variables = {'nominal_peak': sn.make_performance_function(self._peak(), 'GFLOP/s')}
        if self.measure_peak:
            self.perf_variables['measured_peak'] = sn.make_performance_function(self._measured(), 'GFLOP/s')
        for n in self.sizes:
            n = int(n)
            self.perf_variables[f'gflops_n{n}'] = sn.make_performance_function(self._rate(n), 'GFLOP/s')
            self.perf_variables[f'peak_pct_n{n}'] = sn.make_performance_function(
                100.0 * self._rate(n) / self._peak(), '%')
            if self.measure_peak:
                self.perf_variables[f'measured_peak_pct_n{n}'] = sn.make_performance_function(
                    100.0 * self._rate(n) / self._measured(), '%')

    @sn.deferrable
    def _rate(self, n):
        return self._rows()[n]

    @sn.deferrable
    def _measured(self):
        '''The lowest node's FMA peak: what every node of the job reaches.'''
        return min(float(rate) for _, rate, _ in _MEASURED.findall(self._stdout_text()))

    @sn.deferrable
    def _peak(self):
        return float(_PEAK.search(self._stdout_text()).group(1))
