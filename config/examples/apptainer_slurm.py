"""Example site: a Slurm cluster with Apptainer (or Singularity) and a host
Open MPI in its own prefix, on InfiniBand.  Copy and edit for a real site.

`mpi=host` binds the host MPI prefix's lib folder at /opt/hostmpi/lib (every
hpcval image has that mount point) and passes LD_LIBRARY_PATH with --env,
since Apptainer never imports the host's.  `mpi=bundled` runs the image's
own Open MPI under `srun --mpi=pmix` (hybrid model).

Images: build with `hpcval image build openmpi` and turn the directory image
into a SIF on a machine with Apptainer:
    apptainer build openmpi.sif .cache/images/openmpi        (from the directory)
or from Docker/Podman:  docker save hpcval/openmpi -o openmpi.tar &&
    apptainer build openmpi.sif docker-archive:openmpi.tar
then name the SIF in extras['images'].
Dry run:  reframe -C config/examples/apptainer_slurm.py --system apptainer-site \\
          -c checks/mpi_microbench.py -P runtime=apptainer -P mpi=host,bundled --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

site_configuration = {
    'systems': [{
        'name': 'apptainer-site',
        'descr': 'Example: Slurm, Apptainer, host Open MPI 4.1 over UCX/InfiniBand',
        'hostnames': ['login[0-9]+'],
        'modules_system': 'nomod',
        'partitions': [{
            'name': 'compute',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--partition=compute'],
            'environs': ['site-openmpi'],
            'max_jobs': 8,
            'processor': {'num_cpus': 48, 'num_sockets': 2, 'num_cpus_per_core': 1},
            'container_platforms': [
                {'type': 'Apptainer', 'modules': [], 'env_vars': [['APPTAINER_CACHEDIR', '/tmp/$USER']]},
            ],
            'extras': {
                'max_nodes': 64,
                'images': {'openmpi': '/shared/images/hpcval/openmpi.sif',
                           'tensorflow': '/shared/images/hpcval/tensorflow.sif'},
                'host_mpi': {'lib_dir': '/opt/openmpi/4.1.6/lib',
                             'env': {'OMPI_MCA_pml': 'ucx', 'UCX_TLS': 'rc,sm,self'}},
                'binds': ['/scratch:/scratch'],
            },
        }],
    }],
    'environments': [{
        'name': 'site-openmpi',
        'cc': 'mpicc', 'cxx': 'mpicxx', 'ftn': 'mpif90',
        'features': ['mpi', 'openmpi'],
        'extras': {'mpi_family': 'Open MPI'},
        'env_vars': [['OMPI_MCA_pml', 'ucx']],
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
