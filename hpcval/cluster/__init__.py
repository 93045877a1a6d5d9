"""The virtual Slurm cluster: N nodes on one machine, each in its own network,
mount and UTS namespace, with two networks (a shaped ``eth`` and an unshaped
``hsn``), slurmd per node, slurmctld and munged on the host.

vcluster  bring it up, take it down, say what exists (``hpcval cluster``)
"""
