"""Campaign definitions: campaigns/NAME.toml says what to run and how often."""
import tomllib
from dataclasses import dataclass, field

from hpcval import paths
from hpcval.errors import UsageError


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

    def param_options(self):
        '''``-P NAME=V1,V2`` for each variant parameter.'''
        opts = []
        for key, values in self.params.items():
            values = values if isinstance(values, list) else [values]
            opts += ['-P', f'{key}=' + ','.join(str(v) for v in values)]
        return opts


def load(name):
    path = paths.CAMPAIGNS / f'{name}.toml'
    if not path.is_file():
        raise UsageError(f"unknown campaign '{name}' (known: {', '.join(paths.known_campaigns()) or 'none'})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f'{path}: not valid TOML ({err})')
    known = set(Campaign.__dataclass_fields__) - {'name', 'setvars'} | {'set'}
    unknown = set(data) - known
    if unknown:
        raise UsageError(f'{path}: unknown key(s) {", ".join(sorted(unknown))}')
    setvars = {str(k): v for k, v in data.pop('set', {}).items()}
    return Campaign(name=name, setvars=setvars, **data)
