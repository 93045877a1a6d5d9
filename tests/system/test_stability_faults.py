"""A stability campaign with faults on the virtual cluster: a rank on node2
is killed every few seconds; the failures land on node2's cases, retries run,
and the report's stability section names node2 (and only node2)."""
import csv
import re

from hpcval_cli import hpcval, run_cases


def test_killed_ranks_on_node2_fail_its_cases_and_the_report_names_node2(vcluster, tmp_path):
    proc = hpcval('run', '--campaign', 'stability-faults', '--name', 'stab', '--repeat', '2',
                  '--fault', 'kill-rank:node=node2:every=3:after=2', runs=tmp_path, timeout=1800)
    assert proc.returncode == 1, proc.stdout[-3000:]          # failures found, campaign completed
    rundir = tmp_path / 'stab' / 'latest'
    log = (rundir / 'faults.log').read_text()
    assert re.search(r'kill-rank: SIGKILL pid \d+ \(\S+\) on node2', log), log
    tcs = [tc for tc in run_cases(rundir) if tc['name'].startswith('MpiMicrobench') and tc['result'] != 'skip']
    failed = [tc for tc in tcs if tc['result'] == 'fail']
    assert failed and any(tc['result'] == 'pass' for tc in tcs)
    # only jobs that held node2 were hit (hosts: where the program ran, when
    # ReFrame's squeue backend missed the job's node list), and sanity names the rank
    assert all('node2' in (tc['hosts'] or ','.join(tc['job_nodelist'] or [])) for tc in failed)
    assert any(re.search(r'rank \d+ on node2: killed', tc['fail_reason']) for tc in failed)
    rep = tmp_path / 'rep'
    assert hpcval('report', rundir, '-o', rep).returncode == 0
    with open(rep / 'tables' / 'suspicious_nodes.csv') as fp:
        flagged = {r['node'] for r in csv.DictReader(fp) if r['suspicious'].lower() == 'true'}
    assert flagged == {'node2'}, flagged
    with open(rep / 'tables' / 'stability_failures.csv') as fp:
        rows = list(csv.DictReader(fp))
    # failure rates per case with their exact CIs, by phase; the one-node cases never failed
    assert any(int(r['failures']) > 0 and float(r['fail_ci_lo']) < float(r['fail_rate']) <= float(r['fail_ci_hi'])
               for r in rows)
    assert all(int(r['failures']) == 0 for r in rows if r['num_nodes'] in ('1', '1.0'))
    assert any(int(r['retries']) > 0 for r in rows)           # --max-retries 1 re-ran failed cases
