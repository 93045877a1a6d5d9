"""`hpcval cluster up|down|status`: the virtual Slurm cluster on this machine."""
import json


def _echo(m):
    print(f'hpcval cluster: {m}', flush=True)


def cmd_up(args):
    from hpcval.cluster import emulate, vcluster
    vcluster.up(args.nodes, echo=_echo)
    if args.cpus_per_node is not None:
        emulate.pin(args.cpus_per_node, echo=_echo)
    return 0


def cmd_pin(args):
    from hpcval.cluster import emulate
    emulate.pin(args.cpus_per_node, echo=_echo)
    return 0


def cmd_emulate(args):
    from hpcval.cluster import emulate
    if args.what == 'fabric':
        emulate.fabric(args.net, args.rate, echo=_echo)
    elif args.what == 'noise':
        emulate.noise(args.node, echo=_echo)
    elif args.what == 'undo':
        emulate.undo(echo=_echo)
    else:
        print(json.dumps(emulate.show(), indent=1))
    return 0


def cmd_down(args):
    from hpcval.cluster import vcluster
    vcluster.down(echo=lambda m: print(f'hpcval cluster: {m}', flush=True))
    return 0


def cmd_status(args):
    from hpcval.cluster import vcluster
    info = vcluster.status()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    nodes = info['nodes']
    print(f'state folder: {info["dir"]}{"" if info["state"] else " (none)"}')
    print(f'namespaces:   {" ".join(info["namespaces"]) or "-"}')
    print(f'links:        {" ".join(info["links"]) or "-"}')
    print(f'processes:    {info["processes"]}')
    print('slurm nodes:  ' + (' '.join(f'{n}={s}' for n, s in sorted(nodes.items())) or
                              info.get('sinfo_error', '-')))
    up = bool(nodes) and all(s == 'idle' or s.startswith(('alloc', 'mix')) for s in nodes.values())
    return 0 if up else 1


def add_parser(sub):
    c = sub.add_parser('cluster', help='the virtual Slurm cluster (namespaces on this machine; root)')
    csub = c.add_subparsers(dest='cluster_command', required=True)
    u = csub.add_parser('up', help='bring it up (idempotent) and wait until the nodes are idle')
    u.add_argument('--nodes', type=int, default=3, help='virtual nodes (default 3)')
    u.add_argument('--cpus-per-node', type=int, help='bind each node to its own CPUs (see `pin`)')
    u.set_defaults(func=cmd_up)
    p = csub.add_parser('pin', help="bind each node's slurmd and its jobs to its own CPUs (0: unbind)")
    p.add_argument('--cpus-per-node', type=int, required=True)
    p.set_defaults(func=cmd_pin)
    e = csub.add_parser('emulate', help='emulated system updates: degrade a fabric, add OS noise, undo')
    esub = e.add_subparsers(dest='what', required=True)
    f = esub.add_parser('fabric', help='shape a network on every node with tc tbf')
    f.add_argument('--net', default='hsn', help='eth or hsn (default hsn)')
    f.add_argument('--rate', required=True, help='tc rate, e.g. 5600mbit')
    f.set_defaults(func=cmd_emulate)
    n = esub.add_parser('noise', help="a CPU-stealing busy loop on one node (on that node's CPUs)")
    n.add_argument('--node', required=True, help='e.g. node2')
    n.set_defaults(func=cmd_emulate)
    esub.add_parser('undo', help='take back every emulated update').set_defaults(func=cmd_emulate)
    esub.add_parser('show', help='what is applied (JSON)').set_defaults(func=cmd_emulate)
    d = csub.add_parser('down', help='remove every daemon, namespace, link and file it made')
    d.set_defaults(func=cmd_down)
    s = csub.add_parser('status', help='what exists; exit 0 when every node is up')
    s.add_argument('--json', action='store_true')
    s.set_defaults(func=cmd_status)
