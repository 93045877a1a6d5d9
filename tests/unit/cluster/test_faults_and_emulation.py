"""Fault specs and the emulation commands' input checks (no cluster needed)."""
import pytest

from hpcval.cluster import emulate, faults
from hpcval.cluster.errors import ClusterError


def test_fault_specs_parse_from_the_command_line_and_from_yaml():
    f = faults.parse('stop-slurmd:node=node2:after=30:for=40')
    assert (f.kind, f.node, f.after, f.duration, f.every) == ('stop-slurmd', 'node2', 30.0, 40.0, 0.0)
    assert f.describe() == 'stop-slurmd:node=node2:after=30:for=40'
    g = faults.parse({'kind': 'kill-rank', 'every': 20, 'after': 5})
    assert (g.kind, g.every, g.after, g.node) == ('kill-rank', 20.0, 5.0, '')


@pytest.mark.parametrize('spec, message', [
    ('reboot:node=node1', 'fault kind must be one of kill-rank, stop-slurmd'),
    ('kill-rank', 'kill-rank needs every=SECONDS'),
    ('stop-slurmd:node=node2', 'stop-slurmd needs node=NAME and for=SECONDS'),
    ('kill-rank:every=ten', 'could not convert'),
    ('kill-rank:every=5:colour=red', 'unknown key(s) colour'),
    ('kill-rank:every', "'every' is not NAME=VALUE"),
])
def test_bad_fault_specs_are_usage_errors(spec, message):
    with pytest.raises(ClusterError, match=message.replace('(', r'\(').replace(')', r'\)')):
        faults.parse(spec)


def test_emulation_needs_a_running_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv('HPCVAL_VCLUSTER_DIR', str(tmp_path / 'none'))
    with pytest.raises(ClusterError, match='vcluster is not up'):
        emulate.noise('node2')


@pytest.mark.parametrize('net, rate, message', [('ib', '5gbit', 'net must be one of eth, hsn'),
                                                ('hsn', 'fast', 'rate must look like')])
def test_bad_fabric_arguments(net, rate, message):
    with pytest.raises(ClusterError, match=message):
        emulate.fabric(net, rate)


def test_a_node_that_is_not_in_the_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv('HPCVAL_VCLUSTER_DIR', str(tmp_path))
    (tmp_path / 'state.json').write_text('{"nodes": 2}')
    with pytest.raises(ClusterError, match=r"no node 'node7' in the virtual cluster \(nodes: node1, node2\)"):
        emulate.noise('node7')


def test_a_bad_fault_spec_reaches_the_terminal_whole(capsys):
    '''The command line redacts its error lines: "key=value" in a message would read as a secret.'''
    from hpcval import cli
    assert cli.main(['run', '--fault', 'kill-rank:every', 'matmul']) == 2
    err = capsys.readouterr().err
    assert "'every' is not NAME=VALUE" in err and 'redacted' not in err
