"""Render reports in headless Chromium: every figure must load, no script may fail."""
import json
import re
import shutil
import subprocess

import pytest

from hpcval.analysis import ingest, report
from benchmarks.synth_reports import generate

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--virtual-time-budget=5000', '--dump-dom']

# Injected first into a copy of the page: records script errors and, once
# loaded, every image that did not decode.
PROBE = '''<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);
  const out = document.createElement('pre');
  out.id = 'hpcval-probe';
  out.textContent = JSON.stringify({images: document.images.length, broken, errors: window.__errors});
  document.body.appendChild(out);
});
</script>'''


def probe(index, tmp_path):
    html = index.read_text()
    page = tmp_path / 'probe.html'
    page.write_text(html.replace('<head>', '<head>' + PROBE, 1))
    proc = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={tmp_path / "profile"}', page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="hpcval-probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stderr[-2000:]
    return json.loads(m.group(1).replace('&quot;', '"').replace('&amp;', '&'))


pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='chromium is not installed (make setup installs it as root)')


@pytest.fixture(scope='module')
def synthetic_report(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth')
    generate(out, node_counts=(1, 2, 4), runs=8, variants=[{'mpi': 'host'}, {'mpi': 'bundled'}],
             variant_factors=[1.0, 1.2], fail_rate=0.1, bad_node='nid0003', seed=5)
    return report.render(report.build(ingest.load([out]), 'chromium check'),
                         tmp_path_factory.mktemp('rep') / 'r')


def test_every_figure_loads_and_no_script_error(synthetic_report, tmp_path):
    result = probe(synthetic_report, tmp_path)
    assert result['errors'] == []
    assert result['broken'] == []
    assert result['images'] == len(list((synthetic_report.parent / 'figures').glob('*.png'))) >= 4


def test_probe_catches_a_missing_figure_and_a_script_error(synthetic_report, tmp_path):
    html = synthetic_report.read_text()
    html = re.sub(r'src="data:image/png;base64,[^"]{20}', 'src="data:image/png;base64,AAAA', html, count=1)
    html = html.replace('</body>', '<script>undefinedFunction()</script></body>')
    broken = tmp_path / 'broken.html'
    broken.write_text(html)
    result = probe(broken, tmp_path)
    assert len(result['broken']) == 1 and result['errors']


def test_real_run_report_renders(smoke_run, tmp_path):
    index = report.render(report.build(ingest.load([smoke_run]), 'smoke'), tmp_path / 'smoke')
    result = probe(index, tmp_path)
    # five benchmarks' curves and GEMM, each its own figure
    figures = list((index.parent / 'figures').glob('*.png'))
    assert result['errors'] == [] and result['broken'] == [] and result['images'] == len(figures) == 6
