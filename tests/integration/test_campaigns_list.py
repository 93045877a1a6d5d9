"""Every shipped campaign, as `hpcval run --campaign` would hand it to ReFrame,
parameterises and lists its checks (ReFrame `-l`): a parameter that cannot be
re-parameterised, or a filter that selects nothing, shows here and not
minutes into `make demo`."""
import os
import re
import subprocess

import pytest

from hpcval import campaign, paths, run


@pytest.mark.parametrize('name', paths.known_campaigns())
def test_campaign_lists_every_check_it_names(name, tmp_path):
    c = campaign.load(name)
    cmd = run.reframe_command(c.checks, c.system, tmp_path, name, nodes=c.nodes, repeat=1,
                              setvars=c.setvars, extra=c.param_options() + list(c.reframe_options))
    cmd[cmd.index('-r')] = '-l'
    env = dict(os.environ, HPCVAL_RUN_DIR=str(tmp_path / 'run'))
    proc = subprocess.run(cmd, cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    listed = set(re.findall(r'^- (\w+) ', proc.stdout, re.M))
    classes = {'mpi_microbench': 'MpiMicrobench', 'matmul': 'MatmulBench', 'gan_training': 'GanTraining',
               'smallfile_io': 'SmallfileIO', 'container_env': 'ContainerEnvIsolation'}
    assert {classes[ch] for ch in c.checks} <= listed, proc.stdout[-3000:]
