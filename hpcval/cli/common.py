"""What the subcommands share: argument types, printing data, reading inputs."""
import argparse
import re


def show(text):
    '''Text that holds data (names, hosts, tags, paths) as printed: control
    characters as visible escapes (analysis.textfmt.printable), imported only when printing.'''
    from hpcval.analysis.textfmt import printable
    return printable(text)


def node_counts(text):
    try:
        nodes = [int(n) for n in text.split(',') if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a list of node counts: {text!r}') from None
    if not nodes or min(nodes) < 1:
        raise argparse.ArgumentTypeError(f'node counts must be >= 1: {text!r}')
    return nodes


def fraction(text):
    '''argparse type: a number strictly between 0 and 1.'''
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'must lie between 0 and 1: {text!r}')
    return value


def count(text):
    '''argparse type: an integer >= 0.'''
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not an integer: {text!r}') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0: {text!r}')
    return value


def regex(text):
    try:
        re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f'not a regular expression: {text!r} ({err})') from None
    return text


def better(text):
    '''argparse type: CHECK[:PVAR]=higher|lower -> (spec, direction).'''
    spec, sep, direction = text.rpartition('=')
    if not sep or not spec or direction not in ('higher', 'lower'):
        raise argparse.ArgumentTypeError(f'expected CHECK[:PVAR]=higher|lower, got {text!r}')
    return spec, direction


def role(text):
    '''argparse type: CHECK=ROLE -> (check, role).'''
    from hpcval.analysis import roles
    try:
        return next(iter(roles.parse([text]).items()))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def load(inputs, better=None):
    '''Files, folders and ``stored:QUERY`` sessions (analysis.stored) -> Dataset.'''
    from hpcval import stored
    from hpcval.analysis import ingest
    paths, documents = stored.split(inputs)
    return ingest.load(paths, better=better or {}, documents=documents)


def files(inputs):
    '''The inputs that are paths (not ``stored:`` queries): what an output folder may not hold.'''
    from hpcval import stored
    return [i for i in inputs if not stored.is_stored(i)]


def campaign_of(command, *datasets):
    '''The campaign (campaigns/NAME.yaml) all the datasets' sessions were run
    from, recorded in their session extras; None when there is none or several.'''
    from hpcval import campaign
    camp = campaign.of_sessions(*(d.sessions for d in datasets))
    if camp is not None and camp.report:
        print(show(f"hpcval {command}: report options not given "
                   f"on the command line come from campaign '{camp.name}' ({camp.path.name})"))
    return camp


def report_options_of(command, dataset):
    '''The report options of the campaign(s) the dataset's sessions were run from (merged
    when several: hpcval.campaign.report_options), said in one line; {} when none.'''
    from hpcval import campaign
    opts, names = campaign.report_options([dataset.sessions])
    if opts:
        which = ', '.join(f"'{n}'" for n in names)
        print(show(f"hpcval {command}: report options not given on the command line come from "
                   f"campaign{'s' if len(names) > 1 else ''} {which}"))
    return opts


def pd_options():
    import pandas as pd
    return pd.option_context('display.width', 200, 'display.max_colwidth', 60, 'display.max_rows', 500)
