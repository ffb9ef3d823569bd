"""Synchronizer throughput (pure-Python core) and sync_node added latency (rclpy).

One command: ``bash scripts/dev bench sync_throughput [--quick] [--events N]
[--seconds S] [--cases 100@10,1000@1] [--skip-node]``.

(a) Core: header events/s through :class:`edgeserve_ros.sync.core.Synchronizer` fed the
way ``sync_node`` feeds it (``add`` then ``advance(arrival)`` per header), 4 streams at
1000/500/250/100 Hz, period 10 ms, max_skew 5 ms; without and with clock correction
(``clock='envelope'``, one source's clock 200 ms ahead). Events are generated before
timing; each run stops after ``--events`` events or 10 s, whichever comes first.

(b) Node: 4 real rclpy publishers of ``edgeserve_ros/msg/PayloadHeader`` (one child
process, all 4 topics published back to back every 1/rate s, stamp = wall clock) ->
``sync_node`` (``python -m edgeserve_ros.sync.sync_node``, its own process, period 1 ms,
max_skew 2 ms) -> a subscriber of ``SyncedTuple`` in a third process. Per tuple:
``added = receipt - newest member arrival`` (the node stamps each member's arrival with
its clock = wall clock), split into ``wait = emit_time - newest member arrival`` (the
synchronizer waiting until every stream has a header past the tick, or max_skew) and
``output = receipt - emit_time`` (node work from the completing header's callback,
publishing, DDS delivery to the subscriber).

(c) Floor: the same publishers at 1 kHz into a process that only subscribes the 4 header
topics with an empty callback on rclpy's ``SingleThreadedExecutor``: the CPU that taking
4,000 headers/s costs before any synchronizing, beside (b) in the same run.

Writes ``bench/results/sync_throughput.{md,csv,png}``; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as common  # noqa: E402
from edgeserve_ros.sync.config import StreamSpec, SyncConfig  # noqa: E402
from edgeserve_ros.sync.core import Synchronizer  # noqa: E402
from edgeserve_ros.sync.types import HeaderEvent  # noqa: E402

NAME = 'sync_throughput'
CORE_RATES = (1000.0, 500.0, 250.0, 100.0)
CORE_PERIOD = 0.010
CORE_SKEW = 0.005
CORE_TARGET = 100_000.0
NODE_STREAMS = 4
NODE_SKEW = 0.002
NODE_TARGET_MS = 1.0
DEFAULT_CASES = '100@10,1000@1,1000@10'
DOMAIN_ID = 87
PREFIX = '/bench_sync'


# -- (a) core ---------------------------------------------------------------------------

def core_events(n: int, seed: int, offsets: Sequence[float]) -> List[HeaderEvent]:
    """Return about ``n`` header events of 4 mixed-rate streams, in arrival order."""
    rnd = random.Random(seed)
    total = sum(CORE_RATES)
    seconds = n / total
    events: List[HeaderEvent] = []
    for i, (rate, offset) in enumerate(zip(CORE_RATES, offsets)):
        name = f'/c{i}'
        t = rnd.uniform(0.0, 1.0 / rate)
        seq = 0
        last = 0.0
        while t < seconds:
            last = max(last, t + 0.001 + rnd.expovariate(1000.0))
            events.append(HeaderEvent(name, seq, t + offset, last))
            seq += 1
            t += (1.0 / rate) * rnd.uniform(0.9, 1.1)
    events.sort(key=lambda e: e.arrival)
    return events[:n]


def run_core(events: Sequence[HeaderEvent], clock: str, max_seconds: float
             ) -> Dict[str, float]:
    """Feed ``events`` like ``sync_node`` does; return events/s and tuples/s of wall time."""
    cfg = SyncConfig(period=CORE_PERIOD, max_skew=CORE_SKEW, max_age=0.5, policy='impute',
                     streams=tuple(StreamSpec(f'/c{i}') for i in range(len(CORE_RATES))),
                     queue_size=64, clock=clock)
    sync = Synchronizer(cfg, events[0].arrival)
    add, advance = sync.add, sync.advance
    tuples = 0
    done = 0
    chunk = 10_000
    t0 = time.perf_counter()
    deadline = t0 + max_seconds
    for start in range(0, len(events), chunk):
        for e in events[start:start + chunk]:
            add(e)
            tuples += len(advance(e.arrival))
        done = min(start + chunk, len(events))
        if time.perf_counter() > deadline:
            break
    wall = time.perf_counter() - t0
    return {'events': done, 'wall_s': wall, 'events_per_s': done / wall,
            'tuples': tuples, 'tuples_per_s': tuples / wall,
            'sim_s': events[done - 1].arrival - events[0].arrival,
            'us_per_event': 1e6 * wall / done}


# -- (b) node: children -----------------------------------------------------------------

def role_pub(rate: float, n: int) -> int:
    """Child: publish ``n`` PayloadHeader streams at ``rate`` Hz on command."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS
    from edgeserve_ros.ros.timeconv import from_sec

    rclpy.init()
    node = Node('bench_sync_pub')
    pubs = [node.create_publisher(PayloadHeader, f'{PREFIX}/s{i}', HEADER_QOS)
            for i in range(n)]
    msgs = []
    for i in range(n):
        m = PayloadHeader(stream=f'{PREFIX}/s{i}', size=1024,
                          content_type='application/octet-stream',
                          fetch_service='/bench_sync_pub/fetch', host_id='bench')
        msgs.append(m)
    common.emit('ready')
    for cmd in common.read_commands():
        if cmd.get('cmd') != 'go':
            continue
        seconds = float(cmd['seconds'])
        interval = 1.0 / rate
        start = time.time() + 0.01
        k = 0
        late = []
        while True:
            due = start + k * interval
            if due > start + seconds:
                break
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            late.append(time.time() - due)
            for pub, m in zip(pubs, msgs):
                m.seq = k
                m.header.stamp = from_sec(time.time())
                pub.publish(m)
            k += 1
        late.sort()
        common.emit('done', rounds=k, seconds=seconds,
                    late_p50_ms=1e3 * late[len(late) // 2],
                    late_p99_ms=1e3 * late[int(0.99 * (len(late) - 1))])
    return common.child_exit(0)


def _spin_ready(node: Any) -> None:
    """Spin ``node`` on a ``SingleThreadedExecutor`` thread; tell the parent it is ready."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    common.emit('ready')


def role_sub() -> int:
    """Child: record every SyncedTuple's receipt time, emit time and member arrivals."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import SyncedTuple
    from edgeserve_ros.ros.qos import OUTPUT_QOS
    from edgeserve_ros.ros.timeconv import to_sec

    rclpy.init()
    node = Node('bench_sync_sub')
    rec: List[Tuple[float, float, float, float, int, int]] = []
    lock = threading.Lock()
    recording = [False]

    def on_tuple(msg: Any) -> None:
        now = time.time()
        if not recording[0]:
            return
        arrivals = [to_sec(m.arrival) for m in msg.members if m.present]
        fresh = sum(1 for m in msg.members if m.present and m.state == 1)
        with lock:
            rec.append((now, to_sec(msg.emit_time), max(arrivals) if arrivals else now,
                        to_sec(msg.header.stamp), fresh, len(arrivals)))

    node.create_subscription(SyncedTuple, 'synced', on_tuple, OUTPUT_QOS)
    _spin_ready(node)
    for cmd in common.read_commands():
        if cmd.get('cmd') == 'start':
            with lock:
                rec.clear()
            recording[0] = True
            common.emit('started')
        elif cmd.get('cmd') == 'stop':
            recording[0] = False
            with lock:
                rows = list(rec)
            common.emit('samples', rows=rows)
        elif cmd.get('cmd') == 'count':
            with lock:
                common.emit('count', n=len(rec))
    return common.child_exit(0)


def role_floor(n: int) -> int:
    """Child: subscribe ``n`` header topics with an empty callback; report the count."""
    import rclpy
    from rclpy.node import Node

    from edgeserve_ros.msg import PayloadHeader
    from edgeserve_ros.ros.qos import HEADER_QOS

    rclpy.init()
    node = Node('bench_sync_floor')
    count = [0]

    def on_header(_msg: Any) -> None:
        count[0] += 1

    for i in range(n):
        node.create_subscription(PayloadHeader, f'{PREFIX}/s{i}', on_header, HEADER_QOS)
    _spin_ready(node)
    for cmd in common.read_commands():
        if cmd.get('cmd') == 'count':
            common.emit('count', n=count[0])
    return common.child_exit(0)


# -- (b) node: parent -------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of process ``pid`` (0 when unreadable)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(env: Dict[str, str], role: str, args: Sequence[Any], rate: float
              ) -> Tuple[Any, Any]:
    """Start the ``role`` probe child and the publishers at ``rate`` Hz."""
    sub = common.JsonChild(common.self_argv(__file__, role, args), env=env, name=role)
    pub = common.JsonChild(common.self_argv(__file__, 'pub', [rate, NODE_STREAMS]), env=env,
                           name='pub')
    return sub, pub


def _await_ready(sub: Any, pub: Any) -> None:
    """Wait for both children, then for discovery between them."""
    sub.expect('ready', 30.0)
    pub.expect('ready', 30.0)
    time.sleep(2.0)  # discovery


def run_node(rate: float, period: float, seconds: float, warmup: float, log_path: str,
             executor: str = 'single') -> Dict[str, Any]:
    """Run publishers -> sync_node -> subscriber at ``rate`` Hz per stream; return metrics."""
    env = common.child_env(DOMAIN_ID, extra={'EDGESERVE_EXECUTOR': executor})
    streams = '[' + ','.join(f"'{PREFIX}/s{i}'" for i in range(NODE_STREAMS)) + ']'
    log = open(log_path, 'a')
    ros_args = ['-p', f'streams:={streams}', '-p', f'period:={period}',
                '-p', f'max_skew:={NODE_SKEW}', '-p', 'max_age:=0.5', '-p', 'policy:=impute',
                '-p', 'queue_size:=64', '-p', 'output_topic:=synced']
    argv = [sys.executable, '-m', 'edgeserve_ros.sync.sync_node', '--ros-args', *ros_args]
    node = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    sub, pub = _children(env, 'sub', [], rate)
    try:
        _await_ready(sub, pub)
        if node.poll() is not None:
            raise RuntimeError(f'sync_node exited ({node.returncode}); see {log_path}')
        pub.send(cmd='go', seconds=warmup + seconds + 0.5)
        time.sleep(warmup)
        sub.send(cmd='start')
        sub.expect('started', 10.0)
        pids = (node.pid, pub.proc.pid, sub.proc.pid)
        load = os.getloadavg()[0]
        cpu0, t0 = [_cpu_seconds(p) for p in pids], time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = [_cpu_seconds(p) for p in pids], time.monotonic()
        cpu = [100.0 * (b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1)]
        sub.send(cmd='stop')
        rows = sub.expect('samples', 60.0)['rows']
        done = pub.expect('done', 30.0)
    finally:
        pub.stop()
        sub.stop()
        node.terminate()
        try:
            node.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        log.close()
    if not rows:
        raise RuntimeError(f'no tuples received at {rate:g} Hz; see {log_path}')
    added = sorted(1e3 * (r[0] - r[2]) for r in rows)
    wait = sorted(1e3 * (r[1] - r[2]) for r in rows)
    out = sorted(1e3 * (r[0] - r[1]) for r in rows)
    at_deadline = sum(1 for r in rows if r[1] - r[3] >= NODE_SKEW - 1e-6)
    p = common.percentile
    return {
        'rate_hz': rate, 'period_ms': 1e3 * period, 'executor': executor, 'load1_before': load,
        'tuples': len(rows), 'tuples_per_s': len(rows) / seconds,
        'ticks_served_pct': 100.0 * len(rows) / (seconds / period),
        'all_fresh_pct': 100.0 * sum(1 for r in rows if r[4] == NODE_STREAMS) / len(rows),
        'deadline_pct': 100.0 * at_deadline / len(rows),
        'added_p50_ms': p(added, 50), 'added_p99_ms': p(added, 99), 'added_max_ms': added[-1],
        'wait_p50_ms': p(wait, 50), 'wait_p99_ms': p(wait, 99),
        'output_p50_ms': p(out, 50), 'output_p99_ms': p(out, 99), 'output_max_ms': out[-1],
        'node_cpu_pct': cpu[0], 'pub_cpu_pct': cpu[1], 'sub_cpu_pct': cpu[2],
        'pub_rounds_per_s': done['rounds'] / done['seconds'],
        'pub_late_p99_ms': done['late_p99_ms'],
        '_added': added, '_output': out,
    }


def run_floor(rate: float, seconds: float, warmup: float) -> Dict[str, Any]:
    """Run the publishers at ``rate`` Hz into empty callbacks; return their CPU per header."""
    env = common.child_env(DOMAIN_ID)
    sub, pub = _children(env, 'floor', [NODE_STREAMS], rate)
    try:
        _await_ready(sub, pub)
        pub.send(cmd='go', seconds=warmup + seconds + 0.5)
        time.sleep(warmup)
        sub.send(cmd='count')
        n0 = sub.expect('count', 10.0)['n']
        cpu0, t0 = _cpu_seconds(sub.proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = _cpu_seconds(sub.proc.pid), time.monotonic()
        sub.send(cmd='count')
        n1 = sub.expect('count', 10.0)['n']
        pub.expect('done', 30.0)
    finally:
        pub.stop()
        sub.stop()
    got = n1 - n0
    return {'rate_hz': rate, 'headers_per_s': got / (t1 - t0),
            'cpu_pct': 100.0 * (cpu1 - cpu0) / (t1 - t0),
            'us_per_header': 1e6 * (cpu1 - cpu0) / max(got, 1)}


# -- report -----------------------------------------------------------------------------

def _case(r: Dict[str, Any]) -> str:
    """Return the label of one node case, e.g. ``4 x 1000 Hz, 1 ms``."""
    multi = ', MultiThreadedExecutor' if r['executor'] == 'multi' else ''
    return f'4 x {r["rate_hz"]:g} Hz, {r["period_ms"]:g} ms{multi}'


def plot(core: List[Dict[str, Any]], nodes: List[Dict[str, Any]]) -> str:
    """Write core events/s bars and node latency CDFs; return the path."""
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2 if nodes else 1, figsize=(12 if nodes else 6, 4.5),
                             squeeze=False)
    ax = axes[0][0]
    ax.bar([c['label'] for c in core], [c['events_per_s'] / 1e3 for c in core],
           color=['tab:blue', 'tab:orange'][:len(core)])
    ax.axhline(CORE_TARGET / 1e3, color='k', ls='--', lw=0.8, label='target 100k/s')
    ax.set_ylabel('header events/s (thousands)')
    ax.set_title('(a) pure-Python core, 4 streams')
    ax.legend()
    if nodes:
        ax = axes[0][1]
        for r in nodes:
            for key, style in (('_added', '-'), ('_output', ':')):
                xs = r[key]
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.plot(xs, ys, style, label=f'{_case(r)}: '
                        f'{"added" if key == "_added" else "output"}')
        ax.axvline(NODE_TARGET_MS, color='k', ls='--', lw=0.8)
        ax.set_xscale('log')
        ax.set_xlabel('latency (ms, log)')
        ax.set_ylabel('CDF')
        ax.set_title('(b) sync_node: added (solid) and output (dotted) latency')
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    path = common.save_figure(fig, NAME)
    return path


def report(core: List[Dict[str, Any]], nodes: List[Dict[str, Any]], node_note: str,
           args: argparse.Namespace, floor: Optional[Dict[str, Any]] = None) -> None:
    """Write the md and csv files."""
    f = common.fmt
    csv_rows = [['core', c['label'], 'events_per_s', c['events_per_s']] for c in core]
    csv_rows += [['core', c['label'], k, c[k]] for c in core
                 for k in ('events', 'wall_s', 'tuples_per_s', 'us_per_event', 'sim_s')]
    for r in nodes:
        csv_rows += [['node', _case(r), k, v] for k, v in r.items()
                     if not k.startswith('_')]
    if floor is not None:
        csv_rows += [['floor', f'4 x {floor["rate_hz"]:g} Hz', k, v] for k, v in floor.items()]
    common.write_csv(NAME, ['part', 'case', 'metric', 'value'], csv_rows)
    core_table = common.md_table(
        ['clock correction', 'events', 'wall s', 'events/s', 'us/event', 'tuples/s (wall)',
         'simulated s'],
        [(c['label'], c['events'], f(c['wall_s'], 2), f'{c["events_per_s"]:,.0f}',
          f(c['us_per_event'], 2), f'{c["tuples_per_s"]:,.0f}', f(c['sim_s'], 1))
         for c in core])
    targets = [(f'core: >= {CORE_TARGET:,.0f} header events/s ({c["label"]})',
                f'{c["events_per_s"]:,.0f}/s', c['events_per_s'] >= CORE_TARGET)
               for c in core]
    sections = [('(a) Core throughput', f"""
Pure-Python `Synchronizer`, 4 streams at {'/'.join(f'{r:g}' for r in CORE_RATES)} Hz
(intervals +-10%, arrival = stamp + 1 ms + Exp(mean 1 ms)), period {CORE_PERIOD * 1e3:g} ms,
max_skew {CORE_SKEW * 1e3:g} ms, max_age 0.5 s, policy impute, queue 64; per event
`add(e)` then `advance(e.arrival)` as `sync_node` does. Envelope clock correction: stream
`/c1`'s clock 200 ms ahead. One process, one thread; wall time from `time.perf_counter`.

{core_table}
""")]
    if nodes:
        node_table = common.md_table(
            ['streams, period', 'tuples/s', '% ticks served', '% all 4 fresh', '% at deadline',
             'added p50 / p99 / max (ms)', 'wait p50 / p99 (ms)',
             'output p50 / p99 / max (ms)', 'CPU % node / pub / sub',
             'pub rounds/s (late p99 ms)', 'load avg before'],
            [(_case(r), f(r['tuples_per_s'], 0), f(r['ticks_served_pct'], 1),
              f(r['all_fresh_pct'], 1), f(r['deadline_pct'], 1),
              f'{f(r["added_p50_ms"], 3)} / {f(r["added_p99_ms"], 3)} / '
              f'{f(r["added_max_ms"], 1)}',
              f'{f(r["wait_p50_ms"], 3)} / {f(r["wait_p99_ms"], 3)}',
              f'{f(r["output_p50_ms"], 3)} / {f(r["output_p99_ms"], 3)} / '
              f'{f(r["output_max_ms"], 1)}',
              f'{f(r["node_cpu_pct"], 0)} / {f(r["pub_cpu_pct"], 0)} / '
              f'{f(r["sub_cpu_pct"], 0)}',
              f'{f(r["pub_rounds_per_s"], 0)} ({f(r["pub_late_p99_ms"], 2)})',
              f(r['load1_before'], 2))
             for r in nodes])
        body = f"""
4 rclpy publishers of `PayloadHeader` (one process; each round publishes the 4 topics back
to back, stamp = wall clock at publish) -> `python -m edgeserve_ros.sync.sync_node`
(separate process, its `SingleThreadedExecutor` as shipped; streams `{PREFIX}/s0..3`,
period as listed, max_skew {NODE_SKEW * 1e3:g} ms, max_age 0.5 s, impute, queue 64)
-> `SyncedTuple` subscriber (third process, `SingleThreadedExecutor`, receipt =
`time.time()` at callback entry). ROS domain {DOMAIN_ID}, default RMW and transports.
{args.seconds:g} s measured after {args.warmup:g} s of warm-up per case.
`EDGESERVE_EXECUTOR=multi` (`:multi` cases) is not in the default set: rclpy's
`MultiThreadedExecutor` with sync_node's 2 ms timer spent its main thread scanning its task
list (rclpy issue 1223): 709 of 1000 tuples/s with added p50 160 ms at 4 x 1 kHz, and no
tuple at all at 4 x 100 Hz (period 10 ms) in a short run of this script.
rclpy's experimental `EventsExecutor` (Jazzy 7.1.6) is not measured: its `spin()` did not
return after `rclpy.shutdown()` or SIGTERM, and held a core at 100%.

* **added** = receipt - newest member's arrival at the node (`SyncMember.arrival`, node
  clock = wall clock on this host): the brief's definition.
* **wait** = `emit_time` - newest member's arrival: the synchronizer's own wait; a tuple
  for tick T is decided once every stream has delivered a header stamped after T (the
  next header, ~1/rate later) or at T + max_skew, so at 1 kHz this is up to ~1 ms by design.
* **output** = receipt - `emit_time`: node work from the callback of the header that
  completed the tuple (emit_time = that callback's clock reading), building and publishing
  the message, DDS delivery and the subscriber's executor.
* % ticks served = tuples received / (measured s / period); % at deadline = tuples with
  emit_time >= tick + max_skew (decided by timeout, not by completion).

{node_table}
"""
        sections.append(('(b) sync_node added latency', body))
        for r in nodes:
            if r['rate_hz'] == 1000.0 and r['period_ms'] == 1.0:
                what = ('sync_node under a MultiThreadedExecutor (diagnostic)'
                        if r['executor'] == 'multi' else 'sync_node as shipped')
                targets.append((f'node: added latency p99 <= 1 ms at 4 streams x 1 kHz, '
                                f'period 1 ms: {what}',
                                f'{f(r["added_p99_ms"], 3)} ms (output part: '
                                f'{f(r["output_p99_ms"], 3)} ms)',
                                r['added_p99_ms'] <= NODE_TARGET_MS))
    else:
        sections.append(('(b) sync_node added latency', node_note))
    if floor is not None:
        sections.append(('(c) Floor: taking the headers, nothing else', f"""
The publishers of (b) at {floor['rate_hz']:g} Hz per stream into a process whose 4
subscriptions have an empty callback (rclpy `SingleThreadedExecutor`, the executor
`sync_node` ships with), {args.seconds:g} s after {args.warmup:g} s of warm-up, in the
same run as (b): **{f(floor['headers_per_s'], 0)} headers/s took {f(floor['cpu_pct'], 0)} %
of a core, {f(floor['us_per_header'], 1)} us of CPU per header** (waking, taking and
deserializing one `PayloadHeader`; deserializing alone is ~18 us). That share of a core is
spent before any synchronizing, and the tuple subscriber of (b) pays the same per tuple.
"""))
    sections.append(('Targets', common.targets_table(targets)))
    common.write_md(NAME, 'Synchronizer throughput and sync_node latency', sections,
                    common.machine_info())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse arguments; run as parent or as a ``--role`` child."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--role', choices=('pub', 'sub', 'floor'), default=None,
                    help=argparse.SUPPRESS)
    ap.add_argument('rest', nargs='*', help=argparse.SUPPRESS)
    ap.add_argument('--quick', action='store_true', help='short run (< 30 s)')
    ap.add_argument('--events', type=int, default=None,
                    help='core events per run (default 1,000,000; 100,000 with --quick)')
    ap.add_argument('--seconds', type=float, default=None,
                    help='node: measured seconds per case (default 15; 4 with --quick)')
    ap.add_argument('--warmup', type=float, default=None,
                    help='node: warm-up seconds per case (default 3; 2 with --quick)')
    ap.add_argument('--cases', default=None,
                    help='node: list of RATE@PERIOD_MS[:multi]: per-stream rate (Hz), sync '
                         'period (ms); ":multi" runs sync_node with EDGESERVE_EXECUTOR=multi '
                         f'(default {DEFAULT_CASES}; 1000@1 with --quick)')
    ap.add_argument('--skip-node', action='store_true', help='run part (a) only')
    args = ap.parse_args(argv)
    if args.role == 'pub':
        return role_pub(float(args.rest[0]), int(args.rest[1]))
    if args.role == 'sub':
        return role_sub()
    if args.role == 'floor':
        return role_floor(int(args.rest[0]))
    n_events = args.events or (100_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (4.0 if args.quick else 15.0)
    args.warmup = args.warmup or (2.0 if args.quick else 3.0)
    cases = []
    for c in (args.cases or ('1000@1' if args.quick else DEFAULT_CASES)
              ).split(','):
        spec, _, executor = c.partition(':')
        rate, _, period = spec.partition('@')
        cases.append((float(rate), float(period) / 1e3, executor or 'single'))
    core = []
    for clock, label, offsets in (('none', 'off', (0.0, 0.0, 0.0, 0.0)),
                                  ('envelope', 'envelope', (0.0, 0.2, 0.0, 0.0))):
        common.progress(f'core: generating {n_events:,} events (clock {clock})')
        events = core_events(n_events, 1, offsets)
        common.progress(f'core: feeding (clock {clock})')
        res = run_core(events, clock, 10.0)
        res['label'] = label
        core.append(res)
        common.progress(f'core: clock {clock}: {res["events"]:,} events in '
                        f'{res["wall_s"]:.2f} s = {res["events_per_s"]:,.0f} events/s')
        del events
    nodes: List[Dict[str, Any]] = []
    note = ''
    floor = None
    if args.skip_node:
        note = 'Not run (`--skip-node`).'
    else:
        log_path = common.result_path(NAME + '_node', 'log')
        open(log_path, 'w').close()
        for rate, period, executor in cases:
            common.progress(f'node: 4 x {rate:g} Hz, period {period * 1e3:g} ms, {executor}, '
                            f'{args.warmup:g} s warm-up + {args.seconds:g} s')
            r = run_node(rate, period, args.seconds, args.warmup, log_path, executor)
            nodes.append(r)
            common.progress(f'node: {_case(r)}: '
                            f'{r["tuples_per_s"]:.0f} tuples/s, '
                            f'added p50 {r["added_p50_ms"]:.3f} p99 {r["added_p99_ms"]:.3f} '
                            f'ms, output p50 {r["output_p50_ms"]:.3f} p99 '
                            f'{r["output_p99_ms"]:.3f} ms, node CPU {r["node_cpu_pct"]:.0f}%')
        common.progress(f'floor: 4 x 1000 Hz into empty callbacks, {args.seconds:g} s')
        floor = run_floor(1000.0, args.seconds, args.warmup)
        common.progress(f'floor: {floor["headers_per_s"]:.0f} headers/s, '
                        f'{floor["cpu_pct"]:.0f}% CPU, {floor["us_per_header"]:.1f} us/header')
    plot(core, nodes)
    report(core, nodes, note, args, floor)
    common.progress(f'wrote {common.result_path(NAME, "md")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
