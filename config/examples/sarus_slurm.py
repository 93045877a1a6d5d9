"""Example site: a Cray-style Slurm system with Sarus and Cray MPICH.

`mpi=host` asks Sarus' MPI hook (`sarus run --mpi`) to swap the image's
MPICH-ABI libraries (libmpi.so.12) for the host's Cray MPICH at start-up: use
the `mpich` image, not the Open MPI one (Open MPI is not in the MPICH ABI).
`mpi=bundled` runs the image's own MPICH under `srun --mpi=pmi2`.

Images: `sarus load openmpi.tar hpcval/mpich` after `ch-convert -o tar
hpcval/mpich mpich.tar.gz` (or `docker save`), then name it in extras.
Dry run:  reframe -C config/examples/sarus_slurm.py --system sarus-site \\
          -c checks/mpi_microbench.py -P runtime=sarus -P mpi=host,bundled --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

site_configuration = {
    'systems': [{
        'name': 'sarus-site',
        'descr': 'Example: Cray EX, Slurm, Sarus, Cray MPICH over Slingshot (CXI)',
        'hostnames': ['uan[0-9]+'],
        'modules_system': 'nomod',
        'partitions': [{
            'name': 'mc',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--constraint=mc'],
            'environs': ['cray-mpich'],
            'processor': {'num_cpus': 128, 'num_sockets': 2, 'num_cpus_per_core': 1},
            'container_platforms': [{'type': 'Sarus', 'modules': ['sarus']}],
            'extras': {
                'max_nodes': 128,
                'images': {'mpich': 'load/library/hpcval-mpich:latest'},
            },
        }],
    }],
    'environments': [{
        'name': 'cray-mpich',
        'cc': 'cc', 'cxx': 'CC', 'ftn': 'ftn',
        'features': ['mpi', 'mpich'],
        'extras': {'mpi_family': 'MPICH'},
        'env_vars': [['MPICH_OFI_NIC_VERBOSE', '1']],
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
