"""A campaign's ``app:`` section as checks/app.py uses it, and what
checks/src/app_launch.py prints.

``hpcval run`` validates the section (hpcval/campaign.py, ``APP_SCHEMA``:
the one place of its keys), writes it as JSON into the run folder and names
that file in ``$HPCVAL_APP`` (``SPEC_ENV``; hpcval/run.py ``APP_ENV``), so
checks/app.py can make its test class and parameters from it when ReFrame
loads the module.  Pure functions: the unit tests run them on real output.
"""
import json
import os
import re
import shlex

#: the environment variable naming the JSON file (hpcval.run.APP_ENV; a unit test keeps them equal)
SPEC_ENV = 'HPCVAL_APP'
#: ``fom: wall_time`` (hpcval.campaign.WALL_TIME): the job's own wall time, ProvenanceMixin.job_seconds
WALL_TIME = 'wall_time'

_RANK_PATH = re.compile(r'^# Rank (\d+) on (\S+) MPI Library Path: (.*?)\s*$', re.M)
_RANK_EXIT = re.compile(r'^# Rank (\d+) exit status: (-?\d+)\s*$', re.M)


def load(environ=None):
    '''The app section named by ``$HPCVAL_APP``, or None when it is unset.'''
    path = (os.environ if environ is None else environ).get(SPEC_ENV)
    if not path:
        return None
    with open(path) as fp:
        return json.load(fp)


def placeholders(mode, nodes, ranks_per_node, threads, steps=None):
    '''The values ``app.command`` may name: ``{scale}`` is 1 in strong mode and
    the rank count in weak mode (what to multiply the problem size by).'''
    ranks = nodes * ranks_per_node
    return {'nodes': nodes, 'ranks': ranks, 'ranks_per_node': ranks_per_node, 'threads': threads,
            'scale': ranks if mode == 'weak' else 1, 'steps': '' if steps is None else steps, 'mode': mode}


def command_words(template, values):
    '''The command's words with the placeholders filled in (shell-like splitting,
    no shell: a word is quoted again when written into the job script).'''
    return shlex.split(template.format(**values))


def figures(spec):
    '''The figures read from the output: [{name, regex, unit, better}], the FOM first
    (none for ``fom: wall_time``, which is the job's time).'''
    fom = spec['fom']
    return ([] if fom == WALL_TIME else [fom]) + list(spec.get('figures') or [])


def fom_name(spec):
    return WALL_TIME if spec['fom'] == WALL_TIME else spec['fom']['name']


def better(spec):
    '''pvar -> higher/lower, as the analysis reads ``better_overrides`` (JSON text).'''
    out = {f['name']: f['better'] for f in figures(spec)}
    if spec['fom'] == WALL_TIME:
        out[WALL_TIME] = 'lower'
    return json.dumps(out, sort_keys=True)


def read_figure(text, regex):
    '''The figure in ``text``: the one group of the last match of ``regex`` (a
    program that runs a warm-up before the measured part reports it last), as a
    float; None when it does not match or is not a number.'''
    found = list(re.finditer(regex, text, re.M))
    if not found:
        return None
    try:
        return float(found[-1].group(1))
    except (TypeError, ValueError):
        return None


def rank_reports(text):
    '''What app_launch.py printed, per rank: {rank: {'host', 'path', 'exit'}}
    (``exit`` None when the rank never said it ended).'''
    out = {}
    for r, host, path in _RANK_PATH.findall(text):
        out[int(r)] = {'host': host, 'path': path, 'exit': None}
    for r, code in _RANK_EXIT.findall(text):
        out.setdefault(int(r), {'host': '', 'path': 'none', 'exit': None})['exit'] = int(code)
    return out


def rank_problems(reports, ranks):
    '''Sanity problems of the launch: every rank ran under app_launch.py, mapped an
    MPI library and ended with status 0.'''
    problems = []
    if len(reports) != ranks:
        problems.append(f'{len(reports)} of {ranks} ranks reported (app_launch.py)')
    failed = sorted((r, rep['exit']) for r, rep in reports.items() if rep['exit'] not in (0,))
    if failed:
        problems.append('the program ended with ' + ', '.join(
            f'rank {r}: {"no status" if code is None else f"exit status {code}"}' for r, code in failed[:4]))
    none = sorted(r for r, rep in reports.items() if rep['path'] in ('', 'none'))
    if none:
        problems.append(f'rank(s) {",".join(map(str, none[:8]))} loaded no MPI library (not an MPI program, '
                        f'or it ended before its map could be read)')
    return problems


def library_paths_line(reports):
    '''Every rank's library in one ``# MPI Library Path:`` line, what
    ContainerMixin.container_problems reads: one rank that fell back to another
    library fails the case.'''
    paths = sorted({rep['path'] for rep in reports.values() if rep['path'] not in ('', 'none')})
    return '# MPI Library Path: ' + ','.join(paths)


def hosts(reports):
    return ','.join(sorted({rep['host'] for rep in reports.values() if rep['host']}))
