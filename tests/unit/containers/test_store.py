"""Image index, digests, the device-node and free-space guards."""
import json
import os
import stat

import pytest

from hpcval.containers import pipeline, store
from hpcval.containers.errors import ImageError


def test_index_round_trip_is_atomic(tmp_path):
    idx = store.Index(tmp_path)
    idx.entry('x')['test'] = {'status': 'passed'}
    idx.save()
    assert json.loads((tmp_path / 'index.json').read_text())['images']['x']['test']['status'] == 'passed'
    assert [p.name for p in tmp_path.iterdir()] == ['index.json']     # no temp file left


def test_corrupt_index_is_a_one_line_error(tmp_path):
    (tmp_path / 'index.json').write_text('{not json')
    with pytest.raises(ImageError, match='index.json: not a valid image index'):
        store.Index(tmp_path)


def test_tree_digest_is_content_not_time(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / 'f').write_text('one')
    os.symlink('f', tmp_path / 'a' / 'l')
    d1 = store.tree_digest(tmp_path / 'a')
    os.utime(tmp_path / 'a' / 'f', (1, 1))
    assert store.tree_digest(tmp_path / 'a') == d1
    (tmp_path / 'a' / 'f').write_text('two')
    assert store.tree_digest(tmp_path / 'a') != d1


def test_converted_needs_a_passed_test_and_the_file(tmp_path):
    idx = store.Index(tmp_path)
    idx.entry('x').update({'test': {'status': 'failed'},
                           'formats': {'dir': {'path': 'x', 'digest': 'sha256:0'}}})
    idx.save()
    (tmp_path / 'x').mkdir()
    assert store.converted('x', 'dir', tmp_path) is None
    idx.images['x']['test']['status'] = 'passed'
    idx.save()
    assert store.converted('x', 'dir', tmp_path) == tmp_path / 'x'
    assert store.converted('x', 'squash', tmp_path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason='mknod needs root')
def test_device_nodes_are_found_anywhere_in_a_tree(tmp_path):
    (tmp_path / 'dev').mkdir()
    os.mknod(tmp_path / 'dev' / 'zero', 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'hosts').write_text('')
    assert store.device_nodes(tmp_path) == [str(tmp_path / 'dev' / 'zero')]


def test_free_space_floor_refuses_with_the_figures(tmp_path, monkeypatch):
    monkeypatch.setenv('HPCVAL_MIN_FREE_GB', '1e9')
    with pytest.raises(ImageError) as err:
        store.ensure_free(tmp_path / 'not' / 'yet', 0, 'import the base')
    assert 'refusing to import the base' in str(err.value) and 'GiB free on' in str(err.value)
    monkeypatch.setenv('HPCVAL_MIN_FREE_GB', '0')
    assert store.ensure_free(tmp_path, 1, 'x') > 0
    monkeypatch.setenv('HPCVAL_MIN_FREE_GB', 'lots')
    with pytest.raises(ImageError, match="HPCVAL_MIN_FREE_GB='lots'"):
        store.ensure_free(tmp_path, 1, 'x')


# ch-image 0.31's own output for a failing build (instruction lines carry the
# Dockerfile line number; '*' marks a cache hit)
CH_IMAGE_OUTPUT = '''\
  1. FROM hpcval/bootstrap
  4* RUN.F echo fine
fine
  5. RUN.F ls /no/such/dir
ls: cannot access '/no/such/dir': No such file or directory
something went wrong, rolling back ...
error: build failed: RUN command exited with 2
'''


def test_failing_instruction_is_the_last_one_started():
    where = pipeline.failing_instruction(CH_IMAGE_OUTPUT, 'containers/x/Dockerfile')
    assert where == 'containers/x/Dockerfile:5: RUN ls /no/such/dir: build failed: RUN command exited with 2'


def test_parse_failure_without_instruction_keeps_the_error():
    out = 'error: can\'t parse: containers/x/Dockerfile:5,7\n'
    assert pipeline.failing_instruction(out, 'containers/x/Dockerfile') == \
        "containers/x/Dockerfile: can't parse: containers/x/Dockerfile:5,7"


def test_the_image_folder_must_be_absent_empty_or_an_image_store(tmp_path):
    assert store.check_folder(tmp_path / 'new') == tmp_path / 'new'
    assert store.check_folder(tmp_path) == tmp_path                  # empty
    (tmp_path / 'mine.txt').write_text('user data')
    with pytest.raises(ImageError, match='not an hpcval image folder'):
        pipeline.Pipeline(folder=tmp_path)
    (tmp_path / 'index.json').write_text('{"images": {}}')
    assert store.check_folder(tmp_path) == tmp_path                  # ours
    with pytest.raises(ImageError, match='not a folder'):
        store.check_folder(tmp_path / 'mine.txt')


def test_an_empty_images_variable_means_unset_everywhere(monkeypatch, tmp_path):
    '''One image folder rule for the pipeline, the run's tags and the checks.'''
    from hpcval import paths, run
    monkeypatch.setenv('HPCVAL_IMAGES', '')
    assert store.image_folder() == paths.ROOT / '.cache' / 'images'
    assert store.image_folder(tmp_path) == tmp_path            # a partition's image_folder
    monkeypatch.setenv('HPCVAL_IMAGES', str(tmp_path / 'mine'))
    assert store.image_folder(tmp_path) == tmp_path / 'mine'    # the variable wins
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'index.json').write_text(
        '{"images": {"openmpi": {"formats": {"dir": {"digest": "sha256:0123456789abcdef0"}}}}}')
    assert store.recorded_images()['openmpi']['formats']['dir']['digest'].startswith('sha256:')
    assert run.image_tags(['mpi_microbench']) == {'image_openmpi': '0123456789ab'}
    (tmp_path / 'mine' / 'index.json').write_text('not json')
    assert store.recorded_images() == {} and run.image_tags(['mpi_microbench']) == {}


@pytest.mark.parametrize('text, expect', [('openmpi', ('openmpi', 'current')),
                                          ('openmpi:candidate', ('openmpi', 'candidate')),
                                          ('my.img-2:v1.0_rc', ('my.img-2', 'v1.0_rc'))])
def test_image_refs(text, expect):
    assert store.parse_ref(text) == expect


@pytest.mark.parametrize('text', ['', 'OpenMPI', 'a/b', 'x:', 'x:-bad', 'x:a:b', 'x:' + 'a' * 129, '../x'])
def test_bad_image_refs_are_one_line_errors(text):
    if text == 'x:':
        assert store.parse_ref(text) == ('x', 'current')      # an empty tag is the default
        return
    with pytest.raises(ImageError):
        store.parse_ref(text)


def test_the_current_tag_keeps_the_untagged_layout():
    assert (store.key('openmpi'), store.stem('openmpi')) == ('openmpi', 'openmpi')
    assert (store.key('openmpi', 'rc1'), store.stem('openmpi', 'rc1')) == ('openmpi:rc1', 'openmpi@rc1')
    assert store.split_key('openmpi:rc1') == ('openmpi', 'rc1') and store.split_key('openmpi') == ('openmpi', 'current')
