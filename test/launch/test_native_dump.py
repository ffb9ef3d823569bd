"""Native teardown dumps (``spin.arm_native_dump``): off without the variable, real with it."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import wait_for

STUCK = ('import sys, time\n'
         'from edgeserve_ros.ros.spin import arm_native_dump\n'
         'print(arm_native_dump(0.2), flush=True)\n'
         'time.sleep(60)\n')


def test_without_the_variable_nothing_is_armed(monkeypatch):
    from edgeserve_ros.ros.spin import arm_native_dump, NATIVE_DUMP_ENV

    monkeypatch.delenv(NATIVE_DUMP_ENV, raising=False)
    assert arm_native_dump(0.1) is None


@pytest.mark.skipif(not shutil.which('eu-stack'), reason='elfutils eu-stack not installed')
def test_a_process_still_alive_after_the_delay_gets_its_native_stacks_written(tmp_path):
    from edgeserve_ros.ros.spin import NATIVE_DUMP_ENV

    env = dict(os.environ, **{NATIVE_DUMP_ENV: str(tmp_path)})
    proc = subprocess.Popen([sys.executable, '-c', STUCK], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        target = proc.stdout.readline().strip()
        assert target.startswith(str(tmp_path)) and target.endswith('.txt')

        def dumped():
            try:
                text = open(target).read()
            except OSError:
                return ''
            return text if 'clock_nanosleep' in text else ''
        text = wait_for(dumped, timeout=60)
        assert f'PID {proc.pid}' in text and 'TID' in text, text[:2000]
    finally:
        proc.kill()
        proc.wait(timeout=10)
