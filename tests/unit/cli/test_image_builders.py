"""`hpcval image build --builder`: which builder each choice runs (no image is built)."""
import pytest

from hpcval.cli import main
from hpcval.containers import pipeline, podman, podman_hpc


@pytest.fixture
def calls(monkeypatch, tmp_path):
    got = []

    def charliecloud(self, name, rebuild=False, tag='current'):
        got.append(('charliecloud', name, tag))
        return [pipeline.Result(name, {'build': 'cached'})]

    def podman_build(pipe, name, rebuild=False, tag='current'):
        got.append(('podman', name, tag))
        return [pipeline.Result(f'{name}:{tag} (podman)', {'build': 1.0})]

    def migrate(folder, name, tag='current'):
        got.append(('migrate', name, tag))
        return 'img', 'sha256:x', {'total': 2.0}

    monkeypatch.setattr(pipeline.Pipeline, 'build', charliecloud)
    monkeypatch.setattr(podman, 'build', podman_build)
    monkeypatch.setattr(podman_hpc, 'migrate', migrate)
    monkeypatch.setenv('HPCVAL_IMAGES', str(tmp_path / 'images'))
    return got


@pytest.mark.parametrize('builder, expected', [
    ([], [('charliecloud', 'openmpi', 'current')]),
    (['--builder', 'charliecloud'], [('charliecloud', 'openmpi', 'current')]),
    (['--builder', 'podman'], [('podman', 'openmpi', 'current')]),
    (['--builder', 'podman-hpc'], [('podman', 'openmpi', 'current'), ('migrate', 'openmpi', 'current')]),
])
def test_each_builder_runs_its_own_chain(calls, builder, expected, capsys):
    assert main(['image', 'build', 'openmpi', *builder]) == 0
    assert calls == expected
    if builder[-1:] == ['podman-hpc']:
        assert 'openmpi:current (podman-hpc) migrate 2.0 s' in capsys.readouterr().out


def test_a_tag_reaches_the_migration(calls):
    assert main(['image', 'build', 'openmpi', '--tag', 'rc1', '--builder', 'podman-hpc']) == 0
    assert calls == [('podman', 'openmpi', 'rc1'), ('migrate', 'openmpi', 'rc1')]
