"""ReFrame site configuration for any single Linux machine.

One partition, ReFrame's local scheduler, Open MPI's ``mpirun``.  Open MPI
is allowed to run as root and kept on loopback, so a benchmark never sends a
byte over the machine's real network.  Perflogs, the debug log and the JSON
run report go under ``$HPCVAL_RUN_DIR`` (``hpcval run`` sets it to
``runs/<campaign>/<timestamp>``; plain ``reframe -C`` uses ``runs/adhoc``).
"""
import glob
import os

from reframe import VERSION as _RFM_VERSION
from reframe.utility.cpuinfo import cpuinfo

_RFM = tuple(int(x) for x in _RFM_VERSION.split('-')[0].split('.')[:2])

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)   # the log handler opens its file at load time

OPENMPI_ENV = [
    # Open MPI refuses to start as root without both (CI runs as root)
    ['OMPI_ALLOW_RUN_AS_ROOT', '1'],
    ['OMPI_ALLOW_RUN_AS_ROOT_CONFIRM', '1'],
    # Left alone it would pick eth0; loopback keeps MPI traffic on this machine
    ['OMPI_MCA_btl_tcp_if_include', 'lo'],
    ['OMPI_MCA_oob_tcp_if_include', 'lo'],
]

# The host MPI that `mpi=host` container variants inject (bind model).  Debian
# mixes Open MPI into the system library folder, so its own files are listed
# and gathered into one folder to bind; a site with an MPI prefix sets
# 'lib_dir' instead.  Its components are loaded from the host too.
_LIBDIR = next(iter(glob.glob('/usr/lib/*-linux-gnu/libmpi.so.40')), '/usr/lib/libmpi.so.40')
_LIBDIR = os.path.dirname(_LIBDIR)
HOST_MPI = {
    'libs': [os.path.join(_LIBDIR, pat) for pat in
             ('libmpi.so.40*', 'libopen-rte.so.40*', 'libopen-pal.so.40*', 'libmca_common_*.so.*')],
    'plugins': os.path.join(_LIBDIR, 'openmpi', 'lib', 'openmpi3'),
    'env': {'OMPI_MCA_mca_base_component_path': '/opt/hostmpi/plugins'},
}

# Where checks/smallfile_io.py creates its small files.  Each path must
# exist (the check never creates it); a case works in one new directory under
# it and removes it.  On a 'shared' target a case may create at most
# 'max_files' files unless run with -S SmallfileIO.allow_many_files=1.
IO_TARGETS = {
    'home': {'path': os.path.expanduser('~'), 'shared': True, 'max_files': 100000},
    # the site's scratch file system; here /var/tmp unless HPCVAL_WORK names one
    'work': {'path': os.environ.get('HPCVAL_WORK', '/var/tmp'), 'shared': True, 'max_files': 1000000},
    'ramdisk': {'path': '/dev/shm', 'shared': False},
}

site_configuration = {
    'systems': [
        {
            'name': 'local',
            'descr': 'This machine: local scheduler, mpirun, MPI on loopback',
            'hostnames': ['.*'],
            'modules_system': 'nomod',
            'partitions': [
                {
                    'name': 'default',
                    'descr': 'All cores of this machine',
                    'scheduler': 'local',
                    'launcher': 'mpirun',
                    'environs': ['host-openmpi'],
                    # One job at a time: concurrent benchmarks on shared cores
                    # would measure each other.
                    'max_jobs': 1,
                    # ReFrame auto-detects only partitions whose launcher is
                    # 'local'; with mpirun we run its detector ourselves: the
                    # partition is this very machine.
                    'processor': cpuinfo(),
                    # Charliecloud (checks/common/containers.py registers it);
                    # ranks of one node join one container.
                    # ch-run refuses to start without $USER (unset in some CI shells)
                    'container_platforms': [{'type': 'Charliecloud',
                                             'env_vars': [['USER', '${USER:-$(id -un)}']]}],
                    'extras': {
                        'max_nodes': 1,
                        # the nodes share this machine's CPUs with ReFrame itself: one case
                        # at a time, end to end, so no compile or sanity check of another
                        # case runs beside a measurement (`hpcval run` passes --exec-policy)
                        'exec_policy': 'serial',
                        'host_mpi': HOST_MPI,
                        # images from `hpcval image build` (.cache/images)
                        'charliecloud': {'image_format': 'dir', 'binds': []},
                        'io_targets': IO_TARGETS,
                        # Override the nominal peak model here if the vector
                        # flags mislead: 'peak_gflops', 'clock_ghz',
                        # 'flops_per_cycle'.
                    },
                },
            ],
        },
    ],
    'environments': [
        {
            'name': 'host-openmpi',
            'cc': 'mpicc',
            'cxx': 'mpicxx',
            'ftn': 'mpif90',
            'features': ['mpi', 'openmpi'],
            'extras': {'mpi_family': 'Open MPI'},
            'env_vars': OPENMPI_ENV,
        },
    ],
    'logging': [
        {
            'level': 'debug',
            'handlers': [
                {
                    'type': 'file',
                    'name': os.path.join(RUN_DIR, 'reframe.log'),
                    'level': 'debug2',
                    'format': '[%(asctime)s] %(levelname)s: %(check_info)s: %(message)s',
                    'append': False,
                },
                {
                    'type': 'stream',
                    'name': 'stdout',
                    'level': 'info',
                    'format': '%(message)s',
                },
            ],
            # One line per performance variable: ReFrame writes one header per
            # test class, and variants of a class have different variables
            # (latency_* vs bw_*), so the wide layout would mislabel them.
            # (ReFrame 4.0-4.8 call the same layout perflog_compat)
            ('perflog_multiline' if _RFM >= (4, 9) else 'perflog_compat'): True,
            'handlers_perflog': [
                {
                    'type': 'filelog',
                    'prefix': '%(check_system)s/%(check_partition)s',
                    'level': 'info',
                    'basedir': os.path.join(RUN_DIR, 'perflogs'),
                    'format': ('%(check_job_completion_time)s|%(check_display_name)s|'
                               '%(check_system)s|%(check_partition)s|%(check_environ)s|'
                               '%(check_result)s|%(check_perf_var)s|%(check_perf_value)s|'
                               '%(check_perf_unit)s|%(check_perf_ref)s|%(check_perf_lower_thres)s|'
                               '%(check_perf_upper_thres)s|%(check_perf_result)s|'
                               # every loggable field; ReFrame 4.0-4.2 have no check_#ALL
                               + ('%(check_#ALL)s' if _RFM >= (4, 3) else
                                  '%(check_jobid)s|%(check_num_tasks)s|%(check_job_nodelist)s')),
                    'ignore_keys': ['check_perfvalues', 'check_display_name', 'check_system',
                                    'check_partition', 'check_environ', 'check_result',
                                    'check_job_completion_time'],
                    'append': True,
                },
            ],
        },
    ],
    'general': [
        {
            'report_file': os.path.join(RUN_DIR, 'report.json'),
            'check_search_path': ['checks/'],
        },
    ],
}
