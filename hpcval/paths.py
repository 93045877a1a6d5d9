"""Where the project's parts live, relative to the repository root."""
import os
from pathlib import Path

ROOT = Path(os.environ.get('HPCVAL_ROOT', Path(__file__).resolve().parent.parent))
CHECKS = ROOT / 'checks'
CONFIGS = ROOT / 'config'
CAMPAIGNS = ROOT / 'campaigns'
RUNS = Path(os.environ.get('HPCVAL_RUNS', ROOT / 'runs'))


def known_checks():
    return sorted(p.stem for p in CHECKS.glob('*.py') if not p.name.startswith('_'))


def known_systems():
    return sorted(p.stem for p in CONFIGS.glob('*.py') if not p.name.startswith('_'))


def known_campaigns():
    '''The campaigns shipped under campaigns/ (NAME.yaml).'''
    return sorted(p.stem for p in CAMPAIGNS.glob('*.yaml'))
