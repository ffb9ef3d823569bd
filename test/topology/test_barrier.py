"""The start barrier that topology.run and topology_launch.py share."""

import json
import os
import pathlib
import re
import subprocess

import pytest

from edgeserve_ros.topology import monitor
from edgeserve_ros.topology.barrier import (gated, MONITOR_EXECUTABLE, MONITOR_MODULE,
                                            monitor_arguments, start_topic)
from edgeserve_ros.topology.plan import plan, readiness
from edgeserve_ros.topology.run import load

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'config' / 'topologies'


def _plan(name, topology):
    spec = load(str(CONFIGS / f'{name}.yaml'), [f'topology={topology}'])
    return spec, plan(spec, 'm.yaml')


@pytest.mark.parametrize('topology', ['centralized', 'parallel', 'decentralized'])
def test_only_the_sources_wait_for_the_start_time(topology):
    spec, nodes = _plan('har', topology)
    waiting = gated(spec, nodes)
    assert [n.name for n in waiting] == [n.name for n in nodes]
    for before, after in zip(nodes, waiting):
        if before.module.endswith('workloads.source_node'):
            assert after.params == {**before.params, 'start_topic': '/har/start',
                                    'wait_subscribers': readiness(nodes)[1][
                                        before.params['stream']]}
            assert after.params['wait_subscribers'] >= 1
        else:
            assert after == before
    assert 'start_topic' not in nodes[0].params  # the plan itself is left as it was


def test_monitor_accepts_the_barrier_arguments():
    spec, nodes = _plan('nids', 'parallel')
    args, rest = monitor.arguments().parse_known_args(
        monitor_arguments(spec, nodes, 1e9, idle=1e9, startup=1e9) + ['--ros-args'])
    assert rest == ['--ros-args']
    assert args.start_topic == start_topic(spec) == '/nids/start'
    assert args.seconds == args.idle == args.startup == 1e9
    assert json.loads(args.need) == [dict(d) for d in readiness(nodes)]
    assert args.sources == 4  # every NIDS source host must report its writer matched


def test_every_planned_executable_is_installed_for_ros2_run():
    # topology_launch.py starts nodes by executable name: CMakeLists.txt must install each
    entries = re.findall(r'"(\w+)=([\w.]+)"', (ROOT / 'CMakeLists.txt').read_text())
    installed = dict(entries)
    wanted = {MONITOR_EXECUTABLE: MONITOR_MODULE}
    for name in ('har', 'nids', 'qr'):
        for topology in ('centralized', 'parallel', 'decentralized'):
            wanted.update((n.executable, n.module) for n in _plan(name, topology)[1])
    assert {k: installed.get(k) for k in wanted} == wanted


def test_installed_executables_run():
    # `ros2 run edgeserve_ros <name>` runs lib/edgeserve_ros/<name> of the installed package
    packages = pytest.importorskip('ament_index_python.packages')
    lib = pathlib.Path(packages.get_package_prefix('edgeserve_ros')) / 'lib' / 'edgeserve_ros'
    installed = sorted(p.name for p in lib.iterdir())
    assert MONITOR_EXECUTABLE in installed and 'sync_node' in installed
    assert [p for p in installed if not os.access(lib / p, os.X_OK)] == []
    out = subprocess.run([str(lib / MONITOR_EXECUTABLE), '--help'], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and '--start-topic' in out.stdout
    bad = subprocess.run([str(lib / 'sync_node'), '--ros-args', '-p', 'period:=0.0'],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and 'period' in bad.stderr, bad.stderr
