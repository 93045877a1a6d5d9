"""Example site: a SuperMUC-NG-like system.  Slurm, Intel MPI on Omni-Path
(PSM2) with TCP as the comparison, Charliecloud with the host Intel MPI
injected (bind model).  Copy and edit for a real site.

Fabrics (`-P fabric=opa,tcp`), each pinned so a missing fabric fails the job:
  opa  I_MPI_FABRICS=shm:ofi, FI_PROVIDER=psm2; proof: Intel MPI's own
       start-up line at I_MPI_DEBUG>=1, "libfabric provider: psm2"
       (PSM2_IDENTIFY=1 also makes every rank print its PSM2 version);
       floor 5000 MB/s at 4 MiB (Omni-Path 100 Gb/s is 12.5 GB/s, TCP on the
       same nodes stays well under it).
  tcp  FI_PROVIDER=tcp over the Ethernet; proof "libfabric provider: tcp".

Images: `hpcval image build mpich` (Intel MPI is in the MPICH ABI:
libmpi.so.12), converted to SquashFS, copied to the site's image folder.
Dry run:  reframe -C config/examples/supermuc_ng.py --system supermuc-ng \\
          -c checks/mpi_microbench.py -P fabric=opa,tcp -P num_nodes=2 --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

_DEBUG = {'I_MPI_DEBUG': '5', 'PSM2_IDENTIFY': '1'}

site_configuration = {
    'systems': [{
        'name': 'supermuc-ng',
        'descr': 'Example: SuperMUC-NG-like, Slurm, Intel MPI, Omni-Path (PSM2), Charliecloud',
        'hostnames': ['login[0-9]+'],
        # Lmod at the site; the dry-run tests here set HPCVAL_MODULES_SYSTEM=nomod
        'modules_system': os.environ.get('HPCVAL_MODULES_SYSTEM', 'lmod'),
        'partitions': [{
            'name': 'general',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--partition=general', '--account=pn00xx'],
            'environs': ['intel-mpi'],
            'max_jobs': 20,
            'processor': {'num_cpus': 48, 'num_sockets': 2, 'num_cpus_per_core': 1},
            'container_platforms': [{'type': 'Charliecloud', 'modules': ['charliecloud']}],
            'extras': {
                'max_nodes': 768,
                'fabrics': {
                    'opa': {'descr': 'Omni-Path through libfabric psm2',
                            'env': {'I_MPI_FABRICS': 'shm:ofi', 'FI_PROVIDER': 'psm2'},
                            'verbose_env': _DEBUG, 'proof': 'libfabric', 'expect': 'psm2',
                            'min_bw_MBps': 5000},
                    'tcp': {'descr': 'TCP over the Ethernet through libfabric tcp',
                            'env': {'I_MPI_FABRICS': 'shm:ofi', 'FI_PROVIDER': 'tcp'},
                            'verbose_env': _DEBUG, 'proof': 'libfabric', 'expect': 'tcp'},
                },
                'host_mpi': {'lib_dir': '/lrz/sys/intel/impi2019u12/impi/2019.12.320/intel64/lib/release',
                             'env': {'FI_PROVIDER_PATH': '/opt/hostmpi/plugins'},
                             'plugins': '/lrz/sys/intel/impi2019u12/impi/2019.12.320/intel64/libfabric/lib/prov'},
                'charliecloud': {'image_format': 'squash', 'binds': ['/hppfs/work:/scratch']},
                'image_folder': '/hppfs/work/pn00xx/hpcval/images',
            },
        }],
    }],
    'environments': [{
        'name': 'intel-mpi',
        'modules': ['intel-mpi/2019-intel'],
        'cc': 'mpiicc', 'cxx': 'mpiicpc', 'ftn': 'mpiifort',
        'features': ['mpi', 'intelmpi'],
        'extras': {'mpi_family': 'Intel(R) MPI'},
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
