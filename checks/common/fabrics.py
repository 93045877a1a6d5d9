"""Fabric variants: which network carried the MPI traffic, proven.

A partition declares its fabrics in ``extras['fabrics']``::

    'fabrics': {
        'hsn': {
            'descr': 'TCP over the unshaped hsn0 network',
            'env': {'OMPI_MCA_pml': 'ob1', 'OMPI_MCA_btl': 'self,vader,tcp',
                    'OMPI_MCA_btl_tcp_if_include': 'hsn0'},   # pins it: no silent fallback
            'verbose_env': {'OMPI_MCA_btl_base_verbose': '100'},  # makes the MPI say what it chose
            'proof': 'openmpi-btl',         # parser of that output (PROOFS below)
            'expect': 'tcp:hsn0',           # transport between nodes that counts as this fabric
            'min_bw_MBps': 400,             # bandwidth floor at the largest message size
            'link_MBps': 25000,             # optional: the link's rate, for the report's "% of link"
        },
    }

``fabric`` is a loggable parameter ('default': the partition's environment as
it is).  The transport actually used between nodes is parsed from the MPI's
own selection output into ``transport``; sanity fails when it is not the
fabric's ``expect``, or when the bandwidth stays under the floor: a silent
fallback to another network fails loudly instead of passing slowly.
"""
import re

from common import Plugin
from reframe.core.builtins import parameter, run_after, variable


def _openmpi_btl(text):
    '''Open MPI ob1/BTL: ``mca: bml: Using tcp btl for send to [[j,1],r] on node X``
    says which BTL carries traffic to each peer, ``btl: tcp: Using interface: hsn0``
    which interfaces TCP uses.  -> ({remote transports}, {on-node transports})'''
    remote, local = set(), set()
    ifaces = sorted(set(re.findall(r'btl: ?tcp: Using interface: (\S+)', text)))
    for host, btl, peer_node in re.findall(
            r'^\[([^:\]]+):\d+\] mca: bml: Using (\w+) btl for send to \S+ on node (\S+)', text, re.M):
        if btl == 'self':
            continue
        label = f'tcp:{"+".join(ifaces) or "?"}' if btl == 'tcp' else btl
        (local if peer_node == host else remote).add(label)
    return remote, local


def _libfabric(text):
    '''MPICH ch4:ofi (MPIR_CVAR_DEBUG_SUMMARY=1) / Intel MPI (I_MPI_DEBUG>=1):
    ``libfabric provider: cxi``.'''
    provs = set(re.findall(r'(?:libfabric )?provider: ?(\w+)', text, re.I))
    return provs, set()


def _ucx(text):
    '''Open MPI pml/ucx (OMPI_MCA_pml_base_verbose=10): ``select: component ucx selected``.'''
    return ({'ucx'} if re.search(r'select: component ucx selected', text) else set()), set()


PROOFS = {'openmpi-btl': _openmpi_btl, 'libfabric': _libfabric, 'ucx': _ucx}


class FabricMixin(Plugin):
    fabric = parameter(['default'], type=str, loggable=True)
    #: what carried the traffic between nodes (and within a node), as the MPI reported it
    transport = variable(str, value='', loggable=True)
    #: the link's own rate where the partition declares one (``link_MBps``), for "% of link"
    link_MBps = variable(float, type(None), value=None, loggable=True)

    @run_after('setup')
    def select_fabric(self):
        if self.fabric == 'default':
            return
        fabrics = self.current_partition.extras.get('fabrics', {})
        self.skip_if(self.fabric not in fabrics,
                     f'fabric {self.fabric!r} is not declared in partition '
                     f'{self.current_partition.fullname} (declared: {", ".join(fabrics) or "none"})')
        spec = fabrics[self.fabric]
        if spec.get('link_MBps'):
            self.link_MBps = float(spec['link_MBps'])
        self.env_vars.update(spec.get('env', {}))
        self.env_vars.update(spec.get('verbose_env', {}))

    def fabric_problems(self, stdout, stderr, bandwidth=None):
        '''Sanity problems: the fabric asked for must be the one that carried the bytes.'''
        if self.fabric == 'default':
            return []
        spec = self.current_partition.extras.get('fabrics', {}).get(self.fabric, {})
        parse = PROOFS.get(spec.get('proof', ''))
        if parse is None:
            return [f'fabric {self.fabric}: no known proof {spec.get("proof")!r} (known: {", ".join(PROOFS)})']
        remote, local = parse(stdout + '\n' + stderr)
        between, within = '+'.join(sorted(remote)), '+'.join(sorted(local))
        self.transport = ';'.join(filter(None, [between and 'between nodes ' + between,
                                                within and 'on node ' + within]))
        problems = []
        spans_nodes = getattr(self, 'num_nodes', 1) > 1
        if spans_nodes:
            if not remote:
                problems.append(f'fabric {self.fabric}: the MPI did not say what carried traffic between nodes')
            elif remote != {spec['expect']}:
                problems.append(f'fabric {self.fabric} asked for {spec["expect"]} between nodes, '
                                f'the MPI used {"+".join(sorted(remote))}')
            floor = spec.get('min_bw_MBps')
            if floor and bandwidth is not None and bandwidth < floor:
                problems.append(f'fabric {self.fabric}: {bandwidth:.0f} MB/s at the largest message '
                                f'is under its floor of {floor} MB/s')
        return problems
