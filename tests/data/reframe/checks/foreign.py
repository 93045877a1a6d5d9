"""Checks written the way a ReFrame user writes them, not the way hpcval's are:
no loggable variables, no hpcval mixins, parameters only in the display name.

Each session of tests/data/reframe/generate.py runs all of them, so that every
release writes each kind of outcome:

- StreamLike: a compile fixture with a parameter (``%stream_binary.elem_type``),
  Copy and Triad in MB/s against a reference measured on the machine
  (``-S triad_ref=``, -50 %); ``-S slowdown=N`` runs each kernel N times per
  counted pass, a known slowdown (-75 %) that fails the reference (-50 %).
- TimerTest: a performance variable called ``perf`` (seconds) with a reference
  no run meets: a failure in the performance phase.
- SanityFail: output without the line the sanity function wants.
- SetupFail: a hook that raises in the setup phase.
- SkipTest: skipped in setup (``skip_if``).
"""
import os

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.builtins import (fixture, parameter, performance_function, run_after, run_before,
                                   sanity_function, variable)


class StreamBinary(rfm.CompileOnlyRegressionTest):
    elem_type = parameter(['float', 'double'])
    build_system = 'SingleSource'
    sourcepath = 'stream_like.c'
    executable = 'stream_like'

    @run_before('compile')
    def set_flags(self):
        self.build_system.cflags = ['-O2', f'-DELEM={self.elem_type}']
        self.build_system.executable = self.executable

    @sanity_function
    def built(self):
        return sn.assert_not_found(r'error', self.stderr)


@rfm.simple_test
class StreamLike(rfm.RunOnlyRegressionTest):
    valid_systems = ['*']
    valid_prog_environs = ['*']
    stream_binary = fixture(StreamBinary, scope='environment')
    elements = variable(int, value=1 << 23)     # 8 Mi elements: out of any cache
    slowdown = variable(int, value=1)
    triad_ref = variable(float, value=0.0)

    @run_before('run')
    def set_executable(self):
        self.executable = os.path.join(self.stream_binary.stagedir, self.stream_binary.executable)
        self.executable_opts = [str(self.elements), str(self.slowdown)]

    @run_before('performance')
    def set_reference(self):
        if self.triad_ref > 0:
            self.reference = {'*': {'Triad': (self.triad_ref, -0.5, None, 'MB/s'),
                                    'Copy': (self.triad_ref, -0.5, None, 'MB/s')}}

    @sanity_function
    def validate(self):
        return sn.assert_found(r'Solution Validates', self.stdout)

    @performance_function('MB/s', perf_key='Copy')
    def copy_bw(self):
        return sn.extractsingle(r'Copy:\s+(\S+)', self.stdout, 1, float)

    @performance_function('MB/s', perf_key='Triad')
    def triad_bw(self):
        return sn.extractsingle(r'Triad:\s+(\S+)', self.stdout, 1, float)


@rfm.simple_test
class TimerTest(rfm.RunOnlyRegressionTest):
    valid_systems = ['*']
    valid_prog_environs = ['*']
    executable = 'sh'
    executable_opts = ['-c', "'s=$(date +%s.%N); sleep 0.2; echo elapsed $s $(date +%s.%N)'"]
    reference = {'*': {'perf': (0.05, None, 0.1, 's')}}

    @sanity_function
    def validate(self):
        return sn.assert_found(r'^elapsed', self.stdout)

    @performance_function('s')
    def perf(self):
        start = sn.extractsingle(r'^elapsed (\S+) (\S+)', self.stdout, 1, float)
        end = sn.extractsingle(r'^elapsed (\S+) (\S+)', self.stdout, 2, float)
        return end - start


@rfm.simple_test
class SanityFail(rfm.RunOnlyRegressionTest):
    valid_systems = ['*']
    valid_prog_environs = ['*']
    executable = 'echo'
    executable_opts = ['Solution fails']

    @sanity_function
    def validate(self):
        return sn.assert_found(r'Solution Validates', self.stdout)


@rfm.simple_test
class SetupFail(rfm.RunOnlyRegressionTest):
    valid_systems = ['*']
    valid_prog_environs = ['*']
    executable = 'true'

    @run_after('setup')
    def find_input(self):
        # the input a site forgot to provide
        self.executable_opts = [os.environ['FOREIGN_INPUT_THAT_IS_NOT_SET']]

    @sanity_function
    def validate(self):
        return True


@rfm.simple_test
class SkipTest(rfm.RunOnlyRegressionTest):
    valid_systems = ['*']
    valid_prog_environs = ['*']
    executable = 'true'

    @run_after('setup')
    def needs_gpu(self):
        self.skip_if(True, 'needs a GPU')

    @sanity_function
    def validate(self):
        return True
