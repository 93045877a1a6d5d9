"""A site configuration as a ReFrame user writes one for a workstation: no logging
section, so each release writes its own default perflog format."""

site_configuration = {
    'systems': [
        {
            'name': 'workstation',
            'descr': 'One machine, local scheduler',
            'hostnames': ['.*'],
            'modules_system': 'nomod',
            'partitions': [
                {
                    'name': 'cpu',
                    'scheduler': 'local',
                    'launcher': 'local',
                    'environs': ['gnu'],
                    # measurements one at a time: the machine has two cores
                    'max_jobs': 1,
                },
            ],
        },
    ],
    'environments': [
        {'name': 'gnu', 'cc': 'gcc', 'cxx': 'g++', 'ftn': 'gfortran'},
    ],
}

import reframe                                      # noqa: E402

if reframe.VERSION.startswith('3.'):
    # ReFrame 3.x asks for a logging section: its own default, as users copied it
    from reframe.core.settings import site_configuration as _builtin   # noqa: E402
    site_configuration['logging'] = _builtin['logging']
