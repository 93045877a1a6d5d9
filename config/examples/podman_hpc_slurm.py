"""Example site: a Cray EX-style Slurm system with podman-hpc (NERSC's wrapper,
rootless, images migrated to a shared squash store) and a host MPI in its own
prefix.  Copy and edit for a real site; what this covers that the machine
hpcval is tested on cannot: rootless podman with subordinate ids, the site's
podman-hpc modules (`--openmpi-pmix` here: PMIx under `srun --mpi=pmix`,
`--userns keep-id`), several hosts sharing one squash store on a parallel
file system.

`mpi=host` binds the host MPI prefix's lib folder at /opt/hostmpi/lib (every
hpcval image has that mount point) and sets LD_LIBRARY_PATH there, as for
Podman here; `mpi=bundled` runs the image's own Open MPI.  The ranks start
with `podman-hpc shared-run` (one container per node), each rank's command
from `hpcval_rank.sh` in the stage directory.

Images: `hpcval image build openmpi --builder podman`, then on the site
`podman save localhost/hpcval/openmpi:current | podman-hpc load` and
`podman-hpc migrate hpcval/openmpi:current`; name it in extras['images'] and
its image id (`podman-hpc images --format '{{.ID}}'`) in extras['image_digests'].
Dry run:  reframe -C config/examples/podman_hpc_slurm.py --system podman-hpc-site \\
          -c checks/mpi_microbench.py -P runtime=podman-hpc -P mpi=host,bundled --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

site_configuration = {
    'systems': [{
        'name': 'podman-hpc-site',
        'descr': 'Example: Cray EX, Slurm, podman-hpc (rootless, squashed images), host Open MPI 5',
        'hostnames': ['login[0-9]+'],
        'modules_system': 'nomod',
        'partitions': [{
            'name': 'cpu',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--constraint=cpu', '--account=m0000'],
            'environs': ['host-openmpi'],
            'processor': {'num_cpus': 256, 'num_sockets': 2, 'num_cpus_per_core': 2},
            'container_platforms': [{'type': 'Podman', 'modules': ['podman-hpc']}],
            'extras': {
                'max_nodes': 64,
                'images': {'openmpi': 'registry.example.org/hpcval/openmpi:1.0'},
                'image_digests': {'registry.example.org/hpcval/openmpi:1.0':
                                  'sha256:d97aab613a28a3f335c25f991ac099f143188a45a845e4ef8ada90c39e8ce529'},
                'binds': ['/pscratch:/scratch'],
                # podman-hpc's own flags (its site modules): PMIx wire-up under srun
                'podman': {'subcommand': 'shared-run', 'run_args': ['--openmpi-pmix']},
                'host_mpi': {'lib_dir': '/opt/openmpi/5.0.5/lib',
                             'env': {'OMPI_MCA_pml': 'ucx'}},
            },
        }],
    }],
    'environments': [{
        'name': 'host-openmpi',
        'cc': 'mpicc', 'cxx': 'mpicxx', 'ftn': 'mpif90',
        'features': ['mpi', 'openmpi'],
        'extras': {'mpi_family': 'Open MPI'},
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
