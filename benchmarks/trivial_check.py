"""N do-nothing test cases, to time what ReFrame itself costs per case."""
import os

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import parameter, sanity_function


@rfm.simple_test
class TrivialCase(rfm.RunOnlyRegressionTest):
    idx = parameter(range(int(os.environ.get('HPCVAL_TRIVIAL_CASES', '20'))))
    valid_systems = ['*']
    valid_prog_environs = ['*']
    executable = 'true'
    local = True            # no launcher: only ReFrame's own work is timed

    @sanity_function
    def ok(self):
        return sn.assert_true(True)
