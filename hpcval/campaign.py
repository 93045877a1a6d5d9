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
    reframe_options: list = field(default_factory=list)


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
