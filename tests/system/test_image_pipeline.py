"""The build -> test -> convert pipeline on real Charliecloud: cached
rebuilds, the image index, and the ways a recipe or a disk can fail."""
import os
import subprocess
from pathlib import Path

import pytest

from hpcval_cli import IMAGES, hpcval, image_index as index
from hpcval.containers import pipeline, recipes, store


def test_openmpi_image_is_tested_converted_and_indexed(openmpi_image):
    assert openmpi_image['test']['status'] == 'passed'
    assert 'mpirun -np 2 osu_mpi' in openmpi_image['test']['command']
    for fmt, name in (('dir', 'openmpi'), ('squash', 'openmpi.sqfs')):
        out = openmpi_image['formats'][fmt]
        assert out['path'] == name and out['bytes'] > 50 * 2**20
        assert out['digest'].startswith('sha256:')
    # the digest is the content of what is on disk now
    assert store.file_digest(IMAGES / 'openmpi.sqfs') == openmpi_image['formats']['squash']['digest']
    assert index()['base']['test']['status'] == 'passed'       # its base went through the stages too


def test_unchanged_rebuild_reuses_everything(openmpi_image):
    before = (IMAGES / 'index.json').read_text()
    proc = hpcval('image', 'build', 'openmpi')
    assert proc.returncode == 0, proc.stderr
    assert '[openmpi] up to date' in proc.stdout and '[base] up to date' in proc.stdout
    assert (IMAGES / 'index.json').read_text() == before


def test_list_shows_digests_sizes_ages(openmpi_image):
    proc = hpcval('image', 'list')
    assert proc.returncode == 0
    row = [ln for ln in proc.stdout.splitlines() if ln.startswith('openmpi:current ') and ' squash ' in ln][0]
    assert 'passed' in row and openmpi_image['formats']['squash']['digest'][:19] in row and 'MiB' in row


def _recipe(root, name, body):
    d = Path(root) / name
    d.mkdir(parents=True)
    (d / 'Dockerfile').write_text(body)


def test_broken_dockerfile_reports_the_failing_instruction(openmpi_image, tmp_path):
    _recipe(tmp_path / 'recipes', 'broken',
            'ARG BASE=hpcval/bootstrap\nFROM $BASE\n# hpcval-test: true\n'
            'RUN echo fine\nRUN ls /no/such/dir\nRUN echo never\n')
    pipe = pipeline.Pipeline(folder=tmp_path / 'images', storage=IMAGES.parent / 'ch-image',
                             root=tmp_path / 'recipes', echo=lambda m: None)
    with pytest.raises(pipeline.StageFailed) as err:
        pipe.build('broken')
    assert err.value.stage == 'build'
    assert 'broken/Dockerfile:5: RUN ls /no/such/dir' in str(err.value)
    entry = store.Index(tmp_path / 'images').images['broken']
    assert entry['build']['status'] == 'failed' and 'formats' not in entry


def test_failing_smoke_test_stops_before_conversion(openmpi_image, tmp_path):
    _recipe(tmp_path / 'recipes', 'sick',
            'ARG BASE=hpcval/bootstrap\nFROM $BASE\n# hpcval-test: echo no MPI here; exit 3\nRUN true\n')
    pipe = pipeline.Pipeline(folder=tmp_path / 'images', storage=IMAGES.parent / 'ch-image',
                             root=tmp_path / 'recipes', echo=lambda m: None)
    with pytest.raises(pipeline.StageFailed) as err:
        pipe.build('sick')
    assert err.value.stage == 'test' and 'exited 3' in str(err.value) and 'not converted' in str(err.value)
    entry = store.Index(tmp_path / 'images').images['sick']
    assert entry['test']['status'] == 'failed' and entry['test']['rc'] == 3
    assert 'formats' not in entry and not (tmp_path / 'images' / 'sick').exists()


def test_full_disk_is_refused_before_converting(openmpi_image):
    before = (IMAGES / 'index.json').read_text()
    stamp = (IMAGES / 'openmpi.sqfs').stat().st_mtime_ns
    proc = hpcval('image', 'convert', 'openmpi', env={'HPCVAL_MIN_FREE_GB': '1000000'})
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert 'refusing to convert openmpi:current to dir' in proc.stderr and 'GiB free' in proc.stderr
    assert (IMAGES / 'index.json').read_text() == before
    assert (IMAGES / 'openmpi.sqfs').stat().st_mtime_ns == stamp


def test_unknown_recipe_is_a_usage_error():
    proc = hpcval('image', 'build', 'nosuch')
    assert proc.returncode == 2 and 'no recipe' in proc.stderr and 'openmpi' in proc.stderr


def test_squash_image_is_zstd_and_ch_run_runs_mpi_in_it(openmpi_image):
    sq = openmpi_image['formats']['squash']
    assert sq['compression'] == pipeline.DEFAULT_SQUASH_COMP
    info = subprocess.run(['unsquashfs', '-s', IMAGES / 'openmpi.sqfs'], capture_output=True, text=True)
    assert 'Compression zstd' in info.stdout
    # ch-run mounts the SquashFS itself (squashfuse); the smoke test passes in it
    env = dict(os.environ, USER=os.environ.get('USER', 'root'),
               OMPI_MCA_btl_tcp_if_include='lo', OMPI_MCA_oob_tcp_if_include='lo')
    test = recipes.load('openmpi').test
    proc = subprocess.run(['ch-run', '--set-env', IMAGES / 'openmpi.sqfs', '--', 'sh', '-c', test],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Latency' in proc.stdout or '# OSU' in proc.stdout



def test_converting_one_format_keeps_the_others_entry(openmpi_image, tmp_path):
    '''`hpcval image convert X --format squash` alone: packed from a
    temporary directory export (removed after); the directory image's entry,
    from the same build, stays in the index.'''
    folder = tmp_path / 'images'
    folder.mkdir()
    (folder / 'index.json').write_text((IMAGES / 'index.json').read_text())
    pipe = pipeline.Pipeline(folder=folder, storage=IMAGES.parent / 'ch-image', formats=('squash',),
                             echo=lambda m: None)
    pipe.convert('openmpi')
    formats = store.Index(folder).images['openmpi']['formats']
    assert formats['dir'] == openmpi_image['formats']['dir']
    assert formats['squash']['compression'] == pipeline.DEFAULT_SQUASH_COMP
    assert store.file_digest(folder / 'openmpi.sqfs') == formats['squash']['digest']
    assert not list((IMAGES.parent / 'tmp').glob('openmpi.export*'))
