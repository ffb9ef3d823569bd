"""
Run a topology file as processes: the launch-free twin of ``topology_launch.py``.

    python -m edgeserve_ros.topology.run config/topologies/har.yaml [--netns] [--json]

Both start the nodes of :func:`edgeserve_ros.topology.plan.plan`. With ``--netns`` every
host of the file is a network namespace (root and iproute2 needed) and DDS goes over UDP.
A ``topology_monitor`` process on the first host prints live predictions and real-time
accuracy; the run ends after ``--seconds`` or when predictions stop.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
from typing import Any, Dict, IO, List, Optional

import yaml

from edgeserve_ros.topology.barrier import gated, MONITOR_MODULE, monitor_arguments
from edgeserve_ros.topology.netns import NetnsLab, stop_processes
from edgeserve_ros.topology.plan import plan
from edgeserve_ros.topology.spec import parse_topology, TopologyError, TopologySpec

DEFAULT_MODELS_DIR = pathlib.Path.home() / '.cache' / 'edgeserve_ros' / 'models'


class Launcher:
    """Starts node processes locally, or in one network namespace per host."""

    def __init__(self, spec: TopologySpec, domain_id: int, netns: bool) -> None:
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
        self.lab = NetnsLab(list(spec.hosts), domain_id=domain_id) if netns else None
        self.procs: List[subprocess.Popen] = []

    def __enter__(self) -> 'Launcher':
        if self.lab is not None:
            self.lab.__enter__()
        return self

    def start(self, host: str, argv: List[str], **kw: Any) -> subprocess.Popen:
        """Start ``argv`` on ``host``."""
        if self.lab is not None:
            proc = self.lab.popen(host, argv, env={'ROS_DOMAIN_ID': self.env['ROS_DOMAIN_ID']},
                                  **kw)
        else:
            proc = subprocess.Popen(argv, env=self.env, start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def __exit__(self, *exc: object) -> None:
        stop_processes(self.procs)
        if self.lab is not None:
            self.lab.__exit__(*exc)


def load(path: str, overrides: List[str]) -> TopologySpec:
    """Read and validate a topology file; ``overrides`` are ``key=yaml-value`` pairs."""
    try:
        doc = yaml.safe_load(pathlib.Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TopologyError(f'{path}: {exc}') from None
    for item in overrides:
        key, _, value = item.partition('=')
        target = doc
        *parents, leaf = key.split('.')
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = yaml.safe_load(value)
    return parse_topology(doc)


def _relay(stream: IO[str], human: bool) -> Optional[Dict[str, Any]]:
    """Print the monitor's lines as they come; return its summary."""
    summary = None
    for line in stream:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get('event') == 'summary':
            summary = event
        if not human:
            print(line.rstrip(), flush=True)
        elif event.get('event') in ('progress', 'summary'):
            print(f'  {"done" if event["event"] == "summary" else "t=":>4}{event["t"]:6.1f} s  '
                  f'predictions {event["predictions"]:5d} ({event["rate_hz"]:5.1f}/s)  '
                  f'real-time accuracy {event["real_time_accuracy"]:.3f}  '
                  f'F1 {event["real_time_f1"]:.3f}  '
                  f'{_example(event)}e2e p50 {event["e2e_p50_ms"]:7.1f} ms  '
                  f'last {event["last_label"]} (truth {event["last_truth"]})', flush=True)
        if human and event.get('event') == 'summary' and event.get('account'):
            print('  items: ' + ', '.join(f'{k} {v}' for k, v in event['account'].items()),
                  flush=True)
    return summary


def _example(event: Dict[str, Any]) -> str:
    value = event.get('example_accuracy')
    return f'per-example accuracy {value:.3f}  ' if value is not None else ''


def run(spec: TopologySpec, args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    """Start the topology, relay the monitor until it ends, stop everything."""
    from edgeserve_ros.workloads.prepare import models_file
    models = models_file(spec, pathlib.Path(args.models_dir))
    nodes = gated(spec, plan(spec, str(models)))
    py = sys.executable
    with Launcher(spec, args.domain_id, args.netns) as launcher:
        monitor = launcher.start(spec.hosts[0], [
            py, '-m', MONITOR_MODULE, *monitor_arguments(spec, nodes, args.seconds)],
            stdout=subprocess.PIPE, text=True)
        assert monitor.stdout is not None
        log = [] if args.verbose else ['--log-level', 'warn']
        for node in nodes:
            launcher.start(node.host, [py, '-m', node.module, *node.ros_args(), *log])
        if args.human:
            print(f'{spec.name}: {spec.topology} {spec.workload} topology, {len(nodes)} nodes on '
                  f'{len(set(n.host for n in nodes))} host(s)'
                  f'{" (network namespaces)" if args.netns else ""}; waiting for them...',
                  flush=True)
        return _relay(monitor.stdout, args.human)


def main(argv: Optional[List[str]] = None) -> int:
    """Run a topology file; exit 2 on an invalid file, 1 when no prediction came."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('config', help='topology YAML file')
    parser.add_argument('--netns', action='store_true', help='one network namespace per host')
    parser.add_argument('--seconds', type=float, default=20.0, help='how long to run')
    parser.add_argument('--domain-id', type=int, default=43, help='ROS_DOMAIN_ID')
    parser.add_argument('--models-dir', default=str(DEFAULT_MODELS_DIR),
                        help='where trained models are cached')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override a key of the file, e.g. --set topology=parallel')
    parser.add_argument('--json', dest='human', action='store_false',
                        help='print the monitor\'s JSON lines instead of a table')
    parser.add_argument('--verbose', action='store_true', help='show the nodes\' info logs')
    args = parser.parse_args(argv)
    try:
        spec = load(args.config, args.set)
    except TopologyError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every node process is stopped
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        summary = run(spec, args)
    except KeyboardInterrupt:
        return 130
    return 0 if summary and summary['predictions'] else 1


if __name__ == '__main__':
    sys.exit(main())
