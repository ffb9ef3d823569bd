"""
Run a topology file as processes: the launch-free twin of ``topology_launch.py``.

    python -m edgeserve_ros.topology.run config/topologies/har.yaml [--netns] [--json]

Both start the nodes of :func:`edgeserve_ros.topology.plan.plan` behind the same start
barrier; this one through :func:`edgeserve_ros.topology.deploy.run_topology`, the launcher
the benchmarks use too. With ``--netns`` every host of the file is a network namespace (root
and iproute2 needed) and DDS goes over UDP. A ``topology_monitor`` process on the first host
prints live predictions and real-time accuracy; the run ends after ``--seconds`` or when
predictions stop.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import sys
from typing import Any, Dict, List, Optional

import yaml

from edgeserve_ros.topology.deploy import DEFAULT_MODELS_DIR, DeployError, run_topology
from edgeserve_ros.topology.spec import parse_topology, TopologyError, TopologySpec

__all__ = ['DEFAULT_MODELS_DIR', 'load', 'main']


def load(path: str, overrides: List[str]) -> TopologySpec:
    """Read and validate a topology file; ``overrides`` are ``key=yaml-value`` pairs."""
    try:
        doc = yaml.safe_load(pathlib.Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TopologyError(f'{path}: {exc}') from None
    for item in overrides:
        key, eq, value = item.partition('=')
        if not eq or not key:
            raise TopologyError(f'{item}: an override is KEY=VALUE, e.g. parallel.workers=2')
        target = doc
        *parents, leaf = key.split('.')
        for part in parents:
            if not isinstance(target, dict):
                break
            if target.get(part) is None:
                target[part] = {}  # e.g. an empty `parallel:` section of the file
            target = target[part]
        if not isinstance(target, dict):
            raise TopologyError(f'{key}: {path} has no mapping to set it in')
        try:
            target[leaf] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise TopologyError(f'{key}: {exc}') from None
    return parse_topology(doc)


def _show(event: Dict[str, Any]) -> None:
    """Print the monitor's progress lines and summary as a table row."""
    if event.get('event') in ('progress', 'summary'):
        print(f'  {"done" if event["event"] == "summary" else "t=":>4}{event["t"]:6.1f} s  '
              f'predictions {event["predictions"]:5d} ({event["rate_hz"]:5.1f}/s)  '
              f'real-time accuracy {event["real_time_accuracy"]:.3f}  '
              f'F1 {event["real_time_f1"]:.3f}  '
              f'{_example(event)}e2e p50 {event["e2e_p50_ms"]:7.1f} ms  '
              f'last {event["last_label"]} (truth {event["last_truth"]})', flush=True)
    if event.get('event') == 'summary' and event.get('account'):
        print('  items: ' + ', '.join(f'{k} {v}' for k, v in event['account'].items()),
              flush=True)


def _example(event: Dict[str, Any]) -> str:
    value = event.get('example_accuracy')
    return f'per-example accuracy {value:.3f}  ' if value is not None else ''


def _print_json(event: Dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def run(spec: TopologySpec, args: argparse.Namespace) -> Dict[str, Any]:
    """Start the topology, relay the monitor until it ends, stop everything."""
    if args.human:
        print(f'{spec.name}: {spec.topology} {spec.workload} topology on {len(spec.hosts)} '
              f'host(s){" (network namespaces)" if args.netns else ""}; waiting for the '
              'nodes...', flush=True)
    return run_topology(spec, domain_id=args.domain_id, models_dir=pathlib.Path(
        args.models_dir), netns=args.netns, seconds=args.seconds, verbose=args.verbose,
        on_event=_show if args.human else _print_json)


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
    except DeployError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0 if summary['predictions'] else 1


if __name__ == '__main__':
    sys.exit(main())
