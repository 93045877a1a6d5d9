"""Production plans (analysis.allocation): what a plan file may say, and its node-hours."""
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcval.analysis import allocation
from hpcval.errors import InputError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize('text, hours', [('12h', 12), ('90min', 1.5), ('3600s', 1), ('1.5d', 36), (2, 2),
                                         (' 30 min ', 0.5)])
def test_durations(text, hours):
    assert allocation.hours(text) == pytest.approx(hours)


@pytest.mark.parametrize('text', ['soon', '-1h', '0', '1 week', True, 0, '', 'h'])
def test_not_durations(text):
    assert allocation.hours(text) is None


def _series(job=None, model=None, steps=100.0):
    return [{'check': 'Lj', 'series': 'Lj %mode=strong', 'variant': 'mode=strong', 'job': job or {},
             'job_model': model, 'job_model_text': 'c', 'steps': steps}]


def test_measured_size_uses_the_measured_wall_time_and_its_ci():
    lines = [{'name': 'a', 'nodes': 2, 'runs': 10, 'steps': 1000}]
    t = allocation.node_hours(lines, _series(job={2: (360.0, 340.0, 400.0)}))
    r = t.iloc[0]
    # 10 runs x 2 nodes x 360 s x 1000/100 steps
    assert r['node_hours'] == pytest.approx(10 * 2 * 3600 / 3600 * 1)
    assert (r['node_hours_lo'], r['node_hours_hi']) == pytest.approx((10 * 2 * 3400 / 3600, 10 * 2 * 4000 / 3600))
    assert 'measured at 2' in r['basis']


def test_unmeasured_size_uses_the_model_and_says_so():
    lines = [{'name': 'a', 'nodes': 8, 'runs': 3}]
    t = allocation.node_hours(lines, _series(model=lambda n: (100.0 * n, 90.0 * n, 110.0 * n)))
    r = t.iloc[0]
    assert r['node_hours'] == pytest.approx(3 * 8 * 800 / 3600) and 'MODEL' in r['basis']


def test_steps_without_a_measured_step_count_give_no_number():
    lines = [{'name': 'a', 'nodes': 2, 'runs': 1, 'steps': 10}]
    r = allocation.node_hours(lines, _series(job={2: (1.0, 1.0, 1.0)}, steps=math.nan)).iloc[0]
    assert math.isnan(r['node_hours']) and 'wall_time' in r['basis']


def test_a_line_selects_series_by_regex():
    lines = [{'name': 'a', 'nodes': 2, 'runs': 1, 'wall_time': 1.0, 'series': 'weak'}]
    assert allocation.node_hours(lines, _series()).empty
    assert allocation.unmatched(lines, _series()) == [('a', 'weak')]


_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-5, 10 ** 6) | st.floats(allow_nan=True)
                       | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(['nodes', 'runs', 'steps', 'wall_time', 'series', 'name',
                                                          'x']), inner, max_size=5), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_any_yaml_is_a_plan_or_one_line_naming_the_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp('plan') / 'plan.yaml'
    path.write_text(yaml.safe_dump(data))
    try:
        lines = allocation.load(path)
    except InputError as err:
        assert str(err).startswith(str(path)) and '\n' not in str(err)
        return
    for line in lines:
        assert line['nodes'] >= 1 and line['runs'] >= 1
        assert 'wall_time' not in line or line['wall_time'] > 0
