"""Live synchronization: stock ROS 2 ApproximateTimeSynchronizer vs sync_node, same topics.

One command: ``bash scripts/dev bench sync_live [--seconds S] [--rates 30,30,30]``.

Real processes on one ROS domain (``EDGESERVE_BENCH_DOMAIN``, default 74): a publisher
child sends ``PayloadHeader`` on ``/live/s0..`` (stamp = send time, stream i starting
``i * 4 ms`` late); the ``stock`` child runs ROS 2 ``message_filters`` (``Subscriber`` +
the Python ``ApproximateTimeSynchronizer``, queue 10, slop = ``max_skew``) on those topics;
``edgeserve_ros.sync.sync_node`` runs as its own process on the same topics (period 50 ms,
``max_skew`` 20 ms, policy impute) and a ``probe`` child records its ``SyncedTuple``
output. Freshness is the newest member's age (receipt time - newest member stamp): for the
stock synchronizer at its callback, for sync_node at the probe (one DDS hop more) and, from
the message, at the node's emission. Rate = sets or tuples per second; served ticks = 50 ms
windows holding at least one output. Timings are measured beside other work on a shared
host; the ratio of the two columns comes from the same run.

Writes ``bench/results/sync_live.{md,csv,png}``; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as common  # noqa: E402

NAME = 'sync_live'
PREFIX = '/live'
PERIOD = 0.050
MAX_SKEW = 0.020
QUEUE_SIZE = 10
PHASE = 0.004  # stream i starts i * 4 ms late: a set spans 8 ms, within the slop


def _topics(n: int) -> List[str]:
    return [f'{PREFIX}/s{i}' for i in range(n)]


def role_pub(rates: List[float]) -> int:
    """Child: publish one PayloadHeader stream per rate, stream i ``i * PHASE`` late."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS
    from edgeserve_ros.ros.timeconv import from_sec

    rclpy.init()
    node = Node('live_pub')
    topics = _topics(len(rates))
    pubs = [node.create_publisher(PayloadHeader, t, HEADER_QOS) for t in topics]
    msgs = [PayloadHeader(stream=t, size=1024, content_type='application/octet-stream',
                          fetch_service='/live_pub/fetch', host_id='bench') for t in topics]
    common.emit('ready')
    for cmd in common.read_commands():
        if cmd.get('cmd') != 'go':
            continue
        start = time.time() + 0.01
        end = start + float(cmd['seconds'])
        due = [start + i * PHASE for i in range(len(rates))]
        seq = [0] * len(rates)
        while True:
            i = min(range(len(due)), key=due.__getitem__)
            if due[i] > end:
                break
            delay = due[i] - time.time()
            if delay > 0:
                time.sleep(delay)
            msgs[i].seq = seq[i]
            msgs[i].header.stamp = from_sec(time.time())
            pubs[i].publish(msgs[i])
            seq[i] += 1
            due[i] += 1.0 / rates[i]
        common.emit('done', sent=seq)
    return common.child_exit(0)


def _recorder(kind: str, n: int) -> int:
    """Child: record (receipt, newest stamp[, emit time]) of the stock sets or our tuples."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from edgeserve_ros.msg import PayloadHeader, SyncedTuple
    from edgeserve_ros.ros.qos import HEADER_QOS, OUTPUT_QOS
    from edgeserve_ros.ros.timeconv import to_sec

    rclpy.init()
    node = Node(f'live_{kind}')
    rows: List[List[float]] = []
    lock = threading.Lock()
    recording = [False]
    label = ''
    if kind == 'stock':
        import message_filters
        from importlib import metadata
        label = (f'ROS 2 message_filters {metadata.version("message_filters")} '
                 'ApproximateTimeSynchronizer (python)')
        subs = [message_filters.Subscriber(node, PayloadHeader, t, qos_profile=HEADER_QOS)
                for t in _topics(n)]
        sync = message_filters.ApproximateTimeSynchronizer(subs, QUEUE_SIZE, MAX_SKEW)

        def on_set(*msgs: Any) -> None:
            now = time.time()
            if recording[0]:
                with lock:
                    rows.append([now, max(to_sec(m.header.stamp) for m in msgs), now])

        sync.registerCallback(on_set)
    else:
        def on_tuple(msg: Any) -> None:
            now = time.time()
            stamps = [to_sec(m.stamp) for m in msg.members if m.present]
            if recording[0] and stamps:
                with lock:
                    rows.append([now, max(stamps), to_sec(msg.emit_time)])

        node.create_subscription(SyncedTuple, 'synced', on_tuple, OUTPUT_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    common.emit('ready', label=label)
    for cmd in common.read_commands():
        if cmd.get('cmd') == 'start':
            recording[0] = True
            common.emit('started', t=time.time())
        elif cmd.get('cmd') == 'stop':
            recording[0] = False
            with lock:
                common.emit('samples', rows=list(rows), t=time.time())
    return common.child_exit(0)


def metrics(rows: List[List[float]], begin: float, end: float) -> Dict[str, float]:
    """Rate, newest-member age at receipt and at emission, and % of 50 ms windows served."""
    rows = [r for r in rows if begin <= r[0] < end]
    ages = sorted(1e3 * (r[0] - r[1]) for r in rows)
    emit_ages = sorted(1e3 * (r[2] - r[1]) for r in rows)
    windows = max(int((end - begin) / PERIOD), 1)
    served = {int((r[0] - begin) / PERIOD) for r in rows}

    def mean(v: Sequence[float]) -> float:
        return sum(v) / len(v) if v else float('nan')

    return {'outputs': len(rows), 'per_s': len(rows) / (end - begin),
            'served_pct': 100.0 * len(served) / windows,
            'age_mean_ms': mean(ages),
            'age_p95_ms': float(common.percentile(ages, 95)) if ages else float('nan'),
            'emit_age_mean_ms': mean(emit_ages)}


def run(rates: List[float], seconds: float, log_path: str) -> Dict[str, Any]:
    """Start the processes, publish for ``seconds`` after a warm-up, return both metrics."""
    env = common.child_env(int(os.environ.get('EDGESERVE_BENCH_DOMAIN', '74')))
    streams = '[' + ','.join(f"'{t}'" for t in _topics(len(rates))) + ']'
    log = open(log_path, 'w')
    argv = [sys.executable, '-m', 'edgeserve_ros.sync.sync_node', '--ros-args',
            '-p', f'streams:={streams}', '-p', f'period:={PERIOD}',
            '-p', f'max_skew:={MAX_SKEW}', '-p', 'max_age:=0.5', '-p', 'policy:=impute',
            '-p', f'queue_size:={QUEUE_SIZE}', '-p', 'output_topic:=synced']
    node = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    kids = {k: common.JsonChild(common.self_argv(__file__, k, [len(rates)]), env=env, name=k)
            for k in ('stock', 'probe')}
    pub = common.JsonChild(common.self_argv(__file__, 'pub', [','.join(map(str, rates))]),
                           env=env, name='pub')
    try:
        labels = {k: c.expect('ready', 60.0)['label'] for k, c in kids.items()}
        pub.expect('ready', 60.0)
        time.sleep(3.0)  # discovery
        if node.poll() is not None:
            raise RuntimeError(f'sync_node exited ({node.returncode}); see {log_path}')
        pub.send(cmd='go', seconds=seconds + 3.0)
        time.sleep(2.0)
        begin = max(c.send(cmd='start') or c.expect('started', 10.0)['t']
                    for c in kids.values())
        common.progress(f'recording {seconds:.0f} s ...')
        time.sleep(seconds)
        end = time.time()
        out = {k: metrics(c.send(cmd='stop') or c.expect('samples', 60.0)['rows'], begin, end)
               for k, c in kids.items()}
        sent = pub.expect('done', 60.0)['sent']
    finally:
        pub.stop()
        for c in kids.values():
            c.stop()
        node.terminate()
        try:
            node.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        log.close()
    return {'metrics': out, 'stock_label': labels['stock'], 'sent': sent}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments; run as parent or as a ``--role`` child."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--role', choices=('pub', 'stock', 'probe'), help=argparse.SUPPRESS)
    ap.add_argument('rest', nargs='*', help=argparse.SUPPRESS)
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--rates', default='30,30,30', help='Hz per stream, comma separated')
    args = ap.parse_args(argv)
    if args.role == 'pub':
        return role_pub([float(r) for r in args.rest[0].split(',')])
    if args.role:
        return _recorder(args.role, int(args.rest[0]))
    rates = [float(r) for r in args.rates.split(',')]
    load = os.getloadavg()
    common.progress(f'{len(rates)} streams at {args.rates} Hz, {args.seconds:.0f} s')
    res = run(rates, args.seconds, common.result_path(NAME, 'log'))
    m = res['metrics']
    names = {'stock': 'stock ROS 2 ApproximateTimeSynchronizer', 'probe': 'edgeserve sync_node'}
    cols = ['outputs', 'per_s', 'served_pct', 'age_mean_ms', 'age_p95_ms', 'emit_age_mean_ms']
    common.write_csv(NAME, ['system'] + cols, [[k] + [m[k][c] for c in cols] for k in m])
    f = common.fmt
    table = common.md_table(
        ['system', 'outputs', 'per s', '% 50 ms windows served',
         'newest-member age at receipt, mean / p95 (ms)', 'at emission, mean (ms)'],
        [(names[k], v['outputs'], f(v['per_s'], 1), f(v['served_pct'], 1),
          f'{f(v["age_mean_ms"], 2)} / {f(v["age_p95_ms"], 2)}',
          f(v['emit_age_mean_ms'], 2) if k == 'probe' else 'same (in process)')
         for k, v in m.items()])
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    for ax, (c, label) in zip(axes, [('per_s', 'outputs / s'), ('served_pct', '% served'),
                                     ('age_mean_ms', 'newest age at receipt (ms)')]):
        ax.bar([names[k].split(' ')[0] + ('' if k == 'stock' else ' sync_node') for k in m],
               [m[k][c] for k in m])
        ax.set_title(label)
    common.save_figure(fig, NAME)
    setup = (f'{len(rates)} live PayloadHeader streams at {args.rates} Hz (stream i starts '
             f'i * {PHASE * 1e3:.0f} ms late), '
             f'{args.seconds:.0f} s recorded after 2 s of warm-up; headers sent: '
             f'{res["sent"]}. sync_node: period {PERIOD * 1e3:.0f} ms, max_skew '
             f'{MAX_SKEW * 1e3:.0f} ms, policy impute, queue {QUEUE_SIZE}; stock: '
             f'{res["stock_label"]}, queue {QUEUE_SIZE}, slop {MAX_SKEW * 1e3:.0f} ms. '
             'Ages are receipt (or emission) time minus the newest member stamp, on one '
             "host clock. 2 cores, load average in the machine table; sync_node's "
             'receipt age includes one DDS hop more than the stock callback.')
    common.write_md(NAME, 'Live synchronization: stock ROS 2 ApproximateTime vs sync_node',
                    [('Setup', setup), ('Results', table)],
                    common.machine_info({
                        'command': 'bash scripts/dev bench sync_live',
                        'load average at start (1 / 5 min)': f'{load[0]:.1f} / {load[1]:.1f}',
                        'load average at end (1 / 5 min)':
                            '{:.1f} / {:.1f}'.format(*os.getloadavg()[:2])}))
    for k, v in m.items():
        common.progress(f'{names[k]}: {v["per_s"]:.1f}/s, served {v["served_pct"]:.1f}%, '
                        f'newest age {v["age_mean_ms"]:.2f} ms')
    return 0


if __name__ == '__main__':
    sys.exit(main())
