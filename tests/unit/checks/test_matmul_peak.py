import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

SRC = Path(__file__).resolve().parents[3] / 'checks' / 'src' / 'matmul_bench.py'
spec = importlib.util.spec_from_file_location('matmul_bench', SRC)
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)


@pytest.mark.parametrize('flags,vendor,family,model,expected', [
    ('fpu sse2 avx avx2 fma avx512f', 'GenuineIntel', 6, 85, 32),     # Skylake-SP
    ('sse2 avx avx2 fma', 'GenuineIntel', 6, 63, 16),                 # Haswell
    ('sse2 avx avx2 fma', 'AuthenticAMD', 0x17, 0x01, 8),             # Zen 1 (Naples)
    ('sse2 avx avx2 fma', 'AuthenticAMD', 0x17, 0x31, 16),            # Zen 2 (Rome)
    ('sse2 avx avx2 fma', 'AuthenticAMD', 0x19, 0x01, 16),            # Zen 3
    ('sse2 avx', 'GenuineIntel', 6, 45, 8),                           # Sandy Bridge
    ('sse sse2', 'GenuineIntel', 6, 26, 4),
    ('fp asimd', '', 0, 0, 8),
])
def test_flops_per_cycle(flags, vendor, family, model, expected):
    assert mb.flops_per_cycle(flags.split(), vendor, family, model)[0] == expected


def test_clock_from_model_name_beats_cpu_mhz(tmp_path):
    info = {'model name': 'Intel(R) Xeon(R) Platinum 8174 CPU @ 3.10GHz', 'cpu MHz': '2700.0'}
    assert mb.nominal_clock_ghz(info, sysfs=str(tmp_path)) == (3.1, 'model name')


def test_clock_falls_back_to_cpufreq_then_cpu_mhz(tmp_path):
    (tmp_path / 'base_frequency').write_text('2300000\n')
    assert mb.nominal_clock_ghz({'model name': 'AMD EPYC', 'cpu MHz': '1996.25'},
                                sysfs=str(tmp_path)) == (2.3, 'cpufreq/base_frequency')
    clock, src = mb.nominal_clock_ghz({'model name': 'AMD EPYC', 'cpu MHz': '1996.25'},
                                      sysfs=str(tmp_path / 'none'))
    assert clock == pytest.approx(1.99625) and src == 'cpuinfo cpu MHz'


def test_node_peak_is_cores_times_clock_times_flops():
    args = SimpleNamespace(cores=48, clock_ghz=0, flops_per_cycle=0, peak_gflops=0)
    info = {'model name': 'Intel(R) Xeon(R) Platinum 8174 CPU @ 3.10GHz', 'flags': 'avx2 fma avx512f',
            'vendor_id': 'GenuineIntel', 'cpu family': '6', 'model': '85'}
    peak, how = mb.node_peak(args, info)
    assert peak == pytest.approx(48 * 3.1 * 32)
    assert '48 cores' in how and '32 FLOP/cycle' in how
    # float32: twice the lanes of the same vector units
    peak32, how32 = mb.node_peak(args, info, 'float32')
    assert peak32 == pytest.approx(2 * peak) and how32.endswith('x 2 for float32')


def test_site_overrides_win():
    info = {'flags': 'avx2 fma avx512f', 'cpu MHz': '2000'}
    args = SimpleNamespace(cores=2, clock_ghz=2.5, flops_per_cycle=16, peak_gflops=0)
    assert mb.node_peak(args, info)[0] == pytest.approx(2 * 2.5 * 16)
    args.peak_gflops = 99.0
    assert mb.node_peak(args, info) == (99.0, 'site config')
    # the site's peak is the float64 one
    assert mb.node_peak(args, info, 'float32')[0] == pytest.approx(198.0)


def test_read_cpuinfo_counts_processors(tmp_path):
    f = tmp_path / 'cpuinfo'
    f.write_text('processor\t: 0\nmodel name\t: X\nflags\t: sse2 avx\n\nprocessor\t: 1\nmodel name\t: Y\n\n')
    info = mb.read_cpuinfo(str(f))
    assert info['_nlogical'] == 2 and info['model name'] == 'X'


@pytest.mark.parametrize('backend', ['numpy', 'tensorflow'])
@pytest.mark.parametrize('dtype', ['float64', 'float32'])
def test_matmul_is_validated(backend, dtype):
    np = pytest.importorskip('numpy')
    tf = pytest.importorskip('tensorflow') if backend == 'tensorflow' else None
    rates, ok = mb.matmul_rates(64, 2, np, dtype, backend, tf)
    assert ok and len(rates) == 2 and all(r > 0 for r in rates)


def test_a_wrong_product_fails_freivalds(monkeypatch):
    np = pytest.importorskip('numpy')
    tf = pytest.importorskip('tensorflow')
    # a kernel that drops one element of the product
    real = tf.linalg.matmul
    monkeypatch.setattr(tf.linalg, 'matmul', lambda a, b: tf.tensor_scatter_nd_update(
        real(a, b), [[3, 5]], [0.0]))
    assert mb.matmul_rates(64, 1, np, 'float32', 'tensorflow', tf)[1] is False
