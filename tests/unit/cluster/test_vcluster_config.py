"""The virtual cluster's own checks and the slurm.conf it writes (no root needed)."""
from pathlib import Path

import pytest

from hpcval.cluster import vcluster
from hpcval import cli
from hpcval.cluster.errors import ClusterError


def test_not_root_is_a_clear_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(vcluster.os, 'geteuid', lambda: 1000)
    with pytest.raises(ClusterError, match='the virtual cluster needs root'):
        vcluster.up(3)
    assert cli.main(['cluster', 'down']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('hpcval cluster: error: the virtual cluster needs root')


def test_node_count_is_bounded(monkeypatch):
    monkeypatch.setattr(vcluster, '_require', lambda: None)
    for bad in (0, vcluster.MAX_NODES + 1):
        with pytest.raises(ClusterError, match='nodes must be'):
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


def test_the_config_sets_slurm_conf_only_once_the_cluster_wrote_it(tmp_path):
    '''Importing config/vcluster.py (a test module does, at collection) must not
    pass a missing slurm.conf on: every Slurm command retries one for a minute.'''
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[3]
    code = 'import os, config.vcluster as v; print(os.environ.get("SLURM_CONF", "-"), dict(v._ENV)["SLURM_CONF"])'
    env = {k: v for k, v in os.environ.items() if k != 'SLURM_CONF'}
    env.update(HPCVAL_VCLUSTER_DIR=str(tmp_path), PYTHONPATH=str(root))

    def seen():
        return subprocess.run([sys.executable, '-c', code], env=env, cwd=root, capture_output=True, text=True,
                              check=True).stdout.split()
    conf = tmp_path / 'etc' / 'slurm.conf'
    assert seen() == ['-', str(conf)]               # the jobs still get the path
    conf.parent.mkdir()
    conf.write_text('ClusterName=vcluster\n')
    assert seen() == [str(conf), str(conf)]
