"""checks/src/fma_peak.c, built as the fixture builds it: its line is what the check parses,
a bad argument is exit 2 with one line, never a number."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parents[3] / 'checks'
spec = importlib.util.spec_from_file_location('hpcval_matmul_check', CHECKS / 'matmul.py')
matmul = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = matmul          # ReFrame finds a check's file through its module
spec.loader.exec_module(matmul)

pytestmark = pytest.mark.skipif(not shutil.which('mpicc'), reason='needs the MPI compiler wrapper')


@pytest.fixture(scope='module')
def fma_peak(tmp_path_factory):
    exe = tmp_path_factory.mktemp('fma') / 'fma_peak'
    # the flags MpiSourceBuild gives it, plus the build fixture's own
    subprocess.run(['mpicc', '-O2', '-Wall', *matmul.build_fma_peak.cflags, str(CHECKS / 'src' / 'fma_peak.c'),
                    '-o', str(exe)], check=True)
    return exe


@pytest.mark.parametrize('precision,word', [('double', 'doubles'), ('float', 'floats')])
def test_the_line_parses_and_the_rate_is_positive(fma_peak, precision, word):
    out = subprocess.run([fma_peak, '0.05', '1', precision], capture_output=True, text=True, check=True).stdout
    nodes = matmul.parse_node_rates(out)
    (figs,) = nodes.values()
    assert figs['measured_peak'] > 0
    ((_, _, how),) = matmul._MEASURED.findall(out)
    assert f' {word} x 2 FLOP x 12 chains' in how and 'threads x' in how


def test_float_peaks_at_least_as_high_as_double(fma_peak):
    '''Twice the elements per vector: a lower float peak would mean a broken kernel.'''
    rate = {p: next(iter(matmul.parse_node_rates(subprocess.run(
        [fma_peak, '0.1', '3', p], capture_output=True, text=True, check=True).stdout).values()))['measured_peak']
        for p in ('double', 'float')}
    assert rate['float'] > 1.2 * rate['double'], rate


@pytest.mark.parametrize('args', [['0'], ['-1'], ['x'], ['0.1', '0'], ['0.1', '1', 'half']])
def test_bad_arguments_are_exit_2_and_one_line(fma_peak, args):
    proc = subprocess.run([fma_peak, *args], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ''
    assert len(proc.stderr.strip().splitlines()) == 1 and 'usage' in proc.stderr
