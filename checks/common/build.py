"""One C source of checks/src compiled with the environment's MPI compiler wrapper:
the base of the build fixtures (``build_osu_mpi``, ``build_smallfile_md``)."""
import os

import reframe as rfm
import reframe.utility.sanity as sn
import reframe.utility.typecheck as typ
from reframe.core.builtins import run_before, sanity_function, variable


class MpiSourceBuild(rfm.CompileOnlyRegressionTest):
    '''Set ``sourcepath`` (a file of checks/src) and ``executable``;
    ``libs``: extra ``-l`` flags; ``cflags``: extra compiler flags.'''
    build_system = 'SingleSource'
    valid_systems = ['*']
    valid_prog_environs = ['+mpi']
    libs = variable(typ.List[str], value=[])
    cflags = variable(typ.List[str], value=[])

    @run_before('compile')
    def set_flags(self):
        self.build_system.cflags = ['-O2', '-Wall'] + self.cflags
        self.build_system.ldflags = [f'-l{lib}' for lib in self.libs]
        self.build_system.executable = self.executable

    @sanity_function
    def built(self):
        return sn.assert_true(os.path.exists(os.path.join(self.stagedir, self.executable)),
                              msg=f'{self.executable} was not built')
