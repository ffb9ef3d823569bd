"""``lazy_stream_launch.py``: a gateway in front of a real Image topic, and ``--show-args``."""

import importlib.util
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import wait_for
from launched import assert_clean_exit, Launched

pytestmark = [pytest.mark.ros, pytest.mark.skipif(shutil.which('ros2') is None,
                                                  reason='ros2 CLI not installed')]
LAUNCH = pathlib.Path(__file__).resolve().parents[2] / 'launch'
PROGRESS = re.compile(r'\[consumer_node\]: headers (\d+), fetched (\d+) .* failed \{\}')


def _fetched(lines):
    return max([int(m.group(2)) for m in map(PROGRESS.search, lines) if m] or [0])


@pytest.mark.parametrize('source', ['gateway', 'builtin'])
def test_lazy_stream_fetches_and_stops_cleanly(source, domain_id, ros_context, spinner):
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    node = spinner.add(Node('camera', context=ros_context))
    pub = node.create_publisher(Image, '/test/camera/image_raw', 10)
    frame = Image(height=48, width=64, encoding='rgb8', step=64 * 3, data=bytes(48 * 64 * 3))
    node.create_timer(0.05, lambda: pub.publish(frame))
    run = Launched(['ros2', 'launch', 'edgeserve_ros', 'lazy_stream_launch.py',
                    f'source:={source}', 'input_topic:=/test/camera/image_raw',
                    'stream:=/test/camera/lazy', 'every_k:=2', 'delivery:=lazy'],
                   {'ROS_DOMAIN_ID': str(domain_id)})
    try:
        if source == 'gateway':  # the gateway subscribes to the existing topic
            assert wait_for(lambda: pub.get_subscription_count() > 0, 60), run.text()
        assert run.wait_for(lambda lines: _fetched(lines) >= 3, 60), run.text()[-4000:]
        rc = run.interrupt()
    finally:
        run.close()
    assert_clean_exit(run, rc)
    source_node = 'topic_gateway_node' if source == 'gateway' else 'source_node'
    names = set(re.findall(r'\[INFO\] \[(\w+)-\d+\]: process started', run.text()))
    assert names == {source_node, 'consumer_node'}, run.text()


def _declared(path):
    """Return {name: description} of the launch arguments ``path`` declares."""
    from launch.actions import DeclareLaunchArgument

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {a.name: a.description for a in module.generate_launch_description().entities
            if isinstance(a, DeclareLaunchArgument)}


@pytest.mark.parametrize('name', sorted(p.name for p in LAUNCH.glob('*_launch.py')))
def test_show_args_describes_every_argument(name):
    declared = _declared(LAUNCH / name)
    out = subprocess.run(['ros2', 'launch', 'edgeserve_ros', name, '--show-args'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    shown = dict(re.findall(r"^    '(\w+)':\n        (.+)$", out.stdout, re.M))
    assert set(shown) == set(declared) and len(declared) >= 4, (shown, declared)
    for arg, description in declared.items():
        assert description and shown[arg].startswith(description[:40]), (arg, shown[arg])
