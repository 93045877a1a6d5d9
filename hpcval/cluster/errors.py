"""The virtual cluster's faults that are the caller's to fix (exit code 2 on the command line)."""
from hpcval.errors import HpcvalError


class ClusterError(HpcvalError):
    '''The cluster cannot do what was asked: not up, no such node, a bad spec, a tool missing.'''
