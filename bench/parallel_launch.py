"""Shared launcher of ``parallel_speedup``, ``nids_topologies`` and ``qr_cameras`` (no benchmark).

:func:`run_topology` starts the nodes of :func:`edgeserve_ros.topology.plan.plan` for one
topology (optionally one network namespace per host, optionally with a shaped link), the
way ``python -m edgeserve_ros.topology.run`` does, but

- with any models YAML (e.g. a ``fixed_delay`` model under the central model's name),
- starting the sources with the other nodes, item 0 due ``lead`` seconds later, and
  checking that *every* model node / worker / sync node is discovered before then (so a
  late worker does not look like a slow one),
- with a bench monitor (this file with ``--role monitor``, built on
  :class:`edgeserve_ros.topology.monitor.Monitor`) that reports the arrival time of every
  prediction, so throughput is ``(n - 1) / (last - first)`` over the completions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from _common import child_exit, emit, JsonChild, progress

from edgeserve_ros.topology.netns import NetnsLab, stop_processes
from edgeserve_ros.topology.plan import LABELS_TOPIC, plan, predictions_topic, readiness
from edgeserve_ros.topology.spec import TopologySpec

SCRIPT = os.path.abspath(__file__)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so the launcher's cleanup (``finally``) runs."""
    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _raise)


def run_topology(spec: TopologySpec, models_path: str, *, domain_id: int,
                 netns: bool = False, shape: Optional[Mapping[str, float]] = None,
                 expect: int = 0, idle: float = 3.0, timeout: float = 180.0,
                 lead: float = 12.0,
                 extra_params: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 ) -> Dict[str, Any]:
    """Run ``spec`` once; return the monitor's summary plus ``start_time`` and node counts.

    :param spec: the topology.
    :param models_path: models YAML given to every model node and worker.
    :param domain_id: ``ROS_DOMAIN_ID`` of every process.
    :param netns: one network namespace per host (UDP DDS between hosts).
    :param shape: ``{host: Mbit/s}`` tbf limits (needs ``netns``).
    :param expect: stop after this many predictions (0: only on ``idle``/``timeout``).
    :param idle: stop after this many seconds without a prediction (once one came).
    :param timeout: give up after this many seconds.
    :param lead: seconds from launching the nodes to the sources' item 0.
    :param extra_params: ``{node name: {param: value}}`` added to planned nodes.
    """
    nodes = plan(spec, models_path)
    for node in nodes:
        node.params.update((extra_params or {}).get(node.name, {}))
    py = sys.executable
    sources = [n for n in nodes if n.module.endswith('workloads.source_node')]
    others = [n for n in nodes if n not in sources]
    need_pub, need_sub = readiness(nodes)  # every node loaded, every input subscribed
    pred = predictions_topic(spec)
    env = {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'}
    procs: List[subprocess.Popen] = []
    lab = NetnsLab(list(spec.hosts), domain_id=domain_id) if netns else None
    monitor: Optional[JsonChild] = None
    try:
        if lab is not None:
            lab.__enter__()
            for host, rate in (shape or {}).items():
                lab.shape(host, rate)

        def start(host: str, argv: List[str], **kw: Any) -> subprocess.Popen:
            if lab is not None:
                proc = lab.popen(host, argv, env=env, **kw)
            else:
                proc = subprocess.Popen(argv, env=dict(os.environ, **env),
                                        start_new_session=True, **kw)
            procs.append(proc)
            return proc

        mon_argv = [py, SCRIPT, '--role', 'monitor', '--predictions', pred, '--labels',
                    LABELS_TOPIC, '--expect', str(expect), '--idle', str(idle),
                    '--timeout', str(timeout), '--need-pub', json.dumps(need_pub),
                    '--need-sub', json.dumps(need_sub)]
        monitor = JsonChild(proc=start(spec.hosts[0], mon_argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, bufsize=1),
                            name='monitor')
        log = [] if os.environ.get('BENCH_VERBOSE') else ['--log-level', 'warn']
        t0 = time.monotonic()
        # Sources start with the other nodes (a source process takes seconds to come up on
        # a loaded 2-core machine); their item 0 is due ``lead`` seconds from now.
        start_at = time.time() + lead
        for node in others:
            start(node.host, [py, '-m', node.module, *node.ros_args(), *log])
        for i, node in enumerate(sources):
            begin = start_at + (0.0 if spec.synchronize else i * 1e-3)
            start(node.host, [py, '-m', node.module, *node.ros_args(),
                              '-p', f'start_time:={begin:.3f}', *log])
        _wait_ready(monitor, procs[1:])
        ready_s = time.monotonic() - t0
        if time.time() > start_at - 0.5:
            progress(f'warning: nodes up {ready_s:.1f} s after launch, lead was {lead:g} s')
        summary = monitor.expect('summary', timeout=timeout + 30.0)
        summary.update(start_time=start_at, ready_s=round(ready_s, 2), nodes=len(nodes))
        return summary
    finally:
        if monitor is not None:
            monitor.stop(timeout=3.0)
        stop_processes(procs)
        if lab is not None:
            lab.__exit__(None, None, None)


def _wait_ready(monitor: JsonChild, nodes: List[subprocess.Popen]) -> None:
    """Wait for the monitor's ``ready``; fail at once when a node process exits."""
    for _ in range(180):
        try:
            monitor.expect('ready', timeout=0.5)
            return
        except TimeoutError:
            dead = [p.args for p in nodes if p.poll() is not None]
            if dead:
                raise RuntimeError(f'a node exited before the topology was up: {dead[0]}')
    raise TimeoutError('the topology did not come up in 90 s')


# -- monitor child ----------------------------------------------------------------------

def run_monitor(args: argparse.Namespace) -> int:
    """Wait for the nodes, then record every prediction until done; print a summary."""
    import rclpy

    from edgeserve_ros.topology.monitor import Monitor

    class BenchMonitor(Monitor):
        """The topology monitor, also keeping each prediction's payload fields we need."""

        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            self.found: List[Optional[bool]] = []
            self.workers: Dict[str, int] = {}

        def _on_prediction(self, msg: Any) -> None:
            super()._on_prediction(msg)
            value = self.last if self.predictions else None
            if value is None:
                return
            extra = value.get('extra') or {}
            self.found.append(value.get('found_in_all', extra.get('found_in_all')))
            worker = value.get('worker')
            if worker:
                self.workers[worker] = self.workers.get(worker, 0) + 1

    rclpy.init(args=[])
    node = BenchMonitor(args.predictions, args.labels)
    need_pub: Dict[str, int] = json.loads(args.need_pub)
    need_sub: Dict[str, int] = json.loads(args.need_sub)
    need_pub.setdefault(args.predictions, 1)
    began = time.monotonic()
    ready = False
    while rclpy.ok() and not ready:
        rclpy.spin_once(node, timeout_sec=0.05)
        ready = (all(node.count_publishers(t) >= n for t, n in need_pub.items())
                 and all(node.count_subscribers(t) >= n for t, n in need_sub.items()))
        if time.monotonic() - began > 85.0:
            break
    time.sleep(0.3)  # discovery of the remaining endpoints (services) settles
    emit('ready' if ready else 'not_ready')
    deadline = time.monotonic() + args.timeout
    last_change, count = time.monotonic(), 0
    while rclpy.ok() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        now = time.monotonic()
        if len(node.predictions) != count:
            count, last_change = len(node.predictions), now
        if args.expect and count >= args.expect:
            break
        if count and now - last_change > args.idle:
            break
    arrivals = [t for t, _ in node.predictions]
    report = node.report(max(arrivals[-1] - arrivals[0], 1e-9) if arrivals else 0.0, 'summary')
    found = [f for f in node.found if f is not None]
    report.update(first=arrivals[0] if arrivals else None,
                  last=arrivals[-1] if arrivals else None,
                  matched=len(node.matched), found_in_all=sum(bool(f) for f in found),
                  found_known=len(found), workers=node.workers)
    emit('summary', **report)
    return child_exit(0)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the monitor child's command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--role', default='monitor', choices=('monitor',))
    p.add_argument('--predictions', required=True)
    p.add_argument('--labels', default=LABELS_TOPIC)
    p.add_argument('--expect', type=int, default=0)
    p.add_argument('--idle', type=float, default=3.0)
    p.add_argument('--timeout', type=float, default=180.0)
    p.add_argument('--need-pub', default='{}')
    p.add_argument('--need-sub', default='{}')
    return p.parse_args(argv)


if __name__ == '__main__':
    sys.exit(run_monitor(parse_args()))
