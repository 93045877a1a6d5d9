"""A user's own application, described by a campaign's ``app:`` section.

``hpcval run --campaign FILE`` validates the section (hpcval/campaign.py),
writes it to the run folder as app.json and names that file in
``$HPCVAL_APP``; when ReFrame loads this module the test class is made from
it, named after the application (``app.name``: the report's check column),
with a ``mode`` parameter (strong, weak) and a ``ranks_per_node`` one.  Without
``$HPCVAL_APP`` the module defines no test.

Each rank runs under checks/src/app_launch.py, which proves from the running
program's memory map which MPI library it loaded (a foreign binary prints no
``# MPI Library:`` line of its own); sanity fails when a rank loaded none,
another than the variant asked for (ContainerMixin: ``mpi=host`` must load
the injected library under /opt/hostmpi), ended with a non-zero status, or
when the section's ``sanity`` regex or a figure's regex does not match the
output.  ``app.inputs`` are copied into the stage directory, the working
directory of a bare run and /rfm_workdir (bound from outside) in a container.
"""
import os
import re
import shlex
import shutil
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import parameter, run_after, run_before, sanity_function, variable
from reframe.core.meta import make_test

sys.path.insert(0, os.path.dirname(__file__))
from common import appspec                                      # noqa: E402
from common.containers import ContainerMixin                    # noqa: E402
from common.mixins import (NodeCountMixin, ProvenanceMixin,     # noqa: E402
                           assert_no_problems, job_problems, shell_words, unbind_for_threads)

#: `hpcval run --system NAME` with no check named leaves this module out: it needs an app: section
WHOLE_SYSTEM_SWEEP = False


class AppBase(rfm.RunOnlyRegressionTest, NodeCountMixin, ProvenanceMixin, ContainerMixin):
    '''What every application test made from an ``app:`` section shares (not a test itself).'''
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'app'}
    #: the section as loaded (checks.common.appspec), set by the class made from it
    app_spec = {}
    role = variable(str, value='application', loggable=True)
    workload = variable(str, value='', loggable=True)
    scaling_mode = variable(str, value='', loggable=True)
    scaling_pvar = variable(str, value='', loggable=True)
    #: pvar -> higher/lower as JSON: the units of an application say nothing (tau/day)
    better_overrides = variable(str, value='', loggable=True)
    threads = variable(int, value=1, loggable=True)
    ranks = variable(int, value=0, loggable=True)
    #: work units (timesteps) one run does: a production plan scales node-hours from it
    steps = variable(int, type(None), value=None, loggable=True)
    #: the command each rank ran, placeholders filled in
    app_command = variable(str, value='', loggable=True)
    app_campaign = variable(str, value='', loggable=True)

    @run_after('init')
    def need_an_image(self):
        image = self.app_spec.get('image', 'bare')
        self.skip_if(self.runtime != 'bare' and image == 'bare',
                     f'{self.app_spec.get("name")} names no image (app.image): it runs bare only')
        if image != 'bare':
            self.container_image = image

    @run_after('setup')
    def set_job(self):
        spec = self.app_spec
        self.workload = spec['name']
        self.app_campaign = spec.get('campaign', '')
        self.scaling_mode = self.mode
        self.scaling_pvar = appspec.fom_name(spec)
        self.better_overrides = appspec.better(spec)
        self.ranks = self.num_nodes * self.ranks_per_node
        self.num_tasks = self.ranks
        self.num_tasks_per_node = self.ranks_per_node
        self.num_cpus_per_task = self.threads
        values = appspec.placeholders(self.mode, self.num_nodes, self.ranks_per_node, self.threads, self.steps)
        words = appspec.command_words(spec['command'], values)
        self.app_command = shlex.join(words)
        if spec.get('output'):
            self.keep_files = [spec['output']]
        self.env_vars.update({'OMP_NUM_THREADS': str(self.threads),
                              **{k: str(v) for k, v in (spec.get('env') or {}).items()}})
        self.executable = 'python3'
        self.executable_opts = shell_words([os.path.join(self.stagedir, 'app_launch.py'), '--'] + words)
        self.container_command = ' '.join(shell_words(['python3', '/rfm_workdir/app_launch.py', '--'] + words))
        self.setup_container()

    @run_before('run')
    def stage_inputs(self):
        '''The inputs, copied into the stage directory (data come from outside any image).'''
        for src in self.app_spec.get('inputs') or []:
            dst = os.path.join(self.stagedir, os.path.basename(src))
            if os.path.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)

    @run_before('run')
    def threads_everywhere(self):
        if self.threads > 1:
            unbind_for_threads(self)

    def _output(self, stdout):
        '''(text the regexes read, where it came from): ``app.output`` or stdout.'''
        name = self.app_spec.get('output')
        if not name:
            return stdout, 'stdout'
        try:
            with open(os.path.join(self.stagedir, name)) as fp:
                return fp.read(), name
        except OSError:
            return '', name

    @sanity_function
    def validate(self):
        spec, name = self.app_spec, self.app_spec['name']
        problems = job_problems(self._stderr_text())
        try:
            text = self._stdout_text()
        except OSError as err:
            return assert_no_problems(problems + [f'no output: {err}'], name)
        reports = appspec.rank_reports(text)
        problems += appspec.rank_problems(reports, self.ranks)
        self.hosts = appspec.hosts(reports) or self.hosts
        out, where = self._output(text)
        if not re.search(spec['sanity'], out, re.M):
            problems.append(f'sanity regex {spec["sanity"]!r} did not match the output ({where})')
        for fig in appspec.figures(spec):
            if appspec.read_figure(out, fig['regex']) is None:
                problems.append(f'figure {fig["name"]}: {fig["regex"]!r} found no number in the output ({where})')
        problems += self.provenance_problems()
        problems += self.container_problems(appspec.library_paths_line(reports))
        return assert_no_problems(problems, name)

    @run_before('performance')
    def set_perf_variables(self):
        pv = {}
        if self.app_spec['fom'] == appspec.WALL_TIME:
            pv[appspec.WALL_TIME] = sn.make_performance_function(self._job_time(), 's')
        for fig in appspec.figures(self.app_spec):
            pv[fig['name']] = sn.make_performance_function(self._figure(fig['regex']), fig['unit'])
        self.perf_variables = pv

    @sn.deferrable
    def _figure(self, regex):
        return appspec.read_figure(self._output(self._stdout_text())[0], regex)

    @sn.deferrable
    def _job_time(self):
        return self.job_seconds


def make(spec):
    '''The test class of an app section: named after the application; its ``mode`` and
    ``ranks_per_node`` parameters from the section's lists.'''
    body = {'app_spec': spec, 'mode': parameter(list(spec['mode']), type=str, loggable=True),
            'ranks_per_node': parameter([int(n) for n in spec['ranks_per_node']], type=int, loggable=True),
            'threads': int(spec.get('threads', 1)),
            'steps': spec.get('steps'),
            'descr': f'{spec["name"]}: {spec["command"]} (an application of a campaign app: section)'}
    return make_test(spec['name'], (AppBase,), body, module=__name__)


_SPEC = appspec.load()
if _SPEC:
    rfm.simple_test(make(_SPEC))
