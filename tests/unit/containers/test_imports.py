"""Images from elsewhere: archives written by buildah, and archives that try to escape."""
import io
import tarfile
from pathlib import Path

import pytest

from hpcval.containers import imports
from hpcval.containers.errors import ImageError

BUILDAH = Path(__file__).parents[2] / 'data' / 'images' / 'buildah-1.28'


@pytest.mark.parametrize('name, kind', [('docker.tar', 'docker-archive'), ('oci.tar', 'oci-archive')])
def test_buildah_archives_flatten_with_their_whiteouts_and_env(tmp_path, name, kind):
    source = BUILDAH / name
    assert imports.kind(source) == kind
    config = imports.extract_layers(source, kind, tmp_path)
    assert (tmp_path / 'etc' / 'motd').read_text() == 'two\n'          # the upper layer wins
    assert not (tmp_path / 'opt' / 'app' / 'gone').exists()             # its whiteout applied
    assert (tmp_path / 'opt' / 'app' / 'keep').read_text() == 'keep\n'
    assert (tmp_path / 'bin' / 'keep-link').is_symlink()
    assert not list(tmp_path.rglob('.wh.*'))
    assert imports.config_env(config)['HPCVAL_TEST'] == 'yes'


def test_source_is_read_only(tmp_path):
    before = (BUILDAH / 'docker.tar').read_bytes()
    imports.extract_layers(BUILDAH / 'docker.tar', 'docker-archive', tmp_path)
    assert (BUILDAH / 'docker.tar').read_bytes() == before


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == 'sym':
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == 'chr':
                info.type = tarfile.CHRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def test_a_member_outside_the_tree_is_refused(tmp_path):
    (tmp_path / 'img').mkdir()
    with pytest.raises(ImageError, match='outside'):
        imports.apply_layer(_tar([('../escaped', b'x', 'file')]), tmp_path / 'img')
    assert not (tmp_path / 'escaped').exists()


def test_writing_through_a_link_out_of_the_tree_is_refused(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'outside').mkdir()
    layer = _tar([('lib', str(tmp_path / 'outside'), 'sym'), ('lib/evil', b'x', 'file')])
    with pytest.raises(tarfile.TarError):
        imports.apply_layer(layer, tmp_path / 'img')
    assert not (tmp_path / 'outside' / 'evil').exists()


def test_a_whiteout_cannot_delete_outside_the_tree(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'victim').write_text('mine')
    with pytest.raises(ImageError):
        imports.apply_layer(_tar([('../.wh.victim', b'', 'file')]), tmp_path / 'img')
    assert (tmp_path / 'victim').read_text() == 'mine'


def test_device_nodes_are_left_out_and_mount_points_made(tmp_path):
    imports.apply_layer(_tar([('dev/zero', b'', 'chr'), ('etc/os-release', b'x', 'file')]), tmp_path)
    imports.fix_mount_points(tmp_path)
    assert not (tmp_path / 'dev' / 'zero').exists()
    for d in imports.MOUNT_DIRS:
        assert (tmp_path / d).is_dir()
    assert (tmp_path / 'etc' / 'hosts').is_file() and (tmp_path / 'etc' / 'resolv.conf').is_file()


def test_what_a_source_is(tmp_path):
    (tmp_path / 'tree').mkdir()
    assert imports.kind(tmp_path / 'tree') == 'dir'
    (tmp_path / 'x.sqfs').write_bytes(b'hsqs' + bytes(60))
    assert imports.kind(tmp_path / 'x.sqfs') == 'squashfs'
    with tarfile.open(tmp_path / 'root.tar', 'w') as tar:
        tar.add(tmp_path / 'tree', arcname='etc')
    assert imports.kind(tmp_path / 'root.tar') == 'rootfs-tar'
    (tmp_path / 'junk').write_text('not an image')
    with pytest.raises(ImageError, match='not a tar archive'):
        imports.kind(tmp_path / 'junk')
    with pytest.raises(ImageError, match='no such file'):
        imports.kind(tmp_path / 'absent')


def test_an_archive_of_two_images_is_refused(tmp_path):
    import json
    path = tmp_path / 'two.tar'
    with tarfile.open(path, 'w') as tar:
        data = json.dumps([{'Layers': ['a.tar']}, {'Layers': ['b.tar']}]).encode()
        info = tarfile.TarInfo('manifest.json')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ImageError, match='holds 2 images'):
        imports.layers(path, 'docker-archive')
