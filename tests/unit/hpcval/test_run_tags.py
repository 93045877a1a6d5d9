"""Run tags (ReFrame session extras) and JUnit XML on the reframe command line."""
import json

import pytest

from hpcval import campaign, cli, paths, run
from hpcval.errors import UsageError


def _extras(cmd):
    value = cmd[cmd.index('--session-extras') + 1]
    return dict(kv.split('=', 1) for kv in value.split(','))


def test_junit_and_tags_on_the_command_line(tmp_path):
    cmd = run.reframe_command(['matmul'], 'local', tmp_path, 'c', tags={'os_patch': 'p1', 'image_openmpi': 'abc'})
    assert cmd[cmd.index('--report-junit') + 1] == str(tmp_path / 'junit.xml')
    extras = _extras(cmd)
    assert extras['hpcval_campaign'] == 'c' and extras['os_patch'] == 'p1' and extras['image_openmpi'] == 'abc'
    assert {'hpcval_version', 'hpcval_git'} <= set(extras)


@pytest.mark.parametrize('text,fault', [
    ('os_patch', 'expected NAME=VALUE'),
    ('os_patch=a,b', 'may not contain "," or "="'),
    ('os_patch=a=b', 'may not contain "," or "="'),
    ('1patch=a', 'the name must be a letter or _'),
    ('os-patch=a', 'the name must be a letter or _'),
    ('=a', 'the name must be a letter or _'),
    ('user=me', "the name 'user' is reserved"),
    ('hpcval_campaign=x', "the name 'hpcval_campaign' is reserved"),
])
def test_bad_tags(text, fault):
    with pytest.raises(UsageError, match=fault):
        run.parse_tag(text)


@pytest.mark.parametrize('text,tag', [('os_patch=p1', ('os_patch', 'p1')), ('_x=', ('_x', '')),
                                      ('label=2024-06-01T10:00', ('label', '2024-06-01T10:00'))])
def test_good_tags(text, tag):
    assert run.parse_tag(text) == tag


def test_a_bad_tag_is_exit_2_one_line_nothing_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, 'RUNS', tmp_path / 'runs')
    assert cli.main(['run', 'matmul', '--tag', 'os_patch=a,b']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--tag os_patch=a,b' in err
    assert cli.main(['run', 'matmul', '--name', 'a,b']) == 2
    assert 'ReFrame cannot carry it' in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists()


@pytest.mark.parametrize('checks,params,args,expected', [
    (['matmul'], {}, [], False),
    (['matmul'], {'runtime': ['bare']}, [], False),
    (['matmul'], {'runtime': ['bare', 'charliecloud']}, [], True),
    (['matmul'], {'MatmulBench.runtime': 'charliecloud'}, [], True),
    (['matmul'], {}, ['-P', 'runtime=bare,charliecloud'], True),
    (['matmul'], {}, ['-Pruntime=charliecloud'], True),
    (['matmul'], {}, ['--parameterize=MatmulBench.runtime=apptainer'], True),
    (['matmul'], {}, ['-P', 'runtime=bare', '-n', 'runtime=charliecloud'], False),
    (['container_env'], {}, [], True),
    (['host_tools'], {}, [], True),
])
def test_uses_containers(checks, params, args, expected):
    assert run.uses_containers(checks, params, args) is expected


def _index(folder, **digests):
    folder.mkdir(parents=True, exist_ok=True)
    images = {name: {'formats': {'dir': {'digest': d, 'path': name}, 'squash': {'digest': 'sha256:' + 'f' * 64}},
                     'test': {'status': 'passed'}} for name, d in digests.items()}
    (folder / 'index.json').write_text(json.dumps({'images': images}))


def test_image_tags_for_the_images_the_checks_use(tmp_path, monkeypatch):
    _index(tmp_path, openmpi='sha256:' + '0123456789abcdef' * 4, tensorflow='sha256:' + 'a' * 64,
           base='sha256:' + 'b' * 64)
    assert run.images_of(['mpi_microbench', 'matmul', 'container_env']) == ['base', 'openmpi', 'tensorflow']
    assert run.image_tags(['mpi_microbench'], tmp_path) == {'image_openmpi': '0123456789ab'}
    monkeypatch.setenv('HPCVAL_IMAGES', str(tmp_path))
    assert run.image_tags(['matmul', 'gan_training']) == {'image_tensorflow': 'a' * 12}
    assert run.image_tags(['matmul'], tmp_path / 'nowhere') == {}


def _captured_run(monkeypatch, argv):
    seen = {}

    def fake_execute(checks, system, label, nodes, repeat, setvars, extra, tags=None, **_):
        seen.update(checks=checks, label=label, extra=extra, tags=tags)
        return 0, None
    monkeypatch.setattr(run, 'execute', fake_execute)
    assert cli.main(argv) == 0
    return seen


def test_cmd_run_tags_campaign_images_and_user(tmp_path, monkeypatch):
    _index(tmp_path, openmpi='sha256:' + '1' * 64, tensorflow='sha256:' + '2' * 64)
    monkeypatch.setenv('HPCVAL_IMAGES', str(tmp_path))
    seen = _captured_run(monkeypatch, ['run', '--campaign', 'containers', '--name', 'mine',
                                       '--tag', 'os_patch=p1', '--tag', 'image_openmpi=mine'])
    assert seen['label'] == 'mine'
    assert seen['tags'] == {'hpcval_campaign_def': 'containers', 'image_openmpi': 'mine',
                            'image_tensorflow': '2' * 12, 'os_patch': 'p1'}
    # bare only: no image tags; no campaign: no campaign_def
    seen = _captured_run(monkeypatch, ['run', 'matmul', '--tag', 'os_patch=p2'])
    assert seen['tags'] == {'os_patch': 'p2'}
    seen = _captured_run(monkeypatch, ['run', 'matmul', '--', '-P', 'runtime=charliecloud'])
    assert seen['tags'] == {'image_tensorflow': '2' * 12}


def test_campaign_tags_reach_the_run(tmp_path, monkeypatch):
    folder = tmp_path / 'campaigns'
    folder.mkdir()
    (folder / 'tagged.yaml').write_text('checks: [matmul]\ntags: {site: lab, os_patch: base}\n')
    monkeypatch.setattr(paths, 'CAMPAIGNS', folder)
    seen = _captured_run(monkeypatch, ['run', '--campaign', 'tagged', '--tag', 'os_patch=p3'])
    assert seen['tags'] == {'hpcval_campaign_def': 'tagged', 'site': 'lab', 'os_patch': 'p3'}
    assert campaign.load('tagged').tags == {'site': 'lab', 'os_patch': 'base'}
