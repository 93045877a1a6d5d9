"""The fabric proof: what the MPI said carried the bytes, against what was asked."""
from pathlib import Path
from types import SimpleNamespace

import pytest

from common.fabrics import PROOFS, FabricMixin

DATA = Path(__file__).parent / 'data'
# real Open MPI 4.1.4 output (OMPI_MCA_btl_base_verbose=100) from the virtual cluster
TWO_NODES = (DATA / 'openmpi_btl_verbose_hsn_2nodes.err').read_text()
ONE_NODE = (DATA / 'openmpi_btl_verbose_hsn_1node.err').read_text()


def test_openmpi_btl_between_nodes_and_on_node():
    assert PROOFS['openmpi-btl'](TWO_NODES) == ({'tcp:hsn0'}, set())
    assert PROOFS['openmpi-btl'](ONE_NODE) == (set(), {'vader'})


def test_libfabric_and_ucx_lines():
    assert PROOFS['libfabric']('MPI startup(): libfabric provider: psm2\n')[0] == {'psm2'}
    assert PROOFS['ucx']('[n1:1] select: component ucx selected\n')[0] == {'ucx'}
    assert PROOFS['ucx']('[n1:1] select: component ob1 selected\n')[0] == set()


FABRICS = {'hsn': {'proof': 'openmpi-btl', 'expect': 'tcp:hsn0', 'min_bw_MBps': 375},
           'tcp': {'proof': 'openmpi-btl', 'expect': 'tcp:eth0'}}


def _check(fabric, nodes):
    part = SimpleNamespace(extras={'fabrics': FABRICS}, fullname='vcluster:vc')
    return SimpleNamespace(fabric=fabric, num_nodes=nodes, transport='', current_partition=part)


@pytest.mark.parametrize('fabric, nodes, text, bw, fault', [
    ('hsn', 2, TWO_NODES, 1200.0, None),
    ('tcp', 2, TWO_NODES, 1200.0, 'fabric tcp asked for tcp:eth0 between nodes, the MPI used tcp:hsn0'),
    ('hsn', 2, TWO_NODES, 118.0, '118 MB/s at the largest message is under its floor of 375'),
    ('hsn', 2, ONE_NODE, None, 'did not say what carried traffic between nodes'),
    ('hsn', 1, ONE_NODE, 3000.0, None),          # on one node nothing crosses a fabric
    ('default', 2, '', None, None),
])
def test_sanity_fails_when_the_fabric_did_not_carry_the_bytes(fabric, nodes, text, bw, fault):
    c = _check(fabric, nodes)
    problems = FabricMixin.fabric_problems(c, text, '', bw)
    if fault is None:
        assert problems == []
    else:
        assert len(problems) == 1 and fault in problems[0]
    if fabric == 'hsn' and text is TWO_NODES:
        assert c.transport == 'between nodes tcp:hsn0'
