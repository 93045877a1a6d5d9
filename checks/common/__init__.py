"""Shared pieces of the hpcval ReFrame checks (parsers, mixins, build fixtures).

The check files put ``checks/`` on ``sys.path`` and import ``common``.  The
one thing taken from the hpcval package is the image folder and its index
(hpcval.containers.store), so that the checks find images where
``hpcval image build`` put them; nothing here imports the analysis.
"""
import reframe as _rfm

#: the base of a check mixin: ReFrame 4.9 renamed RegressionMixin to RegressionTestPlugin
Plugin = getattr(_rfm, 'RegressionTestPlugin', None) or _rfm.RegressionMixin
