import pytest

from hpcval.containers import pipeline
from hpcval.containers.errors import ImageError


def test_squash_compressor_defaults_to_zstd(monkeypatch, tmp_path):
    monkeypatch.delenv('HPCVAL_SQUASH_COMP', raising=False)
    assert pipeline.Pipeline(folder=tmp_path).squash_comp == 'zstd -Xcompression-level 3'
    monkeypatch.setenv('HPCVAL_SQUASH_COMP', '  gzip ')
    assert pipeline.Pipeline(folder=tmp_path).squash_comp == 'gzip'


def test_squash_compressor_option_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv('HPCVAL_SQUASH_COMP', 'zstd; rm -rf /')
    with pytest.raises(ImageError, match='HPCVAL_SQUASH_COMP'):
        pipeline.Pipeline(folder=tmp_path)
