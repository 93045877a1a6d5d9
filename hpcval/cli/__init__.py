"""hpcval command line: run, report, compare, proposal, validate-image, image, cluster, history.

Exit codes: 0 ok; 1 the validation found a problem (failed checks, a regression);
2 usage or input error (one line naming the file and the fault, nothing written);
3 a bug in hpcval (one line; the traceback with --debug).
"""
# One module per subcommand, each with add_parser(sub): it parses, calls the
# layers below, prints, and returns the exit code; main() maps errors to codes.
import argparse
import signal
import sys
import threading
import traceback
from pathlib import Path

from hpcval import __version__
from hpcval.cli.common import show
from hpcval.errors import HpcvalError

SUBCOMMANDS = ('run', 'report', 'compare', 'proposal', 'validate-image', 'image', 'cluster', 'history')


def parser():
    import importlib
    p = argparse.ArgumentParser(prog='hpcval', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action='version', version=f'hpcval {__version__}')
    p.add_argument('--debug', action='store_true',
                   help='on an internal error (exit 3) print the traceback (may stand anywhere before --)')
    sub = p.add_subparsers(dest='command', required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"hpcval.cli.{name.replace('-', '_')}").add_parser(sub)
    return p


class Terminated(KeyboardInterrupt):
    '''SIGTERM, raised in the main thread so that what is half written is removed, as on Ctrl-C.'''


def on_sigterm(signum, _frame):
    '''The SIGTERM handler of the command line (and of anything that writes as it does).'''
    raise Terminated(signum)


def main(argv=None):
    from hpcval.redact import redact_text     # an error may quote a command line or a value
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if '--' in argv:
        i = argv.index('--')
        argv, passthrough = argv[:i], argv[i + 1:]
    debug = '--debug' in argv                  # anywhere before --, not only before the subcommand
    argv = [a for a in argv if a != '--debug']
    args = parser().parse_args(argv)
    args.reframe_args = passthrough
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return args.func(args)
    except HpcvalError as err:
        print(show(f'hpcval {args.command}: error: {redact_text(str(err))}'), file=sys.stderr)
        return 2
    except Terminated:
        print(f'hpcval {args.command}: terminated', file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f'hpcval {args.command}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:                   # noqa: BLE001 - the last line of defence, by design
        if debug:
            traceback.print_exc()
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(show(f'hpcval {args.command}: internal error (a bug in hpcval, please report it): '
                   f'{type(err).__name__}: {redact_text(str(err))} [{Path(where.filename).name}:{where.lineno}]'
                   + ('' if debug else '; rerun with --debug for the traceback')), file=sys.stderr)
        return 3


if __name__ == '__main__':
    sys.exit(main())
