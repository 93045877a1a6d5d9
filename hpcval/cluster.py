"""`hpcval cluster up|down|status`: the virtual Slurm cluster on this machine."""
import json


def cmd_up(args):
    from cluster import vcluster
    vcluster.up(args.nodes, echo=lambda m: print(f'hpcval cluster: {m}', flush=True))
    return 0


def cmd_down(args):
    from cluster import vcluster
    vcluster.down(echo=lambda m: print(f'hpcval cluster: {m}', flush=True))
    return 0


def cmd_status(args):
    from cluster import vcluster
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
    u.set_defaults(func=cmd_up)
    d = csub.add_parser('down', help='remove every daemon, namespace, link and file it made')
    d.set_defaults(func=cmd_down)
    s = csub.add_parser('status', help='what exists; exit 0 when every node is up')
    s.add_argument('--json', action='store_true')
    s.set_defaults(func=cmd_status)
