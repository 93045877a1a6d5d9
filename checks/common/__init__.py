"""Shared pieces of the hpcval ReFrame checks (parsers, mixins, CPU peak model).

The check files put ``checks/`` on ``sys.path`` and import ``common``; nothing
here imports ``analysis`` or ``hpcval``.
"""
