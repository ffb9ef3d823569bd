"""Ctrl-C reaches a launched node twice (terminal and launch): exit 0, never a traceback."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import wait_for
from launched import Launched

pytestmark = pytest.mark.ros
# nodes busy taking messages when the signals come (shared_queue_node crashed in take_message)
NODES = {
    'shared_queue_node': ('edgeserve_ros.models.shared_queue_node',
                          ['-p', 'input:=/ctrlc/s', '-p', 'input_kind:=stream']),
    'sync_node': ('edgeserve_ros.sync.sync_node', ['-p', 'streams:=[/ctrlc/s]']),
    'consumer_node': ('edgeserve_ros.dataplane.consumer_node', ['-p', 'streams:=[/ctrlc/s]']),
}


def test_two_sigints_while_busy_end_every_node_cleanly(domain_id):
    env = {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'}
    source = subprocess.Popen(
        [sys.executable, '-m', 'edgeserve_ros.dataplane.source_node', '--ros-args', '-p',
         'stream:=/ctrlc/s', '-p', 'rate_hz:=1000.0', '-p', 'delivery:=eager'],
        env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = {name: Launched([sys.executable, '-m', module, '--ros-args', *args], env)
            for name, (module, args) in NODES.items()}
    try:
        for name, run in runs.items():  # each has logged: it runs (not still importing)
            assert run.wait_for(lambda lines: any('[INFO]' in x for x in lines), 60), name
        assert wait_for(lambda: source.poll() is None, 1)
        for run in runs.values():  # a second signal during teardown (two back to back merge)
            os.killpg(run.proc.pid, signal.SIGINT)
        time.sleep(0.02)  # not a wait: the gap between the terminal's and launch's SIGINT
        for run in runs.values():
            os.killpg(run.proc.pid, signal.SIGINT)
        codes = {name: run.stop(0, 30) for name, run in runs.items()}  # 0: no third signal
    finally:
        for run in runs.values():
            run.close()
        source.send_signal(signal.SIGINT)
        source.wait(timeout=30)
    for name, run in runs.items():
        assert codes[name] == 0 and 'Traceback' not in run.text(), (name, run.text()[-3000:])
    assert source.returncode == 0
