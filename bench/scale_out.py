"""Scale-out: N simulated hosts -> one sync_node, simple discovery vs discovery server.

Issue 7, item 5: simple discovery compared with Fast DDS's discovery server.

Each simulated host is one ``source_node`` process (its own header topic, 64 B ``array``
payloads, lazy, ``--rate`` Hz); one ``sync_node`` synchronizes all N streams every
``--period`` s (headers only) and a listener child of this bench subscribes to every
header topic and to the tuples. All processes run on this machine, on one ROS domain; the
comparison is between discovery modes on the same N:

- ``simple``: Fast DDS's default simple discovery (multicast SPDP, every participant
  announces itself to every other: N^2 traffic);
- ``server``: ``fastdds discovery -i 0 -l 127.0.0.1 -p <port>`` and
  ``ROS_DISCOVERY_SERVER=127.0.0.1:<port>`` for every node (clients talk to the server
  only).

Measured per mode: **discovery time** = from the moment the last node process has logged
that it is up (node created, endpoints made) until the sync node emitted its first tuple
with all N members present (it has matched and heard every header publisher), and until
the listener has heard every stream; **headers lost** = gaps in the seqs the listener
received per stream during the ``--seconds`` window (target 0); **sync tuples/s** and the
fraction of fresh members over the window; CPU time of all processes during the run.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from _common import (child_exit, emit, fmt, JsonChild, machine_info, md_table, progress,
                     pyplot, read_commands, result_path, save_figure, self_argv,
                     spin_in_background, targets_table, write_csv, write_md)
from _nodes import NodeProcs

NAME = 'scale_out'
DOMAIN_ID = 25
STAMP = re.compile(r'\[INFO\] \[(\d+\.\d+)\]')
MODES = ('simple', 'server')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='N = 10, 15 s window')
    p.add_argument('--hosts', type=int, default=None, help='simulated hosts N (50)')
    p.add_argument('--rate', type=float, default=2.0, help='Hz per source')
    p.add_argument('--period', type=float, default=0.5, help='sync period, s')
    p.add_argument('--seconds', type=float, default=None, help='measurement window (40)')
    p.add_argument('--modes', default=','.join(MODES))
    p.add_argument('--name', default=None)
    p.add_argument('--domain-id', type=int, default=DOMAIN_ID)
    p.add_argument('--role', default='main', choices=('main', 'listener'),
                   help=argparse.SUPPRESS)
    p.add_argument('--n', type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.hosts = args.hosts or (10 if args.quick else 50)
    args.seconds = args.seconds or (15.0 if args.quick else 40.0)
    args.name = args.name or (NAME + ('_quick' if args.quick else ''))
    return args


def topics(n: int) -> List[str]:
    """Return the header topics of ``n`` simulated hosts."""
    return [f'/so/h{i}' for i in range(n)]


def run_listener(args: argparse.Namespace) -> int:
    """Child: hears every header topic and the tuples; reports on command."""
    import threading

    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import PayloadHeader, SyncedTuple, SyncMember
    from edgeserve_ros.ros.qos import HEADER_QOS, OUTPUT_QOS

    rclpy.init()
    node = Node('so_listener')
    lock = threading.Lock()
    names = topics(args.n)
    first: Dict[str, float] = {}
    seqs: Dict[str, set] = {t: set() for t in names}
    win = {'on': False, 'tuples': 0, 'members': 0, 'fresh': 0, 'present': 0}
    state = {'full': None}

    def on_header(topic: str, msg: PayloadHeader) -> None:
        with lock:
            if topic not in first:
                first[topic] = time.time()
                if len(first) == len(names):
                    emit('all_heard', t=time.time())
            if win['on']:
                seqs[topic].add(int(msg.seq))

    def on_tuple(msg: SyncedTuple) -> None:
        with lock:
            present = sum(1 for m in msg.members if m.present)
            if state['full'] is None and present == len(names):
                state['full'] = time.time()
                emit('full_tuple', t=state['full'])
            if win['on']:
                win['tuples'] += 1
                win['members'] += len(msg.members)
                win['present'] += present
                win['fresh'] += sum(1 for m in msg.members
                                    if m.state == SyncMember.STATE_FRESH)

    for t in names:
        node.create_subscription(PayloadHeader, t, lambda m, t=t: on_header(t, m), HEADER_QOS)
    node.create_subscription(SyncedTuple, '/so/synced', on_tuple, OUTPUT_QOS)
    spin_in_background(node)
    emit('ready')
    for cmd in read_commands():
        with lock:
            if cmd.get('cmd') == 'window':
                win.update(on=True, tuples=0, members=0, fresh=0, present=0)
                for s in seqs.values():
                    s.clear()
                emit('window', t=time.time())
            elif cmd.get('cmd') == 'report':
                win['on'] = False
                lost = {t: (max(s) - min(s) + 1 - len(s)) if s else -1
                        for t, s in seqs.items()}
                emit('report', t=time.time(), lost=lost,
                     received={t: len(s) for t, s in seqs.items()}, **{
                         k: v for k, v in win.items() if k != 'on'})
    return child_exit()


def log_time(procs: NodeProcs, name: str, needle: str) -> Optional[float]:
    """Return the wall-clock stamp of the first log line of ``name`` containing ``needle``."""
    for line in procs.log(name).splitlines():
        if needle in line:
            m = STAMP.search(line)
            if m:
                return float(m.group(1))
    return None


def cpu_seconds(pids: Sequence[int]) -> float:
    """Return user + system CPU seconds of ``pids`` (children included)."""
    total = 0.0
    tick = os.sysconf('SC_CLK_TCK')
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_mode(args: argparse.Namespace, mode: str) -> Dict[str, Any]:
    """Run one discovery mode; return its measurements."""
    tmp = tempfile.mkdtemp(prefix=f'edgeserve_scale_{mode}_')
    port = 11800 + args.domain_id
    env: Dict[str, str] = {}
    server = None
    if mode == 'server':
        venv_bin = os.path.dirname(sys.executable)
        env = {'ROS_DISCOVERY_SERVER': f'127.0.0.1:{port}'}
        server = subprocess.Popen(
            ['fastdds', 'discovery', '-i', '0', '-l', '127.0.0.1', '-p', str(port)],
            env=dict(os.environ, PATH=venv_bin + os.pathsep + os.environ.get('PATH', '')),
            stdout=open(os.path.join(tmp, 'server.log'), 'w'), stderr=subprocess.STDOUT,
            start_new_session=True)
        time.sleep(2.0)
        if server.poll() is not None:
            raise RuntimeError(f'discovery server exited; see {tmp}/server.log')
    procs = NodeProcs(args.domain_id, log_dir=tmp, env=env)
    listener = None
    names = topics(args.hosts)
    out: Dict[str, Any] = {'mode': mode, 'hosts': args.hosts}
    try:
        listener = JsonChild(self_argv(__file__, 'listener', ['--n', args.hosts]),
                             env=dict(procs.env), name='listener')
        listener.expect('ready', 120.0)
        procs.start('edgeserve_ros.sync.sync_node', 'so_sync', streams=names,
                    period=args.period, max_skew=args.period / 2, max_age=5.0,
                    policy='impute', output_topic='/so/synced', queue_size=8)
        t_launch = time.time()
        for i, t in enumerate(names):
            procs.start('edgeserve_ros.dataplane.source_node', f'so_source{i}', stream=t,
                        pattern='array', payload_bytes=64, rate_hz=args.rate,
                        delivery='lazy', capacity_bytes=1 << 16, ttl=5.0,
                        publish_metrics=False, stats_period=5.0, seed=i)
        progress(f'{mode}: launched sync + {args.hosts} sources in '
                 f'{time.time() - t_launch:.1f} s')
        got: Dict[str, float] = {}
        deadline = time.time() + 240.0
        while len(got) < 2 and time.time() < deadline:
            msg = listener.get(1.0)
            if msg and msg.get('kind') in ('all_heard', 'full_tuple'):
                got[msg['kind']] = msg['t']
        ups = [log_time(procs, f'so_source{i}', 'streaming') for i in range(args.hosts)]
        ups.append(log_time(procs, 'so_sync', 'synchronizing'))
        known = [u for u in ups if u is not None]
        t_up = max(known) if known else float('nan')
        out.update(processes_up_s=t_up - t_launch, nodes_logged_up=len(known),
                   discovery_sync_s=got.get('full_tuple', float('nan')) - t_up,
                   discovery_listener_s=got.get('all_heard', float('nan')) - t_up)
        progress(f'{mode}: all {len(known)} nodes up {t_up - t_launch:.1f} s after launch; '
                 f'sync matched all {args.hosts} after {fmt(out["discovery_sync_s"], 2)} s, '
                 f'listener after {fmt(out["discovery_listener_s"], 2)} s')
        time.sleep(2.0)
        pids = [p.pid for p in procs.procs.values()] + [listener.proc.pid]
        cpu0 = cpu_seconds(pids)
        listener.send(cmd='window')
        w = listener.expect('window', 30.0)
        time.sleep(args.seconds)
        listener.send(cmd='report')
        r = listener.expect('report', 30.0)
        span = r['t'] - w['t']
        cpu = cpu_seconds(pids) - cpu0
        lost = [v for v in r['lost'].values() if v >= 0]
        silent = sum(1 for v in r['lost'].values() if v < 0)
        out.update(window_s=span, headers_received=sum(r['received'].values()),
                   headers_lost=sum(lost), streams_silent=silent,
                   tuples_per_s=r['tuples'] / span,
                   fresh_fraction=r['fresh'] / r['members'] if r['members'] else float('nan'),
                   present_fraction=(r['present'] / r['members'] if r['members']
                                     else float('nan')),
                   cpu_per_s=cpu / span,
                   error_lines=sum(len(v) for v in procs.error_lines().values()),
                   dead=len(procs.dead()))
        progress(f'{mode}: {out["headers_received"]} headers in {span:.1f} s, lost '
                 f'{out["headers_lost"]}, {fmt(out["tuples_per_s"], 2)} tuples/s, fresh '
                 f'{fmt(out["fresh_fraction"], 3)}, CPU {fmt(out["cpu_per_s"], 2)} cores')
    finally:
        if listener is not None:
            listener.stop(3.0)
        procs.close(15.0)
        if server is not None:
            try:
                os.killpg(server.pid, signal.SIGINT)
                server.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    return out


def report(args: argparse.Namespace, rows: List[Dict[str, Any]], elapsed: float) -> None:
    """Write md, CSV and plot."""
    cols = ['mode', 'hosts', 'processes_up_s', 'nodes_logged_up', 'discovery_sync_s',
            'discovery_listener_s', 'window_s', 'headers_received', 'headers_lost',
            'streams_silent', 'tuples_per_s', 'fresh_fraction', 'present_fraction',
            'cpu_per_s', 'error_lines', 'dead']
    write_csv(args.name, cols, [[r.get(c, '') for c in cols] for r in rows])
    by = {r['mode']: r for r in rows}
    targets = [(f'{m}: headers lost = 0 ({args.hosts} hosts)', str(by[m]['headers_lost']),
                by[m]['headers_lost'] == 0 and by[m]['streams_silent'] == 0) for m in by]
    targets += [(f'{m}: sync matched all {args.hosts} publishers (discovery time)',
                 f'{fmt(by[m]["discovery_sync_s"], 2)} s', by[m]['discovery_sync_s']
                 == by[m]['discovery_sync_s']) for m in by]
    table = md_table(
        ['mode', 'hosts', 'nodes up after launch s', 'discovery: sync s',
         'discovery: listener s', 'headers received', 'headers lost', 'tuples/s',
         'fresh members', 'CPU cores'],
        [[r['mode'], r['hosts'], fmt(r['processes_up_s'], 1), fmt(r['discovery_sync_s'], 2),
          fmt(r['discovery_listener_s'], 2), r['headers_received'], r['headers_lost'],
          fmt(r['tuples_per_s'], 2), fmt(r['fresh_fraction'], 3), fmt(r['cpu_per_s'], 2)]
         for r in rows])
    sections = [
        ('Targets', targets_table(targets)),
        ('Per discovery mode', table),
        ('Method', (__doc__ or '').split('\n', 2)[2].strip()
         + f'\n\n{args.hosts} sources at {args.rate:g} Hz, sync period {args.period:g} s, '
           f'{args.seconds:g} s window per mode. Run took {elapsed:.0f} s; 1-minute load '
           f'average before it {args.load_before:.2f} (the N nodes themselves load the 2 '
           'cores while they start).'),
    ]
    write_md(args.name, f'Scale-out: {args.hosts} simulated hosts -> one sync_node, simple '
             f'discovery vs discovery server', sections, machine_info())
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    ms = [r['mode'] for r in rows]
    for ax, key, label in zip(axes, ('discovery_sync_s', 'headers_lost', 'cpu_per_s'),
                              ('discovery time (sync), s', 'headers lost', 'CPU cores used')):
        ax.bar(ms, [r[key] for r in rows], color=['tab:blue', 'tab:orange'][:len(rows)])
        ax.set_title(label)
        ax.grid(True, axis='y', alpha=0.3)
    fig.suptitle(f'{args.hosts} simulated hosts -> one sync_node')
    save_figure(fig, args.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or the listener child)."""
    args = parse_args(argv)
    if args.role == 'listener':
        return run_listener(args)
    start = time.monotonic()
    args.load_before = os.getloadavg()[0]
    progress(f'{args.name}: {args.hosts} hosts, modes {args.modes}, domain {args.domain_id}')
    rows = [run_mode(args, m) for m in args.modes.split(',') if m]
    report(args, rows, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
