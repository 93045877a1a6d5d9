"""redact over a corpus of secret shapes: by name, by value, in every container."""
import subprocess
import sys
import time

import pytest

from hpcval import redact as r
from hpcval.redact import REDACTED, redact, redact_env, redact_text, secret_name
from secrets_corpus import BY_NAME, BY_VALUE, CORPUS, KEPT, SECRETS


def test_the_corpus_has_both_kinds_and_distinct_secrets():
    assert len(BY_VALUE) >= 15 and len(BY_NAME) >= 10
    assert len(set(SECRETS)) == len(SECRETS)
    for _name, value, secret in CORPUS:
        assert secret in value
    assert all(secret_name(n) for n, _v, _s in BY_NAME)
    assert not any(secret_name(n) for n, _v, _s in BY_VALUE)     # so only the value can hide these


@pytest.mark.parametrize('name', ['SSHPASS', 'MYSQL_PWD', 'GH_PAT', 'AUTH', 'GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY',
                                  'AWS_ACCESS_KEY_ID', 'MY_API_KEY', 'apikey', 'MyAPIKey', 'api_key_v2', 'KEY',
                                  'ssh_keys', 'DB_PASSWORD', 'passwd', 'passphrase', 'SESSION_COOKIE', 'apiToken',
                                  'hpcval_api_token', 'GOOGLE_CREDENTIALS', 'creds', 'Authorization', 'oauth',
                                  'X.password', '--api-key', 'jwt', 'sessionid', 'Pwd', 'dbpass'])
def test_secret_names(name):
    assert secret_name(name)
    assert r.SECRET.search(name)              # the old regex's interface


@pytest.mark.parametrize('name', ['keep_files', 'job_options', 'key_size', 'keyfile', 'monkey', 'PWD', 'OLDPWD',
                                  'PATH', 'num_tokens', 'max_tokens', 'TOKENIZERS_PARALLELISM', 'session_uuid',
                                  'author', 'XAUTHORITY', 'compass', 'bypass', 'passes', 'DATABASE_URL',
                                  'env_vars', 'display_name', 'fail_reason', 'job_nodelist', 'hpcval_campaign',
                                  'exclusive_access', 'num_passes', 'OMP_NUM_THREADS', 'SSH_HOST'])
def test_harmless_names(name):
    assert not secret_name(name)
    assert not r.SECRET.search(name)


@pytest.mark.parametrize('name,value,secret', CORPUS, ids=[c[0] for c in CORPUS])
def test_every_shape_as_text_dict_list_and_env(name, value, secret):
    for out in (redact_text(f'{name}={value}'), redact_text(f'export {name}="{value}"'),
                redact({name: value}), redact([f'{name}={value}']), redact((f'{name}={value}',)),
                redact({'outer': {'inner': [{name: value}]}}), redact_env({name: value}),
                redact_env([f'{name}={value}']), redact_env(f'A=1 {name}={value} B=2')):
        assert secret not in str(out), out
        assert REDACTED in str(out)


@pytest.mark.parametrize('name,value,secret', BY_VALUE, ids=[c[0] for c in BY_VALUE])
def test_value_shapes_are_found_whatever_the_key(name, value, secret):
    for out in (redact_text(value), redact({'notes': value}), redact([value]), redact({'x': [['a', value]]}),
                redact_text(f'prefix {value} suffix')):
        assert secret not in str(out), out


def test_the_shape_and_harmless_parts_are_kept():
    data = {'OMP_NUM_THREADS': 4, 'ratio': 0.5, 'ok': True, 'none': None, 'empty': '',
            'url': 'https://admin:S3cr3tValueX@db.example/x', 'api_token': 'S3cr3tValueY',
            'nested': {'list': ['a', {'password': 'S3cr3tValueZ'}], 'tuple': ('b', 2)}}
    out = redact(data)
    assert out == {'OMP_NUM_THREADS': 4, 'ratio': 0.5, 'ok': True, 'none': None, 'empty': '',
                   'url': f'https://{REDACTED}@db.example/x', 'api_token': REDACTED,
                   'nested': {'list': ['a', {'password': REDACTED}], 'tuple': ('b', 2)}}
    assert data['api_token'] == 'S3cr3tValueY'          # the input is left as it was
    assert redact(7) == 7 and redact(None) is None and redact(2.5) == 2.5
    assert redact({'api_token': None, 'SSHPASS': ''}) == {'api_token': None, 'SSHPASS': ''}   # nothing to hide
    assert redact({'api_token': 12345}) == {'api_token': REDACTED}


def test_harmless_text_is_unchanged():
    for text in ['MpiMicrobench %num_nodes=1 %benchmark=latency %.repeat_no=0', '2026-11-28T16:00:00+00:00',
                 'https://docs.example/page?x=1&y=2', 'Basic latency test', 'Open MPI v4.1.4', 'nid0001,nid0002',
                 'reframe -C config/local.py -c checks/mpi_microbench.py -r --keep-stage-files',
                 'OMP_NUM_THREADS=4 PWD=/work/stage', 'sanity error: KeyError: latency', '']:
        assert redact_text(text) == text
    for name, value in KEPT:
        assert redact({name: value}) == {name: value}
        assert redact_env({name: value}) == f'{name}={value}'


def test_argv_lists_hide_the_option_value_in_the_next_item():
    assert redact(['--password', 'S3cr3tValueA', '--verbose', '-S', 'X.token=S3cr3tValueB', 'file']) == \
        ['--password', REDACTED, '--verbose', '-S', f'X.token={REDACTED}', 'file']
    assert redact(['--comment=token=abc', '--keep-files', 'x']) == [f'--comment=token={REDACTED}', '--keep-files', 'x']


def test_command_lines():
    cmd = ('reframe -C config/local.py -S X.password=S3cr3tValueA --db https://admin:S3cr3tValueB@db '
           '--token S3cr3tValueC --session-extras os_patch=2,api_key=S3cr3tValueD -r')
    out = redact_text(cmd)
    assert all(s not in out for s in ('S3cr3tValueA', 'S3cr3tValueB', 'S3cr3tValueC', 'S3cr3tValueD'))
    assert out == ('reframe -C config/local.py -S X.password=<redacted> --db https://<redacted>@db '
                   '--token <redacted> --session-extras os_patch=2,api_key=<redacted> -r')


def test_reframe_parameters_in_names():
    assert redact_text('App %num_nodes=2 %.api_token=S3cr3tValueA %x=1') == \
        f'App %num_nodes=2 %.api_token={REDACTED} %x=1'


def test_hostile_text_takes_linear_time():
    # 200 000 characters each; a backtracking pattern took 25 s on the first
    for text in ('key.' * 50000, 'a-' * 100000 + 'token', 'https://' + '@a' * 100000, 'key: ' * 40000,
                 '--key ' * 33000, 'ghp_' * 50000, '-----BEGIN PRIVATE KEY-----' * 7000):
        t0 = time.perf_counter()
        redact_text(text)
        assert time.perf_counter() - t0 < 2, text[:20]


def test_pem_blocks_keep_their_frame_and_a_cut_block_is_hidden_to_the_end():
    pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----'
    assert redact_text(f'key:\n{pem}\nrest') == \
        f'key:\n-----BEGIN RSA PRIVATE KEY-----{REDACTED}-----END RSA PRIVATE KEY-----\nrest'
    assert 'MIIE' not in redact_text('x -----BEGIN PRIVATE KEY-----\nMIIEcutoff')


def test_env_vars_in_every_form():
    assert redact_env({'B': '2', 'GITHUB_TOKEN': 'x', 'A': 1}) == f'A=1 B=2 GITHUB_TOKEN={REDACTED}'
    assert redact_env(['GITHUB_TOKEN=x', 'A=1']) == f'GITHUB_TOKEN={REDACTED} A=1'
    assert redact_env('SSHPASS=x A=1') == f'SSHPASS={REDACTED} A=1'
    assert redact_env(None) == '' and redact_env({}) == '' and redact_env('') == '' and redact_env(float('nan')) == ''


@pytest.mark.parametrize('name,value,secret', CORPUS, ids=[c[0] for c in CORPUS])
def test_redacting_twice_changes_nothing(name, value, secret):
    once = redact_text(f'{name}={value} and {value}')
    assert redact_text(once) == once


def test_every_changed_text_passes_the_cheap_test():
    # the vectorised filter of ingest relies on it: what redact_text changes, maybe_secret finds
    for name, value, _secret in CORPUS:
        for text in (f'{name}={value}', value):
            if redact_text(text) != text:
                assert r.maybe_secret(text)
    import re
    assert re.search(r.MAYBE, 'Authorization: Bearer x') and not re.search(r.MAYBE, '2026-11-28T16:00:00')


def test_the_module_imports_re_only():
    code = ('import sys; import hpcval.redact; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "numpy", "json", "orjson")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=r.__file__.rsplit('/', 2)[0])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
