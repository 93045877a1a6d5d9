"""A campaign and the command line's overrides -> one run plan.

What `hpcval run` does before ReFrame starts: the command line wins over the
campaign, the campaign over the defaults; with no check named on a system
that declares a sweep, every workload over the partition's node counts and
sweep; session extras from the campaign's tags, the images' digests, then
the user's tags; faults from both.
"""
from dataclasses import dataclass, field

from hpcval import campaign as campaigns
from hpcval import run


@dataclass
class Plan:
    checks: list
    system: str
    name: str
    nodes: list
    repeat: int
    setvars: dict
    extra: list                          # options for ReFrame, in the order given
    tags: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    swept: list = field(default_factory=list)   # parameters the system's sweep added, when no check was named
    whole_system: bool = False
    app: dict = None                     # the campaign's app: section (checks/app.py), run.execute(app=...)


def make(campaign=None, checks=(), system=None, nodes=None, repeat=None, setvars=(), name=None, tags=(),
         faults=(), reframe_args=()):
    '''The run plan.  ``campaign``: a name under campaigns/ or None; ``tags``
    and ``faults``: the user's KEY=VALUE and fault specs, checked here
    (a bad one is a UsageError before anything runs).'''
    from hpcval.cluster import faults as faults_mod
    camp = campaigns.load(campaign) if campaign else campaigns.Campaign(name=name or 'adhoc')
    plan = Plan(checks=list(checks) or list(camp.checks), system=system or camp.system,
                name=name or camp.name, nodes=list(nodes or camp.nodes), repeat=repeat or camp.repeat,
                setvars={**camp.setvars, **dict(setvars)},
                extra=camp.reframe_options + camp.param_options() + list(reframe_args))
    if not plan.checks and not campaign and system:
        # no check named: every workload, over what the system declares as its sweep
        given = len(plan.extra)
        plan.checks, plan.extra = run.whole_system(plan.system, plan.extra)
        plan.nodes = list(nodes or run.system_nodes(plan.system))      # 1 .. the partition's max_nodes
        plan.swept = plan.extra[:len(plan.extra) - given][1::2]
        plan.whole_system = True
    user_tags = dict(run.parse_tag(t) for t in tags)
    plan.tags = {'hpcval_campaign_def': camp.name} if campaign else {}
    plan.tags.update(camp.tags)
    plan.app = camp.app if 'app' in plan.checks else None
    if run.uses_containers(plan.checks, camp.params, plan.extra):
        plan.tags.update(run.image_tags(plan.checks, app=plan.app))
    plan.tags.update(user_tags)
    plan.faults = [faults_mod.parse(f) for f in list(camp.faults or []) + list(faults)]
    return plan
