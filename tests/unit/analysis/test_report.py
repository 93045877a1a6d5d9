import re

import pandas as pd
import pytest

from hpcval.analysis import ingest, matmul, microbench, report
from runreports import latency_case, make_case, report as runreport, write


def _dataset(tmp_path):
    cases = [latency_case({'1B': 0.30, '8B': 0.35, '4MiB': 400.0}, run_index=0),
             latency_case({'1B': 0.32, '8B': 0.45, '4MiB': 420.0}, run_index=1),
             latency_case({'1B': 0.31, '8B': 0.40, '4MiB': 410.0}, run_index=2),
             make_case('MpiMicrobench %num_nodes=1 %benchmark=bw',
                      {'bw_1B': (8.0, 'MB/s'), 'bw_4MiB': (7000.0, 'MB/s')}, benchmark='bw',
                      num_nodes=1, workload='mpi_microbench', mpi_library='Open MPI v4.1.4'),
             make_case('MatmulBench %num_nodes=1 %backend=numpy',
                      {'nominal_peak': (32.0, 'GFLOP/s'), 'gflops_n1024': (30.0, 'GFLOP/s'),
                       'gflops_n4096': (36.0, 'GFLOP/s'), 'peak_pct_n4096': (112.5, '%')},
                      workload='matmul', num_nodes=1, backend='numpy', peak_derivation='2 cores x 2 GHz x 8',
                      mpi_library='Open MPI v4.1.4'),
             make_case('MpiMicrobench %num_nodes=1 %benchmark=bibw', result='fail', fail_phase='sanity',
                      fail_reason='bibw: <script>alert(1)</script> missing sizes')]
    return ingest.load([write(tmp_path / 'report.json', runreport(cases))])


def test_curves_are_medians_over_repeats(tmp_path):
    curve = microbench.curves(_dataset(tmp_path).frame)
    lat8 = curve[(curve['benchmark'] == 'latency') & (curve['msg_size'] == 8)].iloc[0]
    assert lat8['median'] == pytest.approx(0.40) and lat8['min'] == 0.35 and lat8['max'] == 0.45
    assert lat8['n'] == 3
    keys = microbench.key_figures(curve).set_index('benchmark')
    assert keys.loc['latency', 'msg_size'] == 8 and keys.loc['bw', 'msg_size'] == 4 << 20


def test_matmul_table_percent_of_peak(tmp_path):
    t = matmul.table(_dataset(tmp_path).frame).set_index('n')
    assert t.loc[4096, 'pct_of_peak'] == pytest.approx(112.5)
    assert t.loc[1024, 'gflops_median'] == 30.0 and t.loc[1024, 'nominal_peak_gflops'] == 32.0
    assert t.loc[4096, 'peak_derivation'] == '2 cores x 2 GHz x 8'


def test_render_writes_every_part_and_escapes(tmp_path):
    rep = report.build(_dataset(tmp_path), 'unit report')
    index = report.render(rep, tmp_path / 'reports' / 'unit')
    out = index.parent
    html = index.read_text()
    for name in ('latency_vs_size', 'bw_vs_size', 'matmul_rates'):
        assert (out / 'figures' / f'{name}.png').stat().st_size > 1000
        assert (out / 'figures' / f'{name}.svg').read_text().lstrip().startswith('<?xml')
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3     # self-contained
    assert '<script>alert(1)</script>' not in html and '&lt;script&gt;' in html
    assert 'Open MPI v4.1.4' in html and '112.5 %' in html
    md = (out / 'report.md').read_text()
    assert '| latency |' in md and '![latency: latency vs message size](figures/latency_vs_size.png)' in md
    for t in ('microbench_curves', 'microbench_key_figures', 'matmul', 'provenance', 'cases', 'results'):
        assert not pd.read_csv(out / 'tables' / f'{t}.csv').empty
    assert not [p for p in out.parent.iterdir() if p.name.startswith('.')]   # no temp dirs left


def test_failed_render_keeps_the_old_report(tmp_path, monkeypatch):
    ds = _dataset(tmp_path)
    dest = tmp_path / 'reports' / 'r'
    report.render(report.build(ds, 'first'), dest)
    first = (dest / 'index.html').read_text()

    def boom(*a, **k):
        raise RuntimeError('disk full')
    monkeypatch.setattr(report.document, 'figure_bytes', boom)
    with pytest.raises(RuntimeError):
        report.render(report.build(ds, 'second'), dest)
    assert (dest / 'index.html').read_text() == first
    assert sorted(p.name for p in dest.parent.iterdir()) == ['r']


def test_rerender_replaces_the_report(tmp_path):
    ds = _dataset(tmp_path)
    dest = tmp_path / 'r'
    report.render(report.build(ds, 'first title'), dest)
    report.render(report.build(ds, 'second title'), dest)
    assert 'second title' in (dest / 'index.html').read_text()


def test_provenance_says_which_libmpi_file_each_container_variant_loaded(tmp_path):
    from hpcval.analysis import provenance
    cases = [make_case(f'MpiMicrobench %num_nodes=1 %runtime=charliecloud %mpi={mpi} %benchmark=latency',
                       {'latency_8B': (0.3, 'us')}, benchmark='latency', num_nodes=1, runtime='charliecloud',
                       mpi=mpi, image='openmpi (dir)', image_digest='sha256:ab', mpi_library='Open MPI v4.1.4',
                       mpi_library_path=path)
             for mpi, path in (('host', '/opt/hostmpi/lib/libmpi.so.40.30.4'),
                               ('bundled', '/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4'))]
    table = provenance.cases(ingest.load([write(tmp_path / 'r.json', runreport(cases))]).frame)
    got = dict(zip(table['mpi'], table['mpi_library_path']))
    assert got == {'host': '/opt/hostmpi/lib/libmpi.so.40.30.4',
                   'bundled': '/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4'}
    assert set(table['image_digest']) == {'sha256:ab'}


def test_nodes_of_failed_cases_are_named_even_without_significance(tmp_path):
    cases = [make_case('MpiMicrobench %num_nodes=2 %benchmark=latency', {'latency_8B': (7.0, 'us')},
                       run_index=i, benchmark='latency', num_nodes=2, job_nodelist=nodes,
                       result='pass' if ok else 'fail', fail_phase=None if ok else 'run',
                       fail_reason=None if ok else 'srun: error: node2: task 1: Killed')
             for i, (nodes, ok) in enumerate([(['node1', 'node2'], True), (['node1', 'node2'], False),
                                              (['node1', 'node3'], True), (['node1', 'node3'], True)])]
    rep = report.build(ingest.load([write(tmp_path / 'r.json', runreport(cases))]), 'fault')
    out = report.render(rep, tmp_path / 'out')
    md = (tmp_path / 'out' / 'report.md').read_text()
    assert 'Nodes of the failed cases (none more often than chance allows' in md
    rows = [ln for ln in md.splitlines() if ln.startswith('| node')]
    assert sorted(r.split('|')[1].strip() for r in rows[1:]) == ['node1', 'node2']   # node3: no failed case
    assert '| node2 | 2 | 1 | 50 % | 0 % |' in md
    assert 'node2' in out.read_text().split('id="stability"')[1].split('id="provenance"')[0]


def test_markdown_carries_the_scaling_tables_and_the_warnings(tmp_path):
    from benchmarks.synth_reports import generate
    paths = generate(tmp_path / 'synth', node_counts=(1, 2, 4), runs=8, serial_fraction=0.2, seed=3)
    bad = write(tmp_path / 'bad.json', runreport([make_case('Odd %x=1', {'t': (0.0, 's')})]))
    rep = report.build(ingest.load(list(paths) + [bad]), 'md report')
    out = report.render(rep, tmp_path / 'rep').parent
    md = (out / 'report.md').read_text()
    scaling = md.split('## Application scaling (for a proposal)', 1)[1]
    rows = re.findall(r'^\| (\d) \| 8 \| ([\d.]+) \| ([\d.]+)-([\d.]+) \| ([\d.]+) \| ([\d.]+) %', scaling, re.M)
    assert [r[0] for r in rows] == ['1', '2', '4']
    # Amdahl with a serial fraction of 0.2: speedup 1/(0.2 + 0.8/4) = 2.5 at 4 nodes
    assert float(rows[2][4]) == pytest.approx(2.5, rel=0.1) and float(rows[0][5]) == 100.0
    warnings = md.split('## Warnings', 1)[1]
    assert 'Odd %x=1' in warnings and 't = 0.0' in warnings


def test_a_whole_system_sweep_gets_readable_scaling_figures(tmp_path):
    '''30 series (fabric x MPI mode x benchmark): the legend goes below the
    plot, the figure grows to hold it, constrained layout still applies and
    no box figure is drawn with 90 boxes.'''
    import warnings
    from benchmarks.synth_reports import generate
    from hpcval.analysis import document
    variants = [{'mode_': str(i)} for i in range(30)]
    paths = generate(tmp_path / 'synth', node_counts=(1, 2, 3), runs=3, variants=variants, seed=5)
    rep = report.build(ingest.load(list(paths)), 'sweep')
    fig = rep.figures['speedup_SynthApp'][1]
    assert fig.get_figheight() > 6 and fig.legends and not fig.axes[0].get_legend()
    with warnings.catch_warnings():
        warnings.simplefilter('error')             # "constrained_layout not applied" would raise
        document.figure_bytes(fig, 'png')
    assert 'boxes_SynthApp' not in rep.figures
    few = report.build(ingest.load(list(generate(tmp_path / 'few', node_counts=(1, 2), runs=3, seed=5))), 'few')
    assert few.figures['speedup_SynthApp'][1].axes[0].get_legend() is not None
    assert 'boxes_SynthApp' in few.figures
