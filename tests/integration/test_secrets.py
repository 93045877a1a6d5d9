"""Secrets never reach an output (issue 12): every shape of the corpus, in every place a run
carries text, through the real command line -- report, compare, history add, history show."""
import json

import pytest

from hpcval_cli import hpcval
from runreports import make_case, report as runreport, write
from secrets_corpus import BY_VALUE, CORPUS, KEPT, SECRETS

# secrets placed outside the environment: loggable variables, the command line, session extras
PLACED = {'variable': 'S3cr3tValueV1', 'job_options': 'S3cr3tValueV2', 'nested': 'S3cr3tValueV3',
          'cmdline_setvar': 'S3cr3tValueC1', 'cmdline_url': 'S3cr3tValueC2', 'extra': 'S3cr3tValueE1',
          'extra_url': 'S3cr3tValueE2', 'perflog_variable': 'S3cr3tValueP1'}
EVERY_SECRET = SECRETS + list(PLACED.values())
ENV = dict([(n, v) for n, v, _s in CORPUS] + KEPT)


def _case(name, env_vars, latency):
    return make_case(f'SecretApp %variant={name}', {'latency': (latency, 'us')}, workload='secretapp',
                     num_nodes=1, env_vars=env_vars,
                     api_token=PLACED['variable'],                          # a loggable variable by name
                     job_options=[f'--comment=token={PLACED["job_options"]}', '--exclusive'],
                     deploy={'db': {'password': PLACED['nested'], 'host': 'db.example'}},
                     notes=[v for _n, v, _s in BY_VALUE])                   # every value shape, no names


def _report(tmp_path, i):
    session = f'00000000-0000-4000-8000-00000000000{i}'
    cases = [_case('dict', ENV, 1.0 + 0.01 * i),                                         # env_vars: a dict
             _case('list', [f'{n}={v}' for n, v in ENV.items()], 2.0 + 0.01 * i),        # a list
             _case('string', ' '.join(f'{n}={v}' for n, v in ENV.items()), 3.0 + 0.01 * i)]   # a string
    for c in cases:
        c['session_uuid'] = session
    rep = runreport(cases, session=session)
    info = rep['session_info']
    info['time_start'] = f'2026112{i}T160000+0000'
    info['cmdline'] = (f'reframe -C config/local.py -S SecretApp.password={PLACED["cmdline_setvar"]} '
                       f'--db https://admin:{PLACED["cmdline_url"]}@db.example -r')
    info['hpcval_api_token'] = PLACED['extra']                              # a session extra by name
    info['hpcval_campaign'] = 'nightly'
    info['deploy_url'] = f'https://ci:{PLACED["extra_url"]}@ci.example'    # a tag by value
    info['os_patch'] = f'2026-0{i}'
    path = tmp_path / f'run{i}' / 'report.json'
    path.parent.mkdir()
    return write(path, rep)


def _perflog(tmp_path):
    '''A perflog whose env_vars and variables columns (ReFrame's JSON) and other fields hold the corpus.'''
    header = ('job_completion_time|display_name|system:partition|environ|result|session_uuid|env_vars|variables|'
              'api_token|job_options|notes|lat_value|lat_unit|lat_ref|lat_lower_thres|lat_upper_thres')
    lines = []
    for i in range(3):
        env = json.dumps(ENV)
        variables = json.dumps(dict(ENV, GITHUB_TOKEN=PLACED['perflog_variable']))
        fields = [f'2026-11-2{i}T17:00:00+00:00', 'PerflogApp %variant=a', 'local:default', 'host-openmpi', 'pass',
                  f'10000000-0000-4000-8000-00000000000{i}', env, variables, PLACED['variable'],
                  json.dumps([f'--comment=token={PLACED["job_options"]}']), json.dumps([v for _n, v, _s in BY_VALUE]),
                  f'{5.0 + i * 0.01}', 'us', '0', 'None', 'None']
        assert not any('|' in f or '\n' in f for f in fields)
        lines.append('|'.join(fields))
    path = tmp_path / 'perflogs' / 'local' / 'default' / 'PerflogApp.log'
    path.parent.mkdir(parents=True)
    path.write_text(header + '\n' + '\n'.join(lines) + '\n')
    return path


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
    '''Every command a user runs on such runs; (files written, stdout + stderr of each command).'''
    tmp = tmp_path_factory.mktemp('secrets')
    inputs = tmp / 'in'
    inputs.mkdir()
    runs = [_report(inputs, i) for i in range(3)]
    log = _perflog(inputs)
    out = tmp / 'out'
    store = out / 'store' / 'history.sqlite'
    procs = [hpcval('report', *runs, log, '-o', out / 'report'),
             hpcval('compare', runs[0], runs[1], '-o', out / 'compare'),
             hpcval('compare', log, log, '-o', out / 'compare_perflog'),
             hpcval('history', 'add', *runs, log, '--store', store),
             hpcval('history', 'show', '--store', store, '-o', out / 'history')]
    for p, ok in zip(procs, [(0,), (0, 1), (0, 1), (0,), (0,)]):       # compare: 1 on a regression
        assert p.returncode in ok, (p.args[3:5], p.stdout[-2000:] + p.stderr[-2000:])
    return out, procs


def _files(out):
    return sorted(p for p in out.rglob('*') if p.is_file())


def test_every_command_wrote_its_outputs(outputs):
    out, _procs = outputs
    names = {p.relative_to(out).as_posix() for p in _files(out)}
    for must in ('report/index.html', 'report/report.md', 'report/tables/case_attributes.csv',
                 'report/tables/sessions.csv', 'compare/index.html', 'compare/tables/sessions.csv',
                 'compare_perflog/index.html', 'store/history.sqlite', 'history/index.html',
                 'history/tables/sessions.csv'):
        assert must in names, sorted(names)


@pytest.mark.parametrize('secret', EVERY_SECRET)
def test_no_secret_in_any_output_file_or_terminal_line(outputs, secret):
    out, procs = outputs
    needle = secret.encode()
    leaks = [p.relative_to(out).as_posix() for p in _files(out) if needle in p.read_bytes()]
    assert not leaks, f'{secret} in {leaks}'
    for p in procs:
        assert secret not in p.stdout and secret not in p.stderr, p.args


def test_the_places_that_held_secrets_are_there_redacted(outputs):
    # the test above would pass if the fields were dropped: they are kept, redacted, harmless parts in clear
    out, procs = outputs
    cases = (out / 'report' / 'tables' / 'case_attributes.csv').read_text()
    for column in ('env_vars', 'variables', 'api_token', 'job_options', 'deploy', 'notes'):
        assert column in cases.splitlines()[0], column
    assert 'OMP_NUM_THREADS=4' in cases and 'https://docs.example/page?x=1' in cases
    assert 'SSHPASS=<redacted>' in cases and 'postgres://<redacted>@db.example:5432/app' in cases
    assert 'GITHUB_TOKEN=<redacted>' in cases and 'token=<redacted>' in cases
    sessions = (out / 'report' / 'tables' / 'sessions.csv').read_text()
    assert 'SecretApp.password=<redacted>' in sessions and 'https://<redacted>@db.example' in sessions
    assert 'hpcval_api_token' in sessions.splitlines()[0] and 'nightly' in sessions
    store = (out / 'store' / 'history.sqlite').read_bytes()
    assert b'SecretApp.password=<redacted>' in store and b'os_patch' in store
    history = (out / 'history' / 'tables' / 'sessions.csv').read_text()
    assert 'hpcval_api_token=<redacted>' in history and 'deploy_url=https://<redacted>@ci.example' in history
    assert 'hpcval_api_token=<redacted>' in procs[3].stdout      # history add prints the tags
