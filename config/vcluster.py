"""ReFrame site configuration for the virtual Slurm cluster (`hpcval cluster up`).

One Slurm partition of N virtual nodes (N from the running cluster's
state.json), ReFrame's ``squeue`` backend (no accounting daemon needed),
``srun --mpi=pmix``, the host's Open MPI, Charliecloud as container platform.

Two fabrics, declared with what selects them and what proves them:
``tcp`` (TCP over ``eth0``, the management network shaped to ~1 Gbit/s) and
``hsn`` (TCP over ``hsn0``, unshaped).  Each pins Open MPI to its interface,
so a missing interface fails the job instead of falling back, and turns on
the BTL's verbose selection output, which the checks parse into
``transport``.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from config.local import HOST_MPI, IO_TARGETS, OPENMPI_ENV, site_configuration as _local   # noqa: E402

STATE = os.environ.get('HPCVAL_VCLUSTER_DIR',
                       os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    '.cache', 'vcluster'))
# sbatch/squeue/srun find the cluster through SLURM_CONF; ReFrame runs them
# from this process, so setting it here is enough.  Only once the cluster has
# written it: any process that imports this module passes SLURM_CONF on, and
# every Slurm command retries a missing slurm.conf for a minute before failing.
SLURM_CONF = os.environ.get('SLURM_CONF') or os.path.join(STATE, 'etc', 'slurm.conf')
if os.path.exists(SLURM_CONF):
    os.environ.setdefault('SLURM_CONF', SLURM_CONF)
try:
    with open(os.path.join(STATE, 'state.json')) as _fp:
        NODES = int(json.load(_fp)['nodes'])
except (OSError, ValueError, KeyError):
    NODES = 3

_VERBOSE = {'OMPI_MCA_btl_base_verbose': '100'}


def _tcp_over(ifname):
    return {'OMPI_MCA_pml': 'ob1', 'OMPI_MCA_btl': 'self,vader,tcp',
            'OMPI_MCA_btl_tcp_if_include': ifname}


FABRICS = {
    'tcp': {'descr': 'TCP over eth0, the management network (tc tbf, ~1 Gbit/s)',
            'env': _tcp_over('eth0'), 'verbose_env': _VERBOSE, 'proof': 'openmpi-btl',
            'expect': 'tcp:eth0',
            # the tbf rate the cluster shapes eth0 to (hpcval.cluster.vcluster.ETH_RATE)
            'link_MBps': 125},
    'hsn': {'descr': 'TCP over hsn0, the unshaped "high-speed network"',
            'env': _tcp_over('hsn0'), 'verbose_env': _VERBOSE, 'proof': 'openmpi-btl',
            'expect': 'tcp:hsn0',
            # 2x the shaped eth's 125 MB/s: below it, the bytes did not take hsn;
            # not higher, so the gate's emulated slow hsn stays above it
            'min_bw_MBps': 250},
}

# Open MPI's out-of-band channel and the default BTL stay on the management
# network; a fabric variant overrides the BTL's interface.
_ENV = [kv for kv in OPENMPI_ENV if not kv[0].endswith('_if_include')] + [
    ['OMPI_MCA_oob_tcp_if_include', 'eth0'],
    ['OMPI_MCA_btl_tcp_if_include', 'eth0'],
    ['SLURM_CONF', SLURM_CONF],
    # every virtual node shares the same 2 cores: 3 ranks busy-polling on them
    # starve each other; yielding keeps collectives usable (benchmarks/RESULTS.md)
    ['OMPI_MCA_mpi_yield_when_idle', '1'],
]

site_configuration = {
    'systems': [{
        'name': 'vcluster',
        'descr': f'Virtual Slurm cluster of {NODES} nodes on this machine (namespaces)',
        'hostnames': ['.*'],
        'modules_system': 'nomod',
        'partitions': [{
            'name': 'vc',
            'descr': 'Slurm partition vc: virtual nodes, eth (shaped) + hsn (unshaped)',
            'scheduler': 'squeue',
            'launcher': 'srun',
            'access': ['--partition=vc'],
            'environs': ['host-openmpi'],
            # one job at a time: every virtual node shares the same 2 cores
            'max_jobs': 1,
            'time_limit': '10m',
            'processor': {'num_cpus': 2, 'num_cpus_per_core': 1, 'num_sockets': 1,
                          'num_cpus_per_socket': 2},
            'container_platforms': [{'type': 'Charliecloud',
                                     'env_vars': [['USER', '${USER:-$(id -un)}']]}],
            'extras': {
                'max_nodes': NODES,
                # the nodes share this machine's CPUs with ReFrame itself: one case
                # at a time, end to end, so no compile or sanity check of another
                # case runs beside a measurement (`hpcval run` passes --exec-policy)
                'exec_policy': 'serial',
                'fabrics': FABRICS,
                'host_mpi': HOST_MPI,
                'charliecloud': {'image_format': 'dir', 'binds': []},
                # home and work are this machine's, seen by every virtual
                # node; each node mounts its own /dev/shm (node-local)
                'io_targets': IO_TARGETS,
                # what `hpcval run --system vcluster` (no check named) runs
                # every workload over: both fabrics, bare and in Charliecloud
                # with the host's and the image's MPI
                'sweep': {'fabric': list(FABRICS), 'runtime': ['bare', 'charliecloud'],
                          'mpi': ['host', 'bundled']},
            },
        }],
    }],
    'environments': [{
        'name': 'host-openmpi',
        'cc': 'mpicc', 'cxx': 'mpicxx', 'ftn': 'mpif90',
        'features': ['mpi', 'openmpi'],
        'extras': {'mpi_family': 'Open MPI'},
        'env_vars': _ENV,
    }],
    'logging': _local['logging'],
    'general': _local['general'],
}
