"""Bad configuration given to real processes: exit code 2, the culprit named, no traceback."""

import os
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.ros
CONFIGS = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies'

CASES = [  # (module, ros arguments, text the error must contain); each crashed before
    ('dataplane.source_node', ['-p', "stream:=''"], 'stream'),
    ('dataplane.source_node', ['-p', 'stream:=bad name!'], 'stream'),
    ('dataplane.consumer_node', ['-p', "streams:=['bad topic!']"], 'streams'),
    ('dataplane.source_node', ['-p', 'mcap_path:=/nonexistent/dir/x.mcap'], 'mcap_path'),
    ('dataplane.source_node', ['-p', "stream:=['unclosed"], 'parameter override'),
    ('gateway.topic_gateway_node', ['-p', 'input_type:=no/msg/Such'], 'input_type'),
    ('sync.sync_node', ['-p', "streams:=['/a', '/a']"], 'streams'),
]


def _run(argv, domain_id):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, ROS_DOMAIN_ID=str(domain_id)))


@pytest.mark.parametrize('module,ros_args,culprit', CASES,
                         ids=[f'{m}:{a[-1][:20]}' for m, a, _ in CASES])
def test_node_exits_2_naming_the_parameter(module, ros_args, culprit, domain_id):
    proc = _run([sys.executable, '-m', f'edgeserve_ros.{module}', '--ros-args', *ros_args],
                domain_id)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert culprit in output and 'Traceback' not in output, output


def test_topology_runner_exits_2_on_bad_weights(domain_id, tmp_path):
    doc = yaml.safe_load((CONFIGS / 'har.yaml').read_text())
    doc['decentralized']['ensemble']['weights'] = [1, 'heavy']
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(doc))
    proc = _run([sys.executable, '-m', 'edgeserve_ros.topology.run', str(path)], domain_id)
    assert proc.returncode == 2, proc.stderr
    assert 'decentralized.ensemble.weights[1]' in proc.stderr, proc.stderr
    assert 'Traceback' not in proc.stderr
