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

A site with modules: Lmod (Debian's ``lmod``) as ReFrame's modules system and
the project's module tree ``config/modules`` (``MODULES``): ``host-openmpi``
loads the host MPI's module, the Charliecloud platform Charliecloud's, so
every job script says ``module load openmpi/4.1.4`` as a site's would.  Each
job script starts Lmod itself and puts the tree on its ``MODULEPATH`` (the
partition's ``prepare_cmds``); ReFrame, which loads the modules too while it
writes the scripts, finds both in this process's environment, set here.
Without Lmod installed the system falls back to ``nomod`` (ReFrame then warns
that no module is loaded): listing and dry runs still work, ``hpcval cluster
up`` refuses.
"""
import glob
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

#: the site's module tree (Lua modulefiles, NAME/VERSION.lua): the one place that names it
MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'modules')
#: Debian's Lmod: its shell set-up (defines ``module``) and the command ReFrame runs
LMOD_INIT = '/usr/share/lmod/lmod/init/bash'
LMOD_CMD = os.environ.get('LMOD_CMD') or '/usr/share/lmod/lmod/libexec/lmod'
HAVE_LMOD = os.access(LMOD_CMD, os.X_OK) and os.path.exists(LMOD_INIT)
if HAVE_LMOD:
    # ReFrame's lmod backend needs LMOD_CMD; it loads the modules (`lmod python
    # load`) to write the job scripts, so the tree must be on MODULEPATH here too
    os.environ.setdefault('LMOD_CMD', LMOD_CMD)
    _paths = [p for p in os.environ.get('MODULEPATH', '').split(':') if p]
    if MODULES not in _paths:
        os.environ['MODULEPATH'] = ':'.join([MODULES] + _paths)


def module(name):
    '''NAME/VERSION of the one modulefile of NAME in the tree: the version is the
    file's name, which the modulefile checks against the installed package.'''
    versions = sorted(os.path.basename(f)[:-len('.lua')]
                      for f in glob.glob(os.path.join(MODULES, name, '*.lua')))
    if len(versions) != 1:
        raise ValueError(f'{MODULES}/{name}: expected one modulefile, found {versions}')
    return f'{name}/{versions[0]}'


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
        'modules_system': 'lmod' if HAVE_LMOD else 'nomod',
        'partitions': [{
            'name': 'vc',
            'descr': 'Slurm partition vc: virtual nodes, eth (shaped) + hsn (unshaped)',
            'scheduler': 'squeue',
            'launcher': 'srun',
            'access': ['--partition=vc'],
            'environs': ['host-openmpi'],
            # the batch shell is not a login shell: Lmod's `module`, then the tree
            'prepare_cmds': [f'. {LMOD_INIT}', f'module use {MODULES}'] if HAVE_LMOD else [],
            # one job at a time: every virtual node shares the same 2 cores
            'max_jobs': 1,
            'time_limit': '10m',
            'processor': {'num_cpus': 2, 'num_cpus_per_core': 1, 'num_sockets': 1,
                          'num_cpus_per_socket': 2},
            'container_platforms': [{'type': 'Charliecloud', 'modules': [module('charliecloud')],
                                     'env_vars': [['USER', '${USER:-$(id -un)}']]},
                                    # Debian's podman is the system's (no module); podman-hpc's
                                    # module is loaded by the runtime=podman-hpc cases
                                    {'type': 'Podman'}],
            'extras': {
                'max_nodes': NODES,
                # the nodes share this machine's CPUs with ReFrame itself: one case
                # at a time, end to end, so no compile or sanity check of another
                # case runs beside a measurement (`hpcval run` passes --exec-policy)
                'exec_policy': 'serial',
                'fabrics': FABRICS,
                'host_mpi': HOST_MPI,
                'charliecloud': {'image_format': 'dir', 'binds': []},
                # runtime=podman-hpc cases load podman-hpc's module (the wrapper is pip's)
                'podman': {'podman_hpc_modules': [module('podman-hpc')]},
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
        'modules': [module('openmpi')],
        'env_vars': _ENV,
    }],
    'logging': _local['logging'],
    'general': _local['general'],
}
