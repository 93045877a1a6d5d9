"""The package's structure: one top-level package, layers that import downwards only,
no import cycle, small modules, one command-line module per subcommand.

Layers, bottom up (docs/architecture.md):
0  hpcval, errors, paths, redact, reframe_facts, sizes
1  analysis.*                        files in, frames, figures and documents out
2  containers.*, cluster.*           siblings: neither imports the other
3  campaign, plan, run, stored, validate   they run ReFrame
4  cli.*, __main__
"""
import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / 'hpcval'
MAX_LINES = 500


def _module(path):
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module(p): p for p in sorted(PKG.rglob('*.py'))}


def layer(module):
    rest = module.split('.')[1:] or ['']
    top = rest[0]
    if top in ('', 'errors', 'paths', 'redact', 'reframe_facts', 'sizes'):
        return 0
    if top == 'analysis':
        return 1
    if top in ('containers', 'cluster'):
        return 2
    if top in ('campaign', 'plan', 'run', 'stored', 'validate'):
        return 3
    if top in ('cli', '__main__'):
        return 4
    raise AssertionError(f'{module}: a module no layer holds (add it to the layer list)')


def imports(path, module):
    '''The hpcval modules ``path`` imports, at any depth of the file (a function's
    deferred import is still a dependency).'''
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f'{path}: a relative import (hpcval imports by absolute name)'
            base = node.module or ''
            # `from pkg import mod` depends on pkg.mod when that is a module
            names = [f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES else base for a in node.names]
        else:
            continue
        out |= {n for n in names if n == 'hpcval' or n.startswith('hpcval.')}
    return out - {module}


GRAPH = {m: imports(p, m) for m, p in MODULES.items()}


def test_only_hpcval_is_installed_as_a_package():
    import tomllib
    find = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['packages']['find']
    assert find['include'] == ['hpcval', 'hpcval.*']
    for name in ('analysis', 'cluster'):
        assert not (ROOT / name).exists(), f'{name}/ at the top: it belongs under hpcval/'
    assert not list((ROOT / 'containers').glob('*.py')), 'containers/ holds the Dockerfiles only'


@pytest.mark.parametrize('module', sorted(MODULES))
def test_imports_go_downwards(module):
    own = layer(module)
    for dep in GRAPH[module]:
        assert layer(dep) <= own, f'{module} (layer {own}) imports {dep} (layer {layer(dep)})'
        if own == layer(dep) == 2:
            assert dep.split('.')[1] == module.split('.')[1], f'{module} imports its sibling {dep}'


def test_the_analysis_runs_nothing():
    '''analysis stays pure: no ReFrame, no subprocess.'''
    for module, path in MODULES.items():
        if layer(module) != 1:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert n.split('.')[0] not in ('reframe', 'subprocess'), f'{module} imports {n}'


def find_cycle(graph):
    '''The first import cycle of ``graph`` (module -> modules) as a list, or None.'''
    state = {}

    def visit(m, path):
        state[m] = 'open'
        for dep in sorted(graph.get(m, ())):
            if dep.startswith(f'{m}.'):
                continue            # a package re-exporting its own submodules
            if state.get(dep) == 'open':
                return path + [dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[m] = 'done'
        return None
    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_no_import_cycle():
    assert find_cycle(GRAPH) is None, 'import cycle: ' + ' -> '.join(find_cycle(GRAPH))
    # the search itself finds one where there is one
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'p': {'p.x'}, 'p.x': set()}) is None


@pytest.mark.parametrize('module', sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f'{module}: {lines} lines; split it by what it holds'


def test_one_command_line_module_per_subcommand():
    from hpcval import cli
    mods = {p.stem for p in (PKG / 'cli').glob('*.py')} - {'__init__', 'common'}
    assert mods == {name.replace('-', '_') for name in cli.SUBCOMMANDS}      # validate-image: validate_image.py
    for name in mods:
        assert callable(importlib.import_module(f'hpcval.cli.{name}').add_parser)


def test_the_checker_sees_a_bad_import(tmp_path):
    '''The walk itself: an upward import and a cycle in a made-up file are found.'''
    bad = tmp_path / 'bad.py'
    bad.write_text('def f():\n    from hpcval.cli import common\nfrom hpcval.analysis import ingest\n')
    assert imports(bad, 'hpcval.analysis.bad') == {'hpcval.cli.common', 'hpcval.analysis.ingest'}
    assert layer('hpcval.cli.common') > layer('hpcval.analysis.bad')
