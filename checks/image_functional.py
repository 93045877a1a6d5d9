"""Does an image work here, before anything is measured in it.

``probe=smoke``: the image's own smoke test (the command recorded when it
was built or imported) runs on a compute node; its size is a performance
variable.  ``probe=mpi``: checks/src/mpi_abi_probe.py, started by the
partition's launcher on two ranks inside the image, initialises MPI and
reports what it loaded:

* ``mpi=host``: the host MPI injected (the bind model, as for every
  workload); it must be the library loaded, the world must hold every rank,
  and the image's MPI must be ABI-compatible with the host's (soname,
  vendor and version from ``MPI_Get_library_version``, common/mpiabi.py).
  The failure says why in one line.
* ``mpi=bundled``: the image's own MPI; it must be loaded and form the world.

``hpcval validate-image`` runs these on the candidate and the current image
first; the $HOME trap is checks/container_env.py.
"""
import os
import shlex
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.backends import getlauncher
from reframe.core.builtins import parameter, run_after, run_before, sanity_function, variable

sys.path.insert(0, os.path.dirname(__file__))
from common import mpiabi                                           # noqa: E402
from common.containers import ContainerMixin, image_folder, stored_entry  # noqa: E402
from common.mixins import ProvenanceMixin, assert_no_problems      # noqa: E402

RANKS = 2


@rfm.simple_test
class ImageFunctional(rfm.RunOnlyRegressionTest, ProvenanceMixin, ContainerMixin):
    descr = "an image's smoke test, host-MPI injection with ABI compatibility, and its bundled MPI"
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    tags = {'containers', 'functional'}
    probe = parameter(['smoke', 'mpi'], type=str, loggable=True)
    runtime = parameter(['charliecloud'], type=str, loggable=True)
    mpi = parameter(['host', 'bundled'], type=str, loggable=True)
    workload = variable(str, value='image_functional', loggable=True)
    role = variable(str, value='environment', loggable=True)
    container_image = 'openmpi'
    python = variable(str, value=sys.executable)
    #: what the probe found: the image's MPI and the host's, and the verdict's reason
    image_mpi = variable(str, value='', loggable=True)
    host_mpi_library = variable(str, value='', loggable=True)
    abi_reason = variable(str, value='', loggable=True)
    smoke_command = variable(str, value='', loggable=True)
    image_bytes = variable(int, value=0, loggable=True)
    executable = 'true'

    @run_after('init')
    def one_smoke(self):
        self.skip_if(self.probe == 'smoke' and self.mpi != 'host', 'the smoke test runs once per image')
        self.skip_if(self.runtime == 'bare', 'the functional checks are of an image')

    @run_after('setup')
    def set_job(self):
        self.num_tasks = 1 if self.probe == 'smoke' else RANKS
        self.num_tasks_per_node = self.num_tasks
        if self.probe == 'smoke':
            self.mpi = ''
        self.container_command = 'python3 /rfm_workdir/mpi_abi_probe.py --init'
        self.setup_container()
        if self.probe == 'smoke':
            self.container_platform.command = 'sh -c ' + shlex.quote(self._smoke())
        if self.probe == 'mpi' and self.mpi == 'host':
            probe = shlex.quote(os.path.join(self.stagedir, 'mpi_abi_probe.py'))
            self.prerun_cmds = self.prerun_cmds + [f'{shlex.quote(self.python)} {probe} > host-mpi.txt']

    def _smoke(self):
        entry = stored_entry(self.image, image_folder(self.current_partition))
        self.smoke_command = (entry.get('test') or {}).get('command') or 'true'
        self.image_bytes = int(((entry.get('formats') or {}).get('dir') or {}).get('bytes') or 0)
        return self.smoke_command

    @run_before('run')
    def no_launcher_for_smoke(self):
        if self.probe == 'smoke':          # one process, as `hpcval image test` ran it
            self.job.launcher = getlauncher('local')()

    @sanity_function
    def validate(self):
        try:
            text = self._stdout_text()
        except OSError as err:
            return sn.assert_true(False, msg=f'no output: {err}')
        if self.probe == 'smoke':
            return sn.assert_true(True)
        problems = []
        found = mpiabi.parse_probe(text)
        image = mpiabi.own(found)
        library = ' '.join((image['library'] or 'unknown').split())
        self.image_mpi = f"{library} ({image['soname'] or 'no soname'})"
        if found.get('world') != str(RANKS):
            problems.append(f"MPI_Init formed a world of {found.get('world', 'no')} rank(s), not the "
                            f'{RANKS} the launcher started (the launcher and the MPI do not speak)')
        if self.mpi == 'host':
            try:
                with open(os.path.join(self.stagedir, 'host-mpi.txt')) as fp:
                    host = mpiabi.parse_probe(fp.read())
            except OSError:
                host = {}
            self.host_mpi_library = host.get('library', '')
            ok, self.abi_reason = mpiabi.compatible(image, host)
            if not ok:
                problems.insert(0, f'host MPI cannot be injected: {self.abi_reason}')
        problems += self.container_problems(text)
        return assert_no_problems(problems, f'image {self.image}')
