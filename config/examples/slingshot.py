"""Example site: an HPE Cray EX system on Slingshot-11.  Slurm, Cray MPICH on
libfabric cxi, Sarus (host MPI through its MPI hook) or Podman-HPC.  Copy and
edit.

Fabrics (`-P fabric=cxi,tcp`), each pinned so a missing fabric fails the job:
  cxi  FI_PROVIDER=cxi; proof: MPICH_OFI_NIC_VERBOSE=1 / MPIR_CVAR_DEBUG_SUMMARY=1
       print "libfabric provider: cxi"; floor 15000 MB/s at 4 MiB (CSCS
       measured 24 GB/s with the CXI hook, 1.3 GB/s when it silently fell
       back to TCP).  Outside the container `fi_info -p cxi` must list cxi.
  tcp  FI_PROVIDER=tcp; proof "libfabric provider: tcp".

Dry run:  reframe -C config/examples/slingshot.py --system slingshot \\
          -c checks/mpi_microbench.py -P fabric=cxi,tcp -P num_nodes=2 --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

_VERBOSE = {'MPICH_OFI_NIC_VERBOSE': '1', 'MPIR_CVAR_DEBUG_SUMMARY': '1'}

site_configuration = {
    'systems': [{
        'name': 'slingshot',
        'descr': 'Example: HPE Cray EX, Slingshot-11, Cray MPICH (libfabric cxi), Sarus / Podman-HPC',
        'hostnames': ['uan[0-9]+'],
        # Lmod at the site; the dry-run tests here set HPCVAL_MODULES_SYSTEM=nomod
        'modules_system': os.environ.get('HPCVAL_MODULES_SYSTEM', 'lmod'),
        'partitions': [{
            'name': 'normal',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--partition=normal'],
            'environs': ['cray-mpich'],
            'processor': {'num_cpus': 128, 'num_sockets': 2, 'num_cpus_per_core': 1},
            'container_platforms': [{'type': 'Sarus', 'modules': ['sarus']}],
            'extras': {
                'max_nodes': 256,
                'fabrics': {
                    'cxi': {'descr': 'Slingshot-11 through libfabric cxi',
                            'env': {'FI_PROVIDER': 'cxi'}, 'verbose_env': _VERBOSE,
                            'proof': 'libfabric', 'expect': 'cxi', 'min_bw_MBps': 15000},
                    'tcp': {'descr': 'TCP through libfabric tcp',
                            'env': {'FI_PROVIDER': 'tcp'}, 'verbose_env': _VERBOSE,
                            'proof': 'libfabric', 'expect': 'tcp'},
                },
                'images': {'mpich': 'load/library/hpcval-mpich:latest'},
            },
        }],
    }],
    'environments': [{
        'name': 'cray-mpich',
        'modules': ['PrgEnv-gnu', 'cray-mpich'],
        'cc': 'cc', 'cxx': 'CC', 'ftn': 'ftn',
        'features': ['mpi', 'mpich'],
        'extras': {'mpi_family': 'MPICH'},
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
