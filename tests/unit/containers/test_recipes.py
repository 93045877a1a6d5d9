"""Recipes parse with Docker's own parser and carry what the pipeline needs."""
import pytest

from hpcval.containers import recipes
from hpcval.containers.errors import ImageError


def test_every_shipped_recipe_is_valid_for_docker_and_ch_image():
    names = recipes.names()
    assert {'base', 'openmpi', 'mpich', 'tensorflow'} <= set(names)
    for name in names:
        r = recipes.load(name)
        assert r.test, name
        assert r.env.get('HPCVAL_IMAGE') == name or name == 'base'


def test_chains_put_bases_first():
    assert [r.name for r in recipes.chain('tensorflow')] == ['base', 'openmpi', 'tensorflow']
    assert [r.name for r in recipes.chain('mpich')] == ['base', 'mpich']
    assert recipes.load('base').base == recipes.BOOTSTRAP       # debian:bookworm offline


def test_mpi_images_build_the_benchmark_from_the_checks_sources():
    for name in ('openmpi', 'mpich'):
        # each MPI image builds the C sources its checks run inside it
        assert recipes.load(name).copies == (['osu_mpi.c', 'smallfile_md.c'] if name == 'openmpi' else ['osu_mpi.c'])


def test_key_follows_the_recipe_and_the_base(tmp_path, monkeypatch):
    d = tmp_path / 'x'
    d.mkdir()
    (d / 'Dockerfile').write_text('FROM debian:bookworm\n# hpcval-test: true\nRUN true\n')
    r = recipes.load('x', tmp_path)
    k = r.key('base1')
    assert r.key('base1') == k and r.key('base2') != k
    (d / 'Dockerfile').write_text('FROM debian:bookworm\n# hpcval-test: true\nRUN false\n')
    assert recipes.load('x', tmp_path).key('base1') != k


@pytest.mark.parametrize('body, fault', [
    ('FROM debian:bookworm\n# hpcval-test: true\nRUNN true\n', "Dockerfile:3: unknown instruction 'RUNN'"),
    ('ARG BASE=hpcval/base\nFROM ${BASE}\n# hpcval-test: true\n', 'write FROM $VAR'),
    ('RUN true\nFROM debian:bookworm\n# hpcval-test: true\n', 'Dockerfile:1: RUN before FROM'),
    ('FROM debian:bookworm\nRUN true\n', 'no "# hpcval-test: COMMAND" line'),
    ('FROM debian:bookworm\n# hpcval-test: true\nCOPY nothere.c /x\n', "COPY source 'nothere.c' not found"),
    ('FROM debian:bookworm\n# hpcval-test: true\nHEALTHCHECK CMD true\n', 'not run by ch-image 0.31'),
    ('FROM a AS b\nFROM hpcval/c\n# hpcval-test: true\n', 'multi-stage'),
    ('# hpcval-test: true\n', 'not a valid Dockerfile: file with no instructions'),
    ('ARG X=1\n# hpcval-test: true\n', 'no FROM instruction'),
])
def test_bad_recipes_name_file_line_and_fault(tmp_path, body, fault):
    d = tmp_path / 'bad'
    d.mkdir()
    (d / 'Dockerfile').write_text(body)
    with pytest.raises(ImageError) as err:
        recipes.load('bad', tmp_path)
    assert fault in str(err.value) and str(d / 'Dockerfile') in str(err.value)


def test_unknown_recipe_lists_the_known(tmp_path):
    with pytest.raises(ImageError, match='no recipe .nosuch.'):
        recipes.load('nosuch')
