"""The Dockerfile recipes under containers/<name>/Dockerfile.

Each recipe is parsed with Docker's own parser (the ``dockerfile`` package
wraps BuildKit's), so a recipe that parses here is valid for ``docker build``
and ``podman build`` too.  Two things ride along in the Dockerfile itself:

* ``ARG BASE=hpcval/<name>`` before ``FROM $BASE`` names the recipe it builds
  on (Docker/Podman users override it with ``--build-arg``);
* ``# hpcval-test: <command>`` is the smoke test run inside the built image.
"""
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

from hpcval.containers.errors import ImageError
from hpcval.containers.store import DEFAULT_TAG
from hpcval.paths import ROOT

RECIPES = ROOT / 'containers'      # the Dockerfiles stay where users and ch-image find them
#: Build context: the sources the checks build, so an image compiles exactly
#: what the bare runs compile.
CONTEXT = RECIPES.parent / 'checks' / 'src'
TAG_PREFIX = 'hpcval/'
BOOTSTRAP = 'bootstrap'     # the debootstrap tree, imported; not a recipe

#: Instructions Docker's frontend accepts (dockerfile v1).
DOCKER_INSTRUCTIONS = {
    'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK',
    'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
}
#: What Charliecloud 0.31's ch-image runs; the rest it ignores with a warning,
#: so a recipe that needs them would build differently there.
CH_IMAGE_INSTRUCTIONS = {'ARG', 'COPY', 'ENV', 'FROM', 'RUN', 'WORKDIR', 'LABEL', 'SHELL',
                         'CMD', 'ENTRYPOINT', 'USER', 'EXPOSE', 'MAINTAINER', 'VOLUME'}
_TEST = re.compile(r'^#\s*hpcval-test:\s*(.+?)\s*$', re.M)


@dataclass
class Recipe:
    name: str
    path: Path
    base: str                       # recipe name, or BOOTSTRAP
    test: str                       # smoke-test command run in the image
    copies: list = field(default_factory=list)   # context files COPY reads
    env: dict = field(default_factory=dict)

    @property
    def tag(self):
        return TAG_PREFIX + self.name

    def image_tag(self, tag=None):
        '''ch-image's name for the build of this recipe under ``tag``.'''
        return self.tag if tag in (None, DEFAULT_TAG) else f'{self.tag}:{tag}'

    def key(self, base_key=''):
        '''Build identity: the Dockerfile, the context files it copies and the
        base's key.  Same key, same recipe: a cached rebuild may reuse the image.'''
        h = hashlib.sha256(self.path.read_bytes())
        for rel in sorted(self.copies):
            h.update(rel.encode() + b'\0' + (CONTEXT / rel).read_bytes())
        h.update(base_key.encode())
        return h.hexdigest()


def names(root=RECIPES):
    return sorted(p.parent.name for p in Path(root).glob('*/Dockerfile'))


def locate(spec):
    '''A recipe named on the command line: a name under containers/, or a path
    to a folder holding a Dockerfile (or the Dockerfile itself), which is then
    named by its folder -> (name, root).'''
    spec = str(spec)
    if '/' not in spec and spec not in ('.', '..'):
        return spec, RECIPES
    path = Path(spec)
    folder = path.parent if path.name == 'Dockerfile' or path.is_file() else path
    if not (folder / 'Dockerfile').is_file():
        raise ImageError(f'{spec}: no Dockerfile there')
    return folder.resolve().name, folder.resolve().parent


def load(name, root=RECIPES):
    '''Parse and check one recipe; ImageError names the file, line and fault.'''
    path = Path(root) / name / 'Dockerfile'
    if not path.is_file():
        raise ImageError(f'no recipe {name!r}: {path} does not exist '
                         f'(recipes: {", ".join(names(root)) or "none"})')
    text = path.read_text()
    try:
        cmds = dockerfile.parse_string(text)
    except dockerfile.GoParseError as err:
        raise ImageError(f'{path}: not a valid Dockerfile: {err}') from None
    where = lambda c: f'{path}:{c.start_line}'                      # noqa: E731
    args, base, env, copies = {}, None, {}, []
    for c in cmds:
        if c.cmd not in DOCKER_INSTRUCTIONS:
            raise ImageError(f'{where(c)}: unknown instruction {c.cmd!r}')
        if c.cmd not in CH_IMAGE_INSTRUCTIONS:
            raise ImageError(f'{where(c)}: {c.cmd} is not run by ch-image 0.31; the image would '
                             f'differ between Docker and Charliecloud')
        if base is None and c.cmd not in ('ARG', 'FROM'):
            raise ImageError(f'{where(c)}: {c.cmd} before FROM')
        if c.cmd == 'ARG' and base is None:
            k, _, v = c.value[0].partition('=')
            args[k] = v
        elif c.cmd == 'FROM':
            if base is not None:
                raise ImageError(f'{where(c)}: multi-stage builds are not supported by the pipeline')
            base = _resolve_base(c.value[0], args, where(c))
        elif c.cmd == 'ENV':
            env.update(zip(c.value[::2], c.value[1::2]))
        elif c.cmd in ('COPY', 'ADD'):
            if any(f.startswith('--from') for f in c.flags):
                raise ImageError(f'{where(c)}: COPY --from needs a multi-stage build')
            for src in c.value[:-1]:
                if not (CONTEXT / src).is_file():
                    raise ImageError(f'{where(c)}: {c.cmd} source {src!r} not found in the '
                                     f'build context {CONTEXT}')
                copies.append(src)
    if base is None:
        raise ImageError(f'{path}: no FROM instruction')
    m = _TEST.search(text)
    if not m:
        raise ImageError(f'{path}: no "# hpcval-test: COMMAND" line (every image has a smoke test)')
    return Recipe(name, path, base, m.group(1), copies, env)


def _resolve_base(ref, args, where):
    # ch-image 0.31 expands "$BASE" but not "${BASE}" in FROM: accept only the
    # form both builders read.
    if '${' in ref:
        raise ImageError(f'{where}: write FROM $VAR, not FROM ${{VAR}} (ch-image 0.31 cannot parse it)')
    if ref.startswith('$'):
        ref = args.get(ref[1:], '')
        if not ref:
            raise ImageError(f'{where}: FROM {ref or "$VAR"} has no default ARG value')
    if not ref.startswith(TAG_PREFIX):
        # debian:bookworm and the like: the offline pipeline has no registry
        # and builds on the debootstrap tree instead.
        return BOOTSTRAP
    return ref[len(TAG_PREFIX):]


def chain(name, root=RECIPES):
    '''Recipes to build for ``name``, bases first (each once).  A recipe from
    outside containers/ (``root``) stands on the project's recipes.'''
    order, seen = [], set()
    cur = name
    while cur != BOOTSTRAP:
        if cur in seen:
            raise ImageError(f'recipe {name!r}: base cycle through {cur!r}')
        seen.add(cur)
        order.append(load(cur, root if not order else RECIPES))
        cur = order[-1].base
    return order[::-1]
