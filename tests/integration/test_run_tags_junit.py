"""A real short run: the user's tags arrive in the run report's session_info,
and ReFrame's JUnit XML lies beside report.json."""
import xml.etree.ElementTree as ET

from hpcval_cli import cases, hpcval, load_report


def test_tags_arrive_in_session_info_and_junit_is_kept(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'mpi_microbench', '--name', 't', '--tag', 'os_patch=p1', '--tag', 'site=lab',
                  '-S', 'MpiMicrobench.max_message_size=8', '-S', 'MpiMicrobench.num_iters=50',
                  '--', '-n', '%benchmark=latency', runs=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    rundir = runs / 't' / 'latest'
    info = load_report(rundir)['session_info']
    assert info['os_patch'] == 'p1' and info['site'] == 'lab'
    assert info['hpcval_campaign'] == 't' and info['hpcval_version'] and info['hpcval_git']
    assert 'hpcval_campaign_def' not in info
    assert not [k for k in info if k.startswith('image_')]          # bare: no image used
    suites = ET.parse(rundir / 'junit.xml').getroot()
    names = [tc.get('name') for tc in suites.iter('testcase')]
    assert any(n.startswith('MpiMicrobench') and 'benchmark=latency' in n for n in names), names
    assert not list(suites.iter('failure'))
    assert len([c for c in cases(load_report(rundir)) if not c.get('fixture')]) >= 1


def test_a_bad_tag_runs_nothing(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'matmul', '--tag', 'os_patch=a,b', runs=runs)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and 'may not contain' in proc.stderr
    assert not runs.exists()
