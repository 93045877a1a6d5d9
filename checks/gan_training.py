"""Data-parallel TensorFlow training of a small 3D GAN (after CERN's 3DGAN) over MPI.

checks/src/gan3d_train.py trains a conditional GAN on synthetic 25^3
calorimeter showers; every step the gradients of both networks are averaged
in one fused MPI allreduce (mpi4py) and every rank applies the same update.
Weights are compared across ranks; a loss that turns NaN or ranks whose
weights drift apart fail sanity with that reason.

``mode``: strong (``batch`` is the global batch, split over the ranks) or
weak (``batch`` per rank).  ``ranks_per_node`` sweeps ranks on one node;
``num_nodes`` (``hpcval run --nodes``) sweeps nodes.  The defaults run a
case in well under a minute on a 2-core machine; on a real system raise
``batch``, ``steps`` and the filter counts with ``-S``.
"""
import os
import re
import shlex
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import (parameter, run_after, run_before,
                                   sanity_function, variable)

sys.path.insert(0, os.path.dirname(__file__))
from common.containers import ContainerMixin                    # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words, unbind_for_threads)

_SUMMARY = {
    'samples_per_s': (r'^# Samples per second: ([0-9.]+)$', 'samples/s'),
    'step_time': (r'^# Median step time: ([0-9.]+) s$', 's'),
    'allreduce_share': (r'^# Allreduce share: ([0-9.]+) %$', '%'),
    'allreduce_time': (r'^# Median allreduce time: ([0-9.]+) s$', 's'),
}


@rfm.simple_test
class GanTraining(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin):
    descr = '3D GAN training step, data-parallel over MPI (fused gradient allreduce)'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'ml', 'tensorflow', 'gan'}
    mode = parameter(['strong', 'weak'], type=str, loggable=True)
    ranks_per_node = parameter([1], type=int, loggable=True)
    workload = variable(str, value='gan_training', loggable=True)
    #: what the check is, so how the report analyses it (hpcval.analysis.roles)
    role = variable(str, value='application', loggable=True)
    #: the analysis reads these: how to scale, and which number is the headline
    scaling_mode = variable(str, value='', loggable=True)
    scaling_pvar = variable(str, value='samples_per_s', loggable=True)
    #: global batch (strong) or batch per rank (weak)
    batch = variable(int, value=8, loggable=True)
    steps = variable(int, value=8, loggable=True)
    warmup = variable(int, value=2, loggable=True)
    latent = variable(int, value=64, loggable=True)
    gen_filters = variable(int, value=8, loggable=True)
    disc_filters = variable(int, value=8, loggable=True)
    check_every = variable(int, value=4)
    #: TensorFlow threads per rank; 0: the node's cores shared out over its ranks
    threads = variable(int, value=0, loggable=True)
    seed = variable(int, value=1234)
    #: fault injection for the harness's own tests: 'nan:STEP' or 'diverge:STEP'
    inject = variable(str, value='')
    python = variable(str, value=sys.executable)
    ranks = variable(int, value=0, loggable=True)
    global_batch = variable(int, value=0, loggable=True)
    tensorflow_version = variable(str, value='', loggable=True)
    container_image = 'tensorflow'

    @run_after('setup')
    def set_job(self):
        self.scaling_mode = self.mode
        self.ranks = self.num_nodes * self.ranks_per_node
        self.num_tasks = self.ranks
        self.num_tasks_per_node = self.ranks_per_node
        cores = self.current_partition.processor.num_cores or os.cpu_count() or 1
        threads = self.threads or max(1, cores // self.ranks_per_node)
        self.num_cpus_per_task = threads
        if self.mode == 'strong':
            # a bad split fails here, before a job is submitted
            if self.batch % self.ranks:
                raise ValueError(f'strong mode: batch {self.batch} does not split over {self.ranks} ranks')
            self.global_batch = self.batch
        else:
            self.global_batch = self.batch * self.ranks
        # oneDNN's own OpenMP pool would otherwise take every core in every rank
        self.env_vars.update({'OMP_NUM_THREADS': str(threads), 'TF_CPP_MIN_LOG_LEVEL': '2'})
        opts = ['--mode', self.mode, '--batch', str(self.batch), '--steps', str(self.steps),
                '--warmup', str(self.warmup), '--latent', str(self.latent),
                '--gen-filters', str(self.gen_filters), '--disc-filters', str(self.disc_filters),
                '--threads', str(threads), '--check-every', str(self.check_every),
                '--seed', str(self.seed)]
        if self.inject:
            opts += ['--inject', self.inject]
        opts = shell_words(opts)
        self.executable = shlex.quote(self.python)
        self.executable_opts = shell_words([os.path.join(self.stagedir, 'gan3d_train.py')]) + opts
        self.container_command = ' '.join(['python3', '/rfm_workdir/gan3d_train.py'] + opts)
        self.setup_container()

    @run_before('run')
    def threads_everywhere(self):
        unbind_for_threads(self)

    def _field(self, text, name):
        m = re.search(rf'^# {name}: (.*)$', text, re.M)
        return m.group(1).strip() if m else None

    @sanity_function
    def validate(self):
        problems = job_problems(self._stderr_text())
        try:
            text = self._stdout_text()
        except OSError as err:
            return assert_no_problems(problems + [f'no output: {err}'], 'gan')
        error = re.search(r'^ERROR: (.*)$', text, re.M)
        if error:
            problems.append(error.group(1))
        finite = self._field(text, 'Losses finite')
        if finite is None:
            problems.append('the trainer did not finish (no "Losses finite" line)')
        elif finite != 'yes':
            problems.append(f'loss became non-finite: {finite[4:-1] if finite.startswith("no (") else finite}')
        in_sync = self._field(text, 'Weights in sync')
        if in_sync is not None and in_sync.startswith('no'):
            problems.append(f'ranks diverged: weights differ across ranks, '
                            f'{in_sync[4:-1] if in_sync.startswith("no (") else in_sync}')
        ranks = self._field(text, 'Ranks')
        if ranks is not None and int(ranks) != self.ranks:
            problems.append(f'{ranks} ranks ran, {self.ranks} were asked for')
        if not problems and self._field(text, 'Validation') != 'Pass':
            problems.append('no "# Validation: Pass" line')
        for pvar, (pattern, _) in _SUMMARY.items():
            if not finite or finite != 'yes':
                break
            if not re.search(pattern, text, re.M):
                problems.append(f'no {pvar} in the summary')
        self.tensorflow_version = (re.search(r'^# tensorflow (\S+)', text, re.M) or [None, ''])[1]
        problems += self.provenance_problems()
        problems += self.container_problems(text)
        return assert_no_problems(problems, 'gan')

    @run_before('performance')
    def set_perf_variables(self):
        self.perf_variables = {pvar: sn.make_performance_function(self._summary(pattern), unit)
                               for pvar, (pattern, unit) in _SUMMARY.items()}

    @sn.deferrable
    def _summary(self, pattern):
        return float(re.search(pattern, self._stdout_text(), re.M).group(1))
