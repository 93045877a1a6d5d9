"""The virtual cluster's own checks and the slurm.conf it writes (no root needed)."""
import pytest

from cluster import vcluster
from hpcval import cli
from hpcval.errors import UsageError


def test_not_root_is_a_clear_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(vcluster.os, 'geteuid', lambda: 1000)
    with pytest.raises(UsageError, match='the virtual cluster needs root'):
        vcluster.up(3)
    assert cli.main(['cluster', 'down']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('hpcval cluster: error: the virtual cluster needs root')


def test_node_count_is_bounded(monkeypatch):
    monkeypatch.setattr(vcluster, '_require', lambda: None)
    for bad in (0, vcluster.MAX_NODES + 1):
        with pytest.raises(UsageError, match='--nodes must be'):
            vcluster.up(bad)


def test_slurm_conf_has_one_address_per_node_and_honest_failures(tmp_path):
    cl = vcluster.Cluster(tmp_path, 3)
    (tmp_path / 'etc').mkdir()
    vcluster._write_conf(cl)
    conf = cl.conf.read_text().splitlines()
    nodes = [ln for ln in conf if ln.startswith('NodeName=')]
    assert [ln.split()[1] for ln in nodes] == ['NodeAddr=10.231.1.1', 'NodeAddr=10.231.1.2', 'NodeAddr=10.231.1.3']
    for line in ('MpiDefault=pmix', 'JobRequeue=0', 'ProctrackType=proctrack/linuxproc',
                 'AccountingStorageType=accounting_storage/none', f'SlurmdSpoolDir={tmp_path}/spool/%n'):
        assert line in conf
    assert any(ln.startswith('SlurmctldHost=') and ln.endswith('(10.231.1.254)') for ln in conf)
    assert 'PartitionName=vc Nodes=node1,node2,node3' in '\n'.join(conf)
    # each node binds its own folder over this base (pmix per-step dirs would collide)
    assert (cl.conf.parent / 'mpi.conf').read_text() == f'PMIxCliTmpDirBase={vcluster.PMIX_BASE}\n'
