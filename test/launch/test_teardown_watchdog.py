"""``exit_watchdog``: a process stuck in C with the GIL held still exits, with status 0."""

import subprocess
import sys

STUCK = ('import ctypes, sys\n'
         'from edgeserve_ros.ros import exit_watchdog\n'
         'status = int(sys.argv[2]) if len(sys.argv) > 2 else 0\n'
         'disarm = exit_watchdog.arm(0.3, "stuck in teardown; errno", status)\n'
         'if sys.argv[1] == "disarm":\n'
         '    disarm()\n'
         '    ctypes.PyDLL(None).sleep(1)\n'
         '    sys.exit(3)\n'
         'ctypes.PyDLL(None).sleep(60)  # holds the GIL, as rclpy does in rcl_node_fini\n'
         'sys.exit(4)\n')


def _run(mode, *extra):
    return subprocess.run([sys.executable, '-c', STUCK, mode, *extra], capture_output=True,
                          text=True, timeout=50)


def test_a_process_stuck_in_c_with_the_gil_held_exits_with_status_0():
    out = _run('stuck')
    assert out.returncode == 0, out
    assert 'stuck in teardown; errno: Success' in out.stderr


def test_a_disarmed_watchdog_lets_the_process_end_its_own_way():
    out = _run('disarm')
    assert out.returncode == 3, out
    assert 'stuck in teardown' not in out.stderr


def test_a_stuck_process_keeps_the_status_it_was_armed_with():
    # a test peer that printed a failing summary must not exit 0 from a stuck teardown
    out = _run('stuck', '1')
    assert out.returncode == 1, out
    assert 'stuck in teardown; errno: Success' in out.stderr
