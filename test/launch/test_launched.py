"""The one launch exit code that tests forgive: launch's own Ctrl-C race (plain pytest)."""

from launched import launch_code

LOST = ("Task was destroyed but it is pending!\n"
        "task: <Task pending name='Task-27' coro=<LaunchService._process_one_event() running"
        " at /venv/launch/launch_service.py:228>>")
CTRL_C = '[WARNING] [launch]: user interrupted with ctrl-c (SIGINT)'


def test_the_lost_event_task_after_ctrl_c_is_forgiven():
    assert launch_code(1, f'{LOST}\n{CTRL_C}') == 0


def test_any_other_exit_is_kept():
    assert launch_code(0, '') == 0
    assert launch_code(1, CTRL_C) == 1  # exit 1 without the lost task
    assert launch_code(1, LOST) == 1  # not ended by Ctrl-C
    assert launch_code(1, f'{LOST}\n{LOST}\n{CTRL_C}') == 1  # more than the one race
    assert launch_code(-9, f'{LOST}\n{CTRL_C}') == -9
    other = LOST.replace('LaunchService._process_one_event', 'ExecuteLocal.__execute_process')
    assert launch_code(1, f'{other}\n{CTRL_C}') == 1
