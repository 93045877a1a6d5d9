"""The $HOME-trap check: host HOME and host environment leak into package
lookups; only the recommended setup resolves everything to the image."""
from hpcval_cli import hpcval, run_cases as cases


def test_only_the_recommended_setup_resolves_to_the_image(openmpi_image, tmp_path):
    proc = hpcval('run', 'container_env', '--', '-P', 'env_setup=host-env,image-env,recommended',
                  runs=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]           # the two hazardous setups fail
    got = {tc['env_setup']: tc for tc in cases(tmp_path / 'adhoc' / 'latest')}
    assert set(got) == {'host-env', 'image-env', 'recommended'}
    # host environment and host HOME: both lookups land in the host HOME
    assert got['host-env']['resolved'] == 'julia=host-home,python=host-home'
    assert got['host-env']['result'] == 'fail' and '$HOME trap' in got['host-env']['fail_reason']
    # the image's ENV fixes Python (PYTHONNOUSERSITE), not a depot under HOME
    assert got['image-env']['resolved'] == 'julia=host-home,python=image'
    assert got['image-env']['result'] == 'fail'
    assert 'julia package resolved to host-home' in got['image-env']['fail_reason']
    rec = got['recommended']
    assert rec['result'] == 'pass' and rec['resolved'] == 'julia=image,python=image'
    assert [v[0] for k, v in rec['perfvalues'].items() if k.endswith(':hazards')] == [0]
    assert rec['image_digest'].startswith('sha256:')
