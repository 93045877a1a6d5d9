import pytest

from hpcval.analysis.units import better
from hpcval.sizes import message_size


@pytest.mark.parametrize('unit,direction', [('s', 'lower'), ('us', 'lower'), ('ms', 'lower'),
                                            ('MB/s', 'higher'), ('GFLOP/s', 'higher'),
                                            ('samples/s', 'higher'), ('%', 'higher'),
                                            ('ops/s', 'higher'), ('widgets', ''), (None, '')])
def test_better_from_unit(unit, direction):
    assert better(unit) == direction


@pytest.mark.parametrize('pvar,size', [('latency_8B', 8), ('bw_4MiB', 4 << 20), ('latency_16KiB', 16384),
                                       ('gflops_n4096', None), ('nominal_peak', None)])
def test_message_size(pvar, size):
    assert message_size(pvar) == size
