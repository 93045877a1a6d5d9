"""Example site: a generic InfiniBand cluster.  Slurm, Open MPI + UCX on
InfiniBand with TCP as the comparison, Apptainer.  Copy and edit.

Fabrics (`-P fabric=ib,tcp`), each pinned so a missing fabric fails the job:
  ib   OMPI_MCA_pml=ucx, UCX_TLS=rc,ud,sm,self (no tcp), UCX_NET_DEVICES=mlx5_0:1;
       proof: "select: component ucx selected" at OMPI_MCA_pml_base_verbose=10;
       floor 8000 MB/s at 4 MiB (HDR 200 Gb/s is 25 GB/s).  Open MPI 4.1 drops
       pml ucx without a word unless it finds mlx* devices: pinning pml=ucx
       turns that into a failure.
  tcp  OMPI_MCA_pml=ob1, OMPI_MCA_btl=self,vader,tcp over the Ethernet;
       proof: the BTL's own selection output at OMPI_MCA_btl_base_verbose=100.

Dry run:  reframe -C config/examples/infiniband_cluster.py --system ib-cluster \\
          -c checks/mpi_microbench.py -P fabric=ib,tcp -P num_nodes=2 --dry-run
"""
import os

RUN_DIR = os.environ.get('HPCVAL_RUN_DIR', os.path.join('runs', 'adhoc'))
os.makedirs(RUN_DIR, exist_ok=True)

site_configuration = {
    'systems': [{
        'name': 'ib-cluster',
        'descr': 'Example: Slurm, Open MPI 4.1 + UCX over InfiniBand HDR, Apptainer',
        'hostnames': ['login[0-9]+'],
        'modules_system': 'nomod',
        'partitions': [{
            'name': 'batch',
            'scheduler': 'slurm',
            'launcher': 'srun',
            'access': ['--partition=batch'],
            'environs': ['openmpi-ucx'],
            'max_jobs': 16,
            'processor': {'num_cpus': 64, 'num_sockets': 2, 'num_cpus_per_core': 1},
            'container_platforms': [{'type': 'Apptainer'}],
            'extras': {
                'max_nodes': 32,
                'fabrics': {
                    'ib': {'descr': 'InfiniBand HDR through UCX',
                           'env': {'OMPI_MCA_pml': 'ucx', 'UCX_TLS': 'rc,ud,sm,self',
                                   'UCX_NET_DEVICES': 'mlx5_0:1'},
                           'verbose_env': {'OMPI_MCA_pml_base_verbose': '10'},
                           'proof': 'ucx', 'expect': 'ucx', 'min_bw_MBps': 8000},
                    'tcp': {'descr': 'TCP over the Ethernet (eno1)',
                            'env': {'OMPI_MCA_pml': 'ob1', 'OMPI_MCA_btl': 'self,vader,tcp',
                                    'OMPI_MCA_btl_tcp_if_include': 'eno1'},
                            'verbose_env': {'OMPI_MCA_btl_base_verbose': '100'},
                            'proof': 'openmpi-btl', 'expect': 'tcp:eno1'},
                },
                'images': {'openmpi': '/shared/images/hpcval/openmpi.sif'},
                'host_mpi': {'lib_dir': '/opt/openmpi/4.1.6/lib'},
            },
        }],
    }],
    'environments': [{
        'name': 'openmpi-ucx',
        'cc': 'mpicc', 'cxx': 'mpicxx', 'ftn': 'mpif90',
        'features': ['mpi', 'openmpi'],
        'extras': {'mpi_family': 'Open MPI'},
    }],
    'general': [{'report_file': os.path.join(RUN_DIR, 'report.json')}],
}
