"""What ReFrame fixes and hpcval relies on, each in one place.

Session extras (``--session-extras K=V,K=V``, hpcval's tags), the keys of
the run report's ``session_info`` that ReFrame keeps for itself, and the
``%name=value`` parameters of a display name.
"""
import re

#: a session-extras key ReFrame can carry
TAG_KEY = r'^[A-Za-z_][A-Za-z0-9_]*$'
#: a session-extras value: ReFrame splits on ',' then on the first '='
TAG_VALUE = r'^[^,=\n]*$'
#: session_info keys ReFrame 4.10 keeps for itself (reframe/schemas/runreport.json,
#: tested against ReFrame's own list): a session extra by one of these names makes
#: ReFrame fail at the end of the run; the other keys of session_info are the tags
RESERVED_EXTRAS = frozenset({
    'cmdline', 'config_files', 'data_version', 'hostname', 'log_files', 'num_aborted', 'num_cases',
    'num_failures', 'num_skipped', 'prefix_output', 'prefix_stage', 'session_uuid', 'time_elapsed',
    'time_end', 'time_end_unix', 'time_start', 'time_start_unix', 'user', 'uuid', 'version', 'workdir'})

#: a parameter in a display name; fixture parameters are dotted: %bin.elem_type=float
PARAM = re.compile(r'%[.$]?([\w.]+)=(\S+)')
#: the repeat and node-count parameters, with the blank before them
REPEAT_TOKEN = re.compile(r'\s*%[.$]?repeat_no=\S+')
NODES_TOKEN = re.compile(r'\s*%num_nodes=\S+')


def reserved_tag(key):
    '''Whether a tag name is ReFrame's own session_info key or hpcval's (hpcval_*).'''
    return key in RESERVED_EXTRAS or key.startswith('hpcval_')

#: what a check is, declared by its loggable variable ``role``; the analysis
#: and the report follow it (docs/data-model.md, "Roles")
ROLES = ('application', 'kernel', 'network', 'io', 'environment')
#: a check of none of them: per-case tables only
NO_ROLE = 'cases'
