"""The $HOME trap: what a containerized job really sees.

At LRZ a Julia package path under $HOME broke inside Charliecloud because the
container saw the host's HOME.  This check runs a probe in an image with the
user's home mounted (``ch-run --home``, as sites do) and a host HOME that
holds its own copies of two packages: a Python user-site package and a
Julia-style depot package.  The image holds the same two.  Each lookup
resolves either to the image or to the host HOME.

``env_setup`` (loggable):
  host-env     ``ch-run --home``: host environment, host HOME   (2 hazards)
  image-env    ``+ --set-env``: the image's ENV applied          (the depot still under HOME)
  recommended  ``+ --set-env=HOME=$HPCVAL_IMAGE_HOME``, no host HOME mounted

Every setup reports its hazards (``hazards`` pvar, ``resolved`` field); the
check passes only when every lookup resolves to the image, which only the
recommended setup achieves: run the others with ``-P env_setup=...`` to show the
hazard.
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
from common.containers import find_image, image_folder, image_ref       # noqa: E402,F401 (registers Charliecloud)
from common.mixins import ProvenanceMixin, assert_no_problems  # noqa: E402

SETUPS = ('host-env', 'image-env', 'recommended')
_LOOKUP = re.compile(r'^lookup (\w+) \S+: (.*)$', re.M)


@rfm.simple_test
class ContainerEnvIsolation(rfm.RunOnlyRegressionTest, ProvenanceMixin):
    descr = 'HOME, image ENV and HOME-dependent package lookups inside a container'
    valid_systems = ['*']
    valid_prog_environs = ['*']
    tags = {'containers', 'environment'}
    env_setup = parameter(['recommended'], type=str, loggable=True)
    workload = variable(str, value='container_env', loggable=True)
    #: what the check is, so how the report analyses it (hpcval.analysis.roles)
    role = variable(str, value='environment', loggable=True)
    runtime = variable(str, value='charliecloud', loggable=True)
    container_image = variable(str, value='base', loggable=True)
    #: NAME[:TAG] of the image probed (default: ``container_image``, tag current)
    image = parameter([''], type=str, loggable=True)
    image_format = variable(str, value='', loggable=True)
    #: where each lookup resolved, e.g. "python=host-home,julia=image"
    resolved = variable(str, value='', loggable=True)
    num_tasks = 1
    executable = 'true'       # replaced by the container command

    @run_after('init')
    def check_setup(self):
        if self.env_setup not in SETUPS:
            raise ValueError(f'env_setup must be one of {", ".join(SETUPS)}, not {self.env_setup!r}')

    @run_after('setup')
    def set_container(self):
        part = self.current_partition
        self.image_format = part.extras.get('charliecloud', {}).get('image_format', 'dir')
        self.image = image_ref(self, self.container_image)
        path, self.image_digest = find_image(self.image, self.image_format, image_folder(part))
        self.container_platform = 'Charliecloud'
        cp = self.container_platform
        cp.image = path
        cp.command = 'sh /rfm_workdir/env_probe.sh'
        cp.join = False
        cp.set_image_env = self.env_setup != 'host-env'
        if self.env_setup == 'recommended':
            cp.env_vars = {'HOME': '$HPCVAL_IMAGE_HOME'}
        else:
            cp.options = ['--home']
        # The user's home for this job: a stage-local one holding the host-side
        # copies of the packages, so the real HOME is never touched.
        home = shlex.quote(os.path.join(self.stagedir, 'host-home'))
        self.prerun_cmds = [
            f'mkdir -p {home}/.local/lib/python3.11/site-packages/hpcval_probe '
            f'{home}/.julia/packages/HpcvalProbe',
            f'echo "ORIGIN = \'host-home\'" > {home}/.local/lib/python3.11/site-packages/hpcval_probe/__init__.py',
            f'echo host-home > {home}/.julia/packages/HpcvalProbe/ORIGIN',
            f'export HOME={home}',
        ]

    def _lookups(self):
        text = self._stdout_text()
        out = {}
        for lang, where in _LOOKUP.findall(text):
            out[lang] = ('image' if where.endswith(' image') else
                         'host-home' if where.endswith(' host-home') else 'not found')
        return out

    @sanity_function
    def validate(self):
        try:
            found = self._lookups()
        except OSError as err:
            return sn.assert_true(False, msg=f'no probe output: {err}')
        self.resolved = ','.join(f'{k}={v}' for k, v in sorted(found.items()))
        problems = [f'probe reported no {lang} lookup' for lang in ('python', 'julia') if lang not in found]
        problems += [f'{lang} package resolved to {where}, not the image ($HOME trap)'
                     for lang, where in sorted(found.items()) if where != 'image']
        return assert_no_problems(problems, f'env_setup={self.env_setup}')

    @run_before('performance')
    def set_perf_variables(self):
        self.perf_variables = {'hazards': sn.make_performance_function(self._hazards(), 'count')}

    @sn.deferrable
    def _hazards(self):
        return sum(v != 'image' for v in self._lookups().values())
