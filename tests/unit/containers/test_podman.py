"""The podman builder's pieces that need no podman: its configuration, a failed
step read from podman's own output, and the index record the checks look up."""
import json
import resource
import tomllib

import pytest

from hpcval.containers import podman
from hpcval.containers.errors import ImageError

#: podman 4.3.1's output for a recipe whose second RUN exits 3 (captured here)
FAILED_BUILD = '''STEP 1/3: FROM localhost/hpcval/base:current
STEP 2/3: RUN echo hello
hello
--> 7752b329ab1
STEP 3/3: RUN exit 3
Error: building at STEP "RUN exit 3": while running runtime: exit status 3
'''


def test_configuration_keeps_podman_in_the_project_and_within_the_current_limits(tmp_path):
    env = podman.write_conf(tmp_path / 'podman')
    storage = tomllib.loads((tmp_path / 'podman' / 'storage.conf').read_text())['storage']
    assert storage['graphroot'] == str(tmp_path / 'podman' / 'storage')
    assert storage['runroot'] == str(tmp_path / 'podman' / 'run')
    conf = tomllib.loads((tmp_path / 'podman' / 'containers.conf').read_text())
    assert conf['containers']['netns'] == 'host'
    limits = dict(u.split('=') for u in conf['containers']['default_ulimits'])
    for name, which in (('nofile', resource.RLIMIT_NOFILE), ('nproc', resource.RLIMIT_NPROC)):
        soft, hard = map(int, limits[name].split(':'))
        current = resource.getrlimit(which)[0]
        # never above what this process has: raising a limit needs CAP_SYS_RESOURCE
        assert soft == hard and (current == resource.RLIM_INFINITY or hard <= current)
    assert int(limits['nproc'].split(':')[0]) <= podman.NPROC_CAP
    assert env == {'CONTAINERS_STORAGE_CONF': str(tmp_path / 'podman' / 'storage.conf'),
                   'CONTAINERS_CONF': str(tmp_path / 'podman' / 'containers.conf')}


def test_storage_sits_beside_the_image_folder(tmp_path):
    assert podman.podman_root(tmp_path / '.cache' / 'images') == (tmp_path / '.cache' / 'podman').resolve()
    assert podman.image_name('openmpi') == 'localhost/hpcval/openmpi:current'
    assert podman.image_name('openmpi', 'candidate') == 'localhost/hpcval/openmpi:candidate'


def test_failed_step_is_named_with_podmans_error(tmp_path):
    where = podman.failing_step(FAILED_BUILD, tmp_path / 'Dockerfile')
    assert where.endswith('Dockerfile: STEP 3/3: RUN exit 3: building at STEP "RUN exit 3": '
                          'while running runtime: exit status 3')
    assert podman.failing_step('Error: no such base\n', 'D').endswith('D: no such base')


def _index(folder, **entries):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'index.json').write_text(json.dumps({'images': entries}))
    return folder


RECORD = {'image': 'localhost/hpcval/openmpi:current', 'digest': 'sha256:' + 'a' * 64,
          'test': {'status': 'passed'}}


def test_recorded_finds_a_tested_podman_build(tmp_path):
    folder = _index(tmp_path, openmpi={'podman': RECORD}, **{'openmpi:candidate': {'podman': RECORD}})
    assert podman.recorded('openmpi', folder) == (RECORD['image'], RECORD['digest'])
    assert podman.recorded('openmpi:candidate', folder)[1] == RECORD['digest']


@pytest.mark.parametrize('entries, ref, says', [
    ({}, 'openmpi', 'image openmpi:current not built with podman: run `hpcval image build openmpi --builder podman`'),
    ({'openmpi': {'formats': {'dir': {}}}}, 'openmpi', 'not built with podman'),
    ({'openmpi': {'podman': {**RECORD, 'test': {'status': 'failed'}}}}, 'openmpi', 'failed its podman smoke test'),
    ({}, 'openmpi:rc1', '`hpcval image build openmpi --builder podman --tag rc1`'),
])
def test_recorded_says_what_builds_it(tmp_path, entries, ref, says):
    with pytest.raises(ImageError) as err:
        podman.recorded(ref, _index(tmp_path, **entries))
    assert says in str(err.value)
