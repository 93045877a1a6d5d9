"""Secrets never reach an output: one redaction used by every path that reads a run.

Run reports, perflogs and session extras carry whatever the environment and
the command line held: tokens, passwords, URLs with credentials.  Everything
read from them passes through here before it enters the tidy frame, the
sessions frame, the history store or the terminal (ingest, perflog, history,
``hpcval history``, the command line's error lines).

Redacted by NAME -- the whole value of a key (environment variable, loggable
variable, session extra, dict key, ``KEY=VALUE`` or ``--option``) whose name
looks secret.  A name is cut into word parts (at ``_ - . /``, spaces, and
camelCase: ``GH_PAT`` -> gh, pat; ``apiToken`` -> api, token) and is secret
when a part

* contains ``token`` (not ``...tokens`` nor ``tokeniz...``: token counts and
  tokenizers are measurements), ``secret``, ``password``/``passwd``,
  ``passphrase``, ``credential``, ``cookie``;
* ends in ``pass`` (``SSHPASS``, ``dbpass``; not bypass, compass) or ``pwd``
  (``MYSQL_PWD``; the names ``PWD``/``OLDPWD`` alone are the working directory);
* is ``pat`` (a personal access token), ``jwt``, ``cred``/``creds``,
  ``sessionid``, or ``auth`` / ``oauth`` / ``authorization`` / ``...auth``
  (not ``author``, ``authority``);
* is ``key``/``keys`` as the last part or after its kind (``API_KEY``,
  ``api_key_v2``), or a compound of one (``apikey``, ``privatekey``,
  ``accesskey``, ``sshkey``, ...); ``key_size``, ``keep_files``, ``keyfile``,
  ``monkey`` are no keys.

Redacted by VALUE -- credential-shaped text in any string, whatever its key:

* URL userinfo: ``scheme://user:pass@host`` -> ``scheme://<redacted>@host``;
* ``KEY=VALUE`` / ``KEY: VALUE`` / ``"KEY": "VALUE"`` pairs inside a value
  whose KEY looks secret (``-S X.password=...``, ``--comment=token=...``,
  ``DSN=...;Password=...``);
* options: ``--password=X``, ``--token X``, ``--api-key X`` (any secret-looking
  option name, ``=`` or a space; in a list, the next item);
* HTTP auth: ``Bearer X``, ``Basic X``;
* PEM private key blocks ``-----BEGIN ... PRIVATE KEY-----`` .. ``END``;
* GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``),
  GitLab (``glpat-``), Slack (``xox?-``) tokens and AWS access key ids
  (``AKIA``/``ASIA`` + 16).

``redact`` takes dicts, lists, tuples, strings, numbers and nested structures
and returns the same shape; numbers, booleans and None pass unchanged unless
their key is secret.  The replacement is the literal ``<redacted>``: visible
(a reader sees that something was there and was hidden on purpose, unlike an
empty cell), the same for every secret (so nothing about the secret, not even
its length, survives), and not a value any run would produce, so tests and
readers can grep for it.  Redacting twice gives the same text.

Only ``re`` (and functools, which re imports) is imported: ``hpcval history show``
imports this and has a time budget.
"""
import re
from functools import lru_cache

REDACTED = '<redacted>'

# One word part of a name (lowercase), see the module docstring
_KEY_KINDS = ('api', 'private', 'priv', 'access', 'secret', 'ssh', 'gpg', 'pgp', 'signing', 'sign', 'master',
              'encryption', 'enc', 'client', 'app', 'license', 'session', 'service', 'deploy', 'account',
              'storage', 'sas', 'hmac', 'aes', 'rsa', 'dsa', 'ecdsa', 'ed25519', 'auth')
_SECRET_PART = re.compile(r'''
    (?!(?:[a-z0-9]*tokens|tokeniz[a-z0-9]*|bypass|compass|multipass|onepass|twopass|author(?!i[sz])[a-z0-9]*)$)
    (?:
        [a-z0-9]*(?:token|secret|passw(?:or)?d|passphrase|credential|cookie)[a-z0-9]*
      | [a-z0-9]*(?:pass|pwd)
      | pat | jwt | creds? | sessionid
      | o?auth(?:n|z|orization|entication)? | [a-z0-9]+auth
      | (?:%s)keys?
    )$''' % '|'.join(_KEY_KINDS), re.X)
_PARTS = re.compile(r'[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+')
_NOT_SECRET = frozenset({'PWD', 'OLDPWD'})      # the shell's working directories (a DSN's Pwd= is not)


@lru_cache(maxsize=4096)
def secret_name(name):
    '''Whether a key / variable / option name looks like it holds a secret.'''
    name = str(name).lstrip('-')
    if name in _NOT_SECRET:
        return False
    parts = [p.lower() for p in _PARTS.findall(name)]
    for i, p in enumerate(parts):
        if _SECRET_PART.match(p):
            return True
        # a bare 'key' is a secret at the end (API_KEY, KEY) or after its kind (api_key_v2);
        # key_size, key_len are not
        if p in ('key', 'keys') and (i == len(parts) - 1 or i and parts[i - 1] in _KEY_KINDS):
            return True
    return False


class _SecretNames:
    '''``SECRET.search(name)``: the name test of the regex that ingest and history once had.'''
    @staticmethod
    def search(name):
        return secret_name(name) or None


SECRET = _SecretNames()

# ----------------------------------------------------------------------------- values

_PEM = re.compile(r'-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END (?P=kind)-----|\Z)', re.S)
# userinfo: everything before the last '@' of the authority; a scheme is short (linear time on 'a.a.a...')
_URL = re.compile(r'(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{0,31}://)(?P<userinfo>[^\s/?#@<>"\']*(?:@[^\s/?#@<>"\']*)*)@')
_TOKENS = re.compile(r'\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{20,}|glpat-[\w\-]{16,}'
                     r'|xox[abposr]-[A-Za-z0-9\-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16}\b)')
_AUTH = re.compile(r'\b(?P<scheme>[Bb]earer|BEARER|[Bb]asic|BASIC)\s+(?P<cred>[A-Za-z0-9._~+/\-]{6,}=*)')
# a key (optionally an option's dashes, or the '.' of ReFrame's %.name=) and its separator; the value
# is read after it.  A key starts at a word's start only: linear time on a hostile 'a.a.a.a...'
_KEY = re.compile(r'(?<![\w.\-])(?:(?P<dash>--?)|\.)?(?P<key>[A-Za-z_][\w.\-]*)(?:\\?["\'])?'
                  r'(?:[ \t]*[=:][ \t]*|(?(dash)[ \t]+|(?!)))')
# a JSON object or list after the key is left to the keys inside it; \"..\" is JSON inside JSON
_VALUE = re.compile(r'(?![\[{])(?:(?:[Bb]earer|BEARER|[Bb]asic|BASIC)\s+)?'
                    r'(?:"[^"]*"|\'[^\']*\'|\\"(?:[^"\\]|\\[^"])*\\"|[^\s,;&\'"]+)')
_BASE64ISH = re.compile(r'[0-9+/=]|[a-z][A-Z]')
# cheap test first: most text of a run (names, times, paths, numbers) holds none of these
# words, and every secret-looking name or credential shape holds one (lowercase)
MAYBE_WORDS = ('token', 'secret', 'pass', 'pwd', 'pat', 'jwt', 'cred', 'auth', 'key', 'cookie', 'sessionid',
               '://', 'bearer', 'basic', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'akia', 'asia', 'glpat-', 'xox')
_MAYBE = re.compile('|'.join(re.escape(w) for w in MAYBE_WORDS))     # on lowercase text: re.I is slower
#: the same test as a regular expression (RE2 and Python syntax), for vectorised filters
MAYBE = '(?i)' + _MAYBE.pattern


def maybe_secret(text):
    '''False when ``text`` certainly holds nothing that redact_text would change.'''
    return _MAYBE.search(text.lower()) is not None


def _basic_ok(m):
    '''``Basic`` + a plain word is prose ("Basic latency"), not credentials: base64 has a digit,
    + / =, or a capital inside the word (``dXNlcjpwYXNz``).'''
    if m.group('scheme').lower() == 'basic' and not _BASE64ISH.search(m.group('cred')):
        return m.group(0)
    return f'{m.group("scheme")} {REDACTED}'


def _pairs(text):
    '''Values of secret-looking KEY=VALUE, KEY: VALUE and --key VALUE inside text.'''
    out, pos, done = [], 0, 0
    while True:
        m = _KEY.search(text, pos)
        if m is None:
            break
        pos = m.end()
        if not secret_name(m.group('key')):
            continue
        v = _VALUE.match(text, pos)
        if v is None or text.startswith(REDACTED, pos):
            continue
        quote = '\\"' if v.group(0).startswith('\\"') else v.group(0)[0] if v.group(0)[0] in '"\'' else ''
        out.append(text[done:pos] + quote + REDACTED + quote)
        pos = done = v.end()
    return ''.join(out) + text[done:] if out else text


def redact_text(text):
    '''One string with every credential-shaped part replaced by <redacted>.'''
    if not isinstance(text, str) or not maybe_secret(text):
        return text
    text = _PEM.sub(lambda m: f'-----BEGIN {m.group("kind")}-----{REDACTED}-----END {m.group("kind")}-----', text)
    text = _URL.sub(lambda m: f'{m.group("scheme")}{REDACTED}@', text)
    text = _TOKENS.sub(REDACTED, text)
    text = _AUTH.sub(_basic_ok, text)
    return _pairs(text)


_OPTION = re.compile(r'--?[A-Za-z][\w.\-]*$')


def redact(value, name=None):
    '''``value`` (dict, list, tuple, str, number, nested) with secrets replaced by <redacted>.

    ``name``: the key the value was found under; a secret-looking name hides
    the whole value (None and '' stay: nothing is there to hide).
    '''
    if name is not None and value is not None and value != '' and secret_name(name):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(k) if isinstance(k, str) else k: redact(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out, hide = [], False
        for v in value:
            # argv style ['--password', 'X']: the option's value is the next item
            out.append(REDACTED if hide and v is not None else redact(v))
            hide = isinstance(v, str) and _OPTION.match(v) is not None and secret_name(v)
        return type(value)(out) if isinstance(value, list) else tuple(out)
    return value


def redact_env(env):
    '''Environment variables (a dict, a list of K=V, or a K=V string) as ``K=V K=V`` text, secrets hidden.'''
    if isinstance(env, dict):
        return ' '.join(f'{k}={redact(v, str(k))}' for k, v in sorted(env.items(), key=lambda kv: str(kv[0])))
    if isinstance(env, (list, tuple)):
        return ' '.join(str(v) for v in redact(env) if v is not None)
    if env is None or env == '' or isinstance(env, float) and env != env:
        return ''
    return redact_text(str(env))


def redact_columns(cf, text=redact_text):
    '''Secrets out of every column of a case frame: a secret-looking column name hides its values,
    credential-shaped text is redacted (by ``text``) in the others.  Once per distinct value, not per row.'''
    import numpy as np      # here, not at the top: the command line imports this module for one line
    import pandas as pd
    for col in list(cf.columns):
        s = cf[col]
        if secret_name(col):
            hide = s.notna() & (s.astype(object) != '')
            if hide.any():
                cf[col] = s.astype(object).where(~hide, REDACTED)
            continue
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue                    # numbers, booleans: nothing credential-shaped
        try:
            codes, uniques = pd.factorize(s)
        except TypeError:               # unhashable leftovers: row by row
            cf[col] = s.map(redact)
            continue
        if len(uniques) > 256:          # times, job ids, names: one vectorised test picks the few to look at
            strs = pd.Series(uniques)
            if strs.dtype == object:
                strs = strs.map(lambda u: u if isinstance(u, str) else '').astype('str')
            look = np.flatnonzero(strs.str.contains(MAYBE, regex=True).to_numpy(dtype=bool))
        else:
            look = range(len(uniques))
        uniques = np.asarray(uniques, dtype=object)
        new, changed = uniques.copy(), False
        for i in look:
            if isinstance(uniques[i], str):
                new[i] = text(uniques[i])
                changed = changed or new[i] != uniques[i]
        if changed:
            cf[col] = pd.Series(np.append(new, None)[codes], index=s.index)   # code -1: missing
    return cf
