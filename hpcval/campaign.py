"""Campaign definitions: campaigns/NAME.yaml says what to run, how often, and
how to report on it.

A campaign file is YAML (``yaml.safe_load``) validated against ``SCHEMA``
(JSON Schema, ``additionalProperties: false`` everywhere): a fault is one line
naming the file, the path inside it and the fault, e.g.
``campaigns/x.yaml: repeat: 'three' is not of type 'integer'``, raised as a
UsageError (exit 2).  YAML aliases (``*name``) are refused: a campaign needs
none, and nine lines of them ("billion laughs") expand to 9^9 values.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

from hpcval import paths
from hpcval.errors import UsageError
from hpcval.reframe_facts import NO_ROLE, RESERVED_EXTRAS, ROLES, TAG_KEY, TAG_VALUE, reserved_tag  # noqa: F401

_SCALAR = {'type': ['string', 'number', 'boolean']}
_FRACTION = {'type': 'number', 'exclusiveMinimum': 0, 'exclusiveMaximum': 1}
_IDENT = r'^[A-Za-z_][A-Za-z0-9_]*$'
#: what ``app.command`` may name in braces (docs/extending.md, "An application of your own")
APP_PLACEHOLDERS = ('nodes', 'ranks', 'ranks_per_node', 'threads', 'scale', 'steps', 'mode')
#: ``app.fom: wall_time``: the job's own wall time (ProvenanceMixin.job_seconds), as this figure
WALL_TIME = 'wall_time'
_FIGURE = {'type': 'object', 'additionalProperties': False, 'required': ['name', 'regex', 'unit', 'better'],
           'properties': {'name': {'type': 'string', 'pattern': _IDENT},
                          'regex': {'type': 'string', 'format': 'regex'},
                          'unit': {'type': 'string', 'minLength': 1},
                          'better': {'enum': ['higher', 'lower']}}}
_MODES = {'enum': ['strong', 'weak']}
_COUNT = {'type': 'integer', 'minimum': 1}
#: a user's own application (checks/app.py reads it, as JSON, when the campaign runs)
APP_SCHEMA = {
    'type': 'object', 'additionalProperties': False, 'required': ['name', 'command', 'fom', 'sanity'],
    'properties': {
        'name': {'type': 'string', 'pattern': _IDENT},
        'image': {'type': 'string', 'minLength': 1},              # NAME[:TAG] of a built or imported image, or bare
        'command': {'type': 'string', 'minLength': 1},            # with {placeholders}
        'inputs': {'type': 'array', 'items': {'type': 'string', 'minLength': 1}},
        'output': {'type': 'string', 'minLength': 1},             # a file the app writes, read instead of stdout
        'env': {'type': 'object', 'propertyNames': {'pattern': _IDENT},
                'additionalProperties': {'type': ['string', 'number']}},
        'ranks_per_node': {'anyOf': [_COUNT, {'type': 'array', 'minItems': 1, 'uniqueItems': True, 'items': _COUNT}]},
        'threads': {'type': 'integer', 'minimum': 1},
        'mode': {'anyOf': [_MODES, {'type': 'array', 'minItems': 1, 'uniqueItems': True, 'items': _MODES}]},
        'steps': {'type': 'integer', 'minimum': 1},
        'fom': {'anyOf': [{'const': WALL_TIME}, _FIGURE]},
        'figures': {'type': 'array', 'items': _FIGURE},
        'sanity': {'type': 'string', 'minLength': 1, 'format': 'regex'},
    },
}

SCHEMA = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    'title': 'hpcval campaign',
    'type': 'object',
    'additionalProperties': False,
    'required': ['checks'],
    'properties': {
        'description': {'type': 'string'},
        'system': {'type': 'string', 'minLength': 1},
        'checks': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'minLength': 1}},
        'nodes': {'type': 'array', 'minItems': 1, 'items': {'type': 'integer', 'minimum': 1}},
        'repeat': {'type': 'integer', 'minimum': 1},
        # -P NAME=V1,V2: variant parameters
        'params': {'type': 'object', 'additionalProperties': {
            'anyOf': [_SCALAR, {'type': 'array', 'minItems': 1, 'items': _SCALAR}]}},
        # -S [TEST.]VAR=VALUE: check variables
        'set': {'type': 'object', 'additionalProperties': {
            'anyOf': [_SCALAR, {'type': 'array', 'items': _SCALAR}]}},
        'reframe_options': {'type': 'array', 'items': {'type': 'string'}},
        # session extras added to every run of the campaign
        'tags': {'type': 'object', 'propertyNames': {'pattern': TAG_KEY},
                 'additionalProperties': {'type': 'string', 'pattern': TAG_VALUE}},
        'report': {
            'type': 'object', 'additionalProperties': False,
            'properties': {
                'title': {'type': 'string'},
                'mode': {'enum': ['strong', 'weak']},
                'floor': _FRACTION,
                # CHECK -> role, over what the check declares (hpcval.analysis.roles)
                'roles': {'type': 'object', 'additionalProperties': {'enum': list(ROLES) + [NO_ROLE]}},
                # sentences the report's summary puts first under "Read with care"
                'caveats': {'type': 'array', 'items': {'type': 'string', 'minLength': 1}},
                'compare': {
                    'type': 'object', 'additionalProperties': False,
                    'properties': {
                        'pvars': {'type': 'array', 'items': {'type': 'string', 'format': 'regex'}},
                        'delta': _FRACTION,
                    },
                },
            },
        },
        'app': APP_SCHEMA,
        # validated here; cluster/faults.py injects them while the run goes on
        'faults': {'type': 'array', 'items': {
            'type': 'object', 'additionalProperties': False,
            'required': ['kind', 'node', 'after'],
            'properties': {
                'kind': {'enum': ['kill-rank', 'stop-slurmd']},
                'node': {'type': 'string', 'minLength': 1},
                'after': {'type': 'number', 'minimum': 0},
                'for': {'type': 'number', 'minimum': 0},
                'every': {'type': 'number', 'exclusiveMinimum': 0},
            },
        }},
    },
}


@dataclass
class Campaign:
    name: str
    description: str = ''
    system: str = 'local'
    checks: list = field(default_factory=list)
    nodes: list = field(default_factory=lambda: [1])
    repeat: int = 1
    setvars: dict = field(default_factory=dict)     # -S VAR=VAL
    params: dict = field(default_factory=dict)      # -P PARAM=V1,V2 (variant parameters)
    reframe_options: list = field(default_factory=list)
    tags: dict = field(default_factory=dict)        # session extras of every run
    report: dict = field(default_factory=dict)      # title, mode, floor, compare: {pvars, delta}
    faults: list = field(default_factory=list)      # [{kind, node, after, for, every}]
    app: dict = None                                # the app: section, inputs made absolute
    path: Path = None

    def param_options(self):
        '''``-P NAME=V1,V2`` for each variant parameter.'''
        opts = []
        for key, values in self.params.items():
            values = values if isinstance(values, list) else [values]
            opts += ['-P', f'{key}=' + ','.join(str(v) for v in values)]
        return opts

    def compare_options(self):
        '''``report.compare``: {'pvars': [...], 'delta': x}, either may be absent.'''
        return dict(self.report.get('compare') or {})


def _where(path):
    p = Path(path)
    try:
        return str(p.resolve().relative_to(paths.ROOT.resolve()))
    except ValueError:
        return str(p)


def _location(parts):
    out = ''
    for part in parts:
        out += f'[{part}]' if isinstance(part, int) else (f'.{part}' if out else str(part))
    return out or 'top level'


def _schema_error(data):
    '''The first schema violation, as "PATH: FAULT", or None.'''
    import jsonschema
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = list(validator.iter_errors(data))
    if not errors:
        return None
    err = jsonschema.exceptions.best_match(errors)
    where = list(err.absolute_path)
    if err.validator == 'additionalProperties' and isinstance(err.instance, dict):
        allowed = err.schema.get('properties') or {}
        unknown = sorted(str(k) for k in err.instance if k not in allowed)
        if allowed and unknown:
            return (f'{_location(where)}: unknown key(s) {", ".join(map(repr, unknown))} '
                    f'(known: {", ".join(allowed)})')
    if err.validator == 'pattern' and err.validator_value == TAG_VALUE:
        return (f'{_location(where)}: {err.instance!r} may not contain "," or "=" '
                '(ReFrame splits session extras on them)')
    if err.validator == 'pattern' and err.validator_value == TAG_KEY:
        return (f'{_location(where)}: {err.instance!r} does not match {TAG_KEY!r} '
                f'(a tag name is a letter or _ then letters, digits, _)')
    if err.validator == 'anyOf' and where in (['app', 'fom'], ['app', 'mode'], ['app', 'ranks_per_node']):
        what = {'fom': f'{WALL_TIME} or a mapping {{name, regex, unit, better}}',
                'mode': 'strong, weak or a list of them',
                'ranks_per_node': 'a count (1 or more) or a list of counts'}[where[-1]]
        return f'{_location(where)}: {err.instance!r} is not {what}'
    if err.validator == 'format' and err.schema.get('format') == 'regex':
        try:
            re.compile(err.instance)
        except re.error as rerr:
            return f'{_location(where)}: {err.instance!r} is not a regular expression ({rerr})'
    return f'{_location(where)}: {err.message}'


def validate(data, where, base=None):
    '''Raise UsageError naming ``where`` (the file) when ``data`` is not a campaign;
    ``base``: the file's folder, which relative ``app.inputs`` are in.'''
    fault = _schema_error(data)
    if fault is None:
        known = paths.known_checks()
        for i, check in enumerate(data['checks']):
            if check not in known:
                fault = f"checks[{i}]: unknown check '{check}' (known: {', '.join(known)})"
                break
    if fault is None:
        for key in data.get('tags') or {}:
            if reserved_tag(key):
                fault = f"tags.{key}: the name '{key}' is reserved (ReFrame's session_info keys and hpcval_*)"
                break
    if fault is None and 'system' in data:
        systems = paths.known_systems()
        if data['system'] not in systems:
            fault = f"system: unknown system '{data['system']}' (known: {', '.join(systems)})"
    if fault is None:
        for i, pattern in enumerate(((data.get('report') or {}).get('compare') or {}).get('pvars', [])):
            try:
                re.compile(pattern)
            except re.error as err:
                fault = f'report.compare.pvars[{i}]: {pattern!r} is not a regular expression ({err})'
                break
    if fault is None:
        fault = _app_fault(data, base)
    if fault is not None:
        raise UsageError(f'{where}: {fault}')


def _placeholder_fault(command):
    '''The first thing wrong with the ``{placeholders}`` of ``command``, or None.'''
    import string
    try:
        fields = [(name, conv, spec) for _, name, spec, conv in string.Formatter().parse(command)
                  if name is not None]
    except ValueError as err:
        return f'{command!r}: {err} (write a literal brace as {{{{ or }}}})'
    for name, conv, spec in fields:
        if name not in APP_PLACEHOLDERS:
            return (f'{command!r}: unknown placeholder {{{name}}} (known: '
                    + ', '.join('{' + k + '}' for k in APP_PLACEHOLDERS) + ')')
        if conv or spec:
            return f'{command!r}: write {{{name}}} alone, without a conversion or format'
    return None


def app_inputs(app, base):
    '''The paths of ``app.inputs``: relative ones are of the campaign file's folder ``base``.'''
    return [Path(p) if Path(p).is_absolute() else Path(base or '.') / p for p in (app.get('inputs') or [])]


def resolved_app(app, path):
    '''The ``app:`` section as checks/app.py reads it: inputs absolute, ``mode`` and
    ``ranks_per_node`` lists (its parameters),
    ``image`` given (``bare`` when absent), the campaign file named.'''
    app = dict(app)
    app['inputs'] = [str(p.resolve()) for p in app_inputs(app, Path(path).parent)]
    for key, default in (('mode', 'strong'), ('ranks_per_node', 1)):
        app[key] = app[key] if isinstance(app.get(key), list) else [app.get(key, default)]
    app.setdefault('image', 'bare')
    app['campaign'] = str(Path(path).resolve())
    return app


def _flat_params(params):
    for key, values in (params or {}).items():
        for v in (values if isinstance(values, list) else [values]):
            yield str(key).split('.')[-1], str(v)


def _app_fault(data, base):
    '''What is wrong with the campaign's ``app:`` section (or its absence), beyond the schema.'''
    app, checks = data.get('app'), data['checks']
    if app is None:
        return ('checks: the app check runs the application of an app: section; this campaign has none'
                if 'app' in checks else None)
    if 'app' not in checks:
        return "app: the campaign's checks do not include app, the check that runs it (checks: [app, ...])"
    fault = _placeholder_fault(app['command'])
    if fault:
        return f'app.command: {fault}'
    if '{steps}' in app['command'] and 'steps' not in app:
        return 'app.command: {steps} needs app.steps (the work units one run does)'
    figures = [] if app['fom'] == WALL_TIME else [('app.fom', app['fom'])]
    figures += [(f'app.figures[{i}]', f) for i, f in enumerate(app.get('figures') or [])]
    names = {WALL_TIME} if app['fom'] == WALL_TIME else set()
    for place, fig in figures:
        groups = re.compile(fig['regex']).groups
        if groups != 1:
            return (f"{place}.regex: {fig['regex']!r} has {groups} groups; the figure is read from exactly one "
                    f"(write the others as (?:...))")
        if fig['name'] in names or fig['name'] == 'job_seconds':
            return f"{place}.name: {fig['name']!r} is taken (figure names are unique; job_seconds is always recorded)"
        names.add(fig['name'])
    image = app.get('image', 'bare')
    if image != 'bare':
        from hpcval.containers import store
        try:
            store.parse_ref(image)
        except store.ImageError as err:
            return f'app.image: {err}'
    asked = [v for k, v in _flat_params(data.get('params')) if k == 'runtime' and v != 'bare']
    if image == 'bare' and asked:
        return (f"app.image: params.runtime asks for {', '.join(asked)}, but the app names no image "
                f"(app.image: NAME[:TAG], built or imported)")
    seen = set()
    for i, path in enumerate(app_inputs(app, base)):
        raw = app['inputs'][i]
        if not path.exists():
            return f'app.inputs[{i}]: {raw!r}: no such file or folder ({path})'
        if path.name in seen:
            return f'app.inputs[{i}]: {raw!r}: a second input named {path.name!r} (both would land in the stage folder)'
        seen.add(path.name)
    return None


class _AliasFound(Exception):
    def __init__(self, anchor, line):
        super().__init__(anchor)
        self.anchor, self.line = anchor, line


def _safe_load(text):
    '''``yaml.safe_load`` that stops at the first alias, before anything is built:
    a value repeated through aliases is repeated again in every error message
    about it (2 GB and a minute for a 472-byte file).'''
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise _AliasFound(event.anchor, event.start_mark.line + 1)
            return super().compose_node(parent, index)

    loader = NoAliases(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_file(path, name=None):
    '''The campaign in a YAML file; UsageError (one line) when it is not one.'''
    import yaml
    path = Path(path)
    where = _where(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise UsageError(f'{where}: cannot read ({err.strerror or err})') from None
    try:
        data = _safe_load(text)
    except _AliasFound as alias:
        raise UsageError(f'{where}: line {alias.line}: YAML aliases (*name) are not allowed in a campaign '
                         f'(*{alias.anchor}: write the value out)') from None
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        line = f'line {mark.line + 1}: ' if mark is not None else ''
        what = getattr(err, 'problem', None) or str(err).splitlines()[0]
        raise UsageError(f'{where}: {line}not valid YAML ({what})') from None
    if data is None:
        raise UsageError(f'{where}: empty: a campaign names at least its checks')
    validate(data, where, path.parent)
    data = dict(data)
    setvars = {str(k): v for k, v in (data.pop('set', None) or {}).items()}
    if data.get('app'):
        data['app'] = resolved_app(data['app'], path)
    return Campaign(name=name or path.stem, setvars=setvars, path=path, **data)


def find(name):
    '''campaigns/NAME.yaml, or NAME itself when it is the path of a YAML file.'''
    if name.endswith(('.yaml', '.yml')) or '/' in name:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f'{name}: no such campaign file')
        return path
    path = paths.CAMPAIGNS / f'{name}.yaml'
    if not path.is_file() or name not in paths.known_campaigns():
        raise UsageError(f"unknown campaign '{name}' (known: {', '.join(paths.known_campaigns()) or 'none'})")
    return path


def load(name):
    '''The campaign ``name`` (campaigns/NAME.yaml) or the campaign file ``name``.'''
    path = find(name)
    return load_file(path, path.stem)


def _recorded_name(row):
    for key in ('hpcval_campaign_def', 'hpcval_campaign'):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _campaign_names(session_frames):
    '''The shipped campaigns the sessions were run from, in order of first use; []
    when a frame is empty or a session names none, or a name that is not under campaigns/.'''
    names = []
    for frame in session_frames:
        if frame is None or len(frame) == 0:
            return []
        names += [_recorded_name(row) for row in frame.to_dict('records')]
    names = list(dict.fromkeys(names))
    return names if names and all(n in paths.known_campaigns() for n in names) else []


def report_options(session_frames):
    '''The report options of the shipped campaigns the sessions were run from, and their
    names.  One campaign: its ``report`` as it is.  Several (``make demo`` reports two):
    every caveat once, in order, the roles merged, and a title, mode or floor only
    where they all give the same one.'''
    names = _campaign_names(session_frames)
    if not names:
        return {}, []
    camps = [load(n) for n in names]
    if len(camps) == 1:
        return dict(camps[0].report), names
    merged = {'caveats': list(dict.fromkeys(c for camp in camps for c in camp.report.get('caveats', ()))),
              'roles': {k: v for camp in camps for k, v in camp.report.get('roles', {}).items()}}
    for key in ('title', 'mode', 'floor'):
        values = {repr(camp.report.get(key)) for camp in camps}
        if len(values) == 1 and camps[0].report.get(key) is not None:
            merged[key] = camps[0].report[key]
    return merged, names


def of_sessions(*session_frames):
    '''The shipped campaign every session in the frames (analysis Dataset
    ``sessions``) was run from, or None: ``hpcval_campaign_def`` (recorded by
    ``hpcval run --campaign``), else ``hpcval_campaign`` (the run's label).
    None when they differ, or the name is not a campaign under campaigns/.'''
    names = _campaign_names(session_frames)
    return load(names[0]) if len(names) == 1 else None
