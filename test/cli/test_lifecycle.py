"""A managed model_node driven by ``ros2 lifecycle``: configure loads, activate subscribes."""

import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'launch'))
from launched import Launched  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.skipif(shutil.which('ros2') is None,
                                                  reason='ros2 CLI not installed')]
NODE = '/lc_model'
INPUT = '/lc/in'


def _models(tmp_path):
    path = tmp_path / 'models.yaml'
    path.write_text(yaml.safe_dump({'models': [
        {'name': 'echo', 'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay',
         'params': {'delay_ms': 0}, 'inputs': [INPUT]}]}))
    return path


def _ros2(env, *args, timeout=120.0):
    return subprocess.run(['ros2', *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **env))


def _until(check, timeout=120.0):
    """Poll ``check()`` (it runs a ros2 verb, so no sleep is needed) until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value


def _state(env):
    return _ros2(env, 'lifecycle', 'get', NODE).stdout.strip()


def _in_state(env, label):
    """Wait until the node reports ``label`` (a fresh CLI process may not find it at once)."""
    return _until(lambda: _state(env).startswith(label))


def _set(env, transition):
    """Request ``transition``; retried only while the CLI did not reach the node."""
    deadline = time.monotonic() + 120.0
    while True:
        out = _ros2(env, 'lifecycle', 'set', NODE, transition)
        text = (out.stdout + out.stderr).strip()  # "Transitioning failed" comes on stderr
        if 'Transitioning' in text or time.monotonic() > deadline:
            return text


def _subscribers(env):
    out = _ros2(env, 'topic', 'info', INPUT).stdout  # the daemon `ros2 lifecycle` started
    return next((int(line.split(':')[1]) for line in out.splitlines()
                 if line.startswith('Subscription count')), 0)


def test_model_node_waits_unconfigured_then_follows_ros2_lifecycle(domain_id, tmp_path):
    env = {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'}
    run = Launched(['ros2', 'run', 'edgeserve_ros', 'model_node', '--ros-args',
                    '-r', '__node:=lc_model', '-p', 'autostart:=false',
                    '-p', f'model_file:={_models(tmp_path)}', '-p', 'model:=echo',
                    '-p', f'input:={INPUT}', '-p', 'input_kind:=stream',
                    '-p', 'output_stream:=/lc/predictions'], env)
    try:
        assert _until(lambda: _state(env).startswith('unconfigured'), 180.0), run.text()
        assert _subscribers(env) == 0  # nothing loaded, nothing subscribed
        # 'Transitioning successful' is the node's change_state reply: the state is reached
        assert _set(env, 'configure') == 'Transitioning successful'
        assert _set(env, 'activate') == 'Transitioning successful'
        assert _until(lambda: _subscribers(env) == 1), 'activate did not subscribe the input'
        assert _set(env, 'deactivate') == 'Transitioning successful'
        assert _until(lambda: _subscribers(env) == 0), 'deactivate left the input subscribed'
        assert _set(env, 'cleanup') == 'Transitioning successful'
        assert _in_state(env, 'unconfigured')
    finally:
        code = run.interrupt()
        run.close()
        _ros2(env, 'daemon', 'stop', timeout=30.0)  # `ros2 lifecycle` started one on our domain
    assert code == 0 and 'Traceback' not in run.text(), run.text()[-3000:]


def test_failed_configure_names_the_model_and_keeps_the_node_alive(domain_id, tmp_path):
    env = {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'}
    run = Launched(['ros2', 'run', 'edgeserve_ros', 'model_node', '--ros-args',
                    '-r', '__node:=lc_model', '-p', 'autostart:=false',
                    '-p', f'model_file:={_models(tmp_path)}', '-p', 'model:=no_such_model',
                    '-p', f'input:={INPUT}', '-p', 'input_kind:=stream'], env)
    try:
        assert _until(lambda: _state(env).startswith('unconfigured'), 180.0), run.text()
        assert _set(env, 'configure') == 'Transitioning failed'
        assert _in_state(env, 'unconfigured') and run.proc.poll() is None
        assert run.wait_for(lambda lines: any('no_such_model' in x for x in lines), 60.0)
    finally:
        code = run.interrupt()
        run.close()
        _ros2(env, 'daemon', 'stop', timeout=30.0)  # `ros2 lifecycle` started one on our domain
    assert code == 0 and 'Traceback' not in run.text(), run.text()[-3000:]
