"""Real ``ros2 launch`` / ``ros2 run`` processes for tests: output collected, Ctrl-C sent."""

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

#: What launch prints for every process that ended with exit code 0.
CLEAN = re.compile(r'\[INFO\] \[([\w.-]+)\]: process has finished cleanly')
DIED = re.compile(r'\[ERROR\] \[([\w.-]+)\]: process has died .*exit code (-?\d+)')
STARTED = re.compile(r'\[INFO\] \[([\w.-]+)\]: process started with pid')
#: Exit 1 of ``ros2 launch`` after a clean Ctrl-C, from a race in launch itself (Jazzy):
#: launch reads SIGINT through ``signal.set_wakeup_fd`` but leaves Python's own handler in
#: place, so a ``KeyboardInterrupt`` also lands at whatever bytecode the loop runs. When it
#: lands inside ``create_task(self._process_one_event())`` (in ``call_soon``), the task is
#: never scheduled; its destruction goes through the loop's exception handler, which
#: ``LaunchService.run_async`` turns into return code 1 (CI on 4b6a903; docs/faults.md).
LOST_TASK = re.compile(r"Task was destroyed but it is pending!\ntask: <Task pending "
                       r"name='Task-\d+' coro=<LaunchService\._process_one_event\(\) ")


class Launched:
    """
    One command (``ros2 launch ...``) in its own process group; its output lines collected.

    :param argv: the command
    :param env: extra environment (e.g. ``ROS_DOMAIN_ID``)
    :param popen: a function that starts it instead of :class:`subprocess.Popen` (a netns lab)
    """

    def __init__(self, argv: Sequence[str], env: Dict[str, str],
                 popen: Optional[Callable[..., subprocess.Popen]] = None) -> None:
        self.argv = list(argv)
        kw = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                  start_new_session=True)
        if popen is None:
            self.proc = subprocess.Popen(self.argv, env=dict(os.environ, **env), **kw)
        else:
            self.proc = popen(self.argv, env=env, **kw)
        self.lines: List[str] = []
        self._queue: 'queue.Queue[Optional[str]]' = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def _drain(self, timeout: float) -> bool:
        """Move queued lines to :attr:`lines`; False at end of output."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return True
        if line is None:
            self._queue.put(None)
            return False
        self.lines.append(line)
        return True

    def wait_for(self, pred: Callable[[List[str]], bool], timeout: float) -> bool:
        """Wait until ``pred(lines)`` holds; False on timeout or end of output."""
        deadline = time.monotonic() + timeout
        while not pred(self.lines):
            if time.monotonic() > deadline or not self._drain(0.1):
                return pred(self.lines)
        return True

    def events(self, event: str) -> List[dict]:
        """Return the JSON lines (any process prefix) whose ``event`` is ``event``."""
        out = []
        for line in self.lines:
            start = line.find('{"event"')
            if start >= 0:
                try:
                    value = json.loads(line[start:])
                except json.JSONDecodeError:
                    continue
                if value.get('event') == event:
                    out.append(value)
        return out

    def text(self) -> str:
        """Return the output so far."""
        return '\n'.join(self.lines)

    def interrupt(self, timeout: float = 40.0) -> int:
        """
        Ctrl-C as a terminal sends it: SIGINT to the whole process group; wait for the end.

        The nodes get it twice (from the group and from launch). Kills the group when it
        does not end within ``timeout``.
        """
        return self.stop(signal.SIGINT, timeout)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 40.0) -> int:
        """Send ``sig`` to the process group; wait for the end of output and exit."""
        self._killpg(sig)
        deadline = time.monotonic() + timeout
        while self._drain(0.2):
            if time.monotonic() > deadline:
                self._killpg(signal.SIGKILL)
                break
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._killpg(signal.SIGKILL)
            return self.proc.wait(timeout=10)

    def _killpg(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Kill what is left (after a failed test)."""
        if self.proc.poll() is None:
            self._killpg(signal.SIGKILL)
            self.proc.wait(timeout=10)
        else:  # the group may outlive its leader
            self._killpg(signal.SIGKILL)


def launch_code(rc: int, out: str) -> int:
    """
    Return ``rc``, or 0 for the exit 1 that launch's own Ctrl-C race gives (:data:`LOST_TASK`).

    Only that one cause is forgiven, and only when Ctrl-C was what ended the launch; every
    process must still have finished cleanly, which :func:`assert_clean_exit` checks apart.
    """
    if rc == 1 and 'user interrupted with ctrl-c' in out and len(LOST_TASK.findall(out)) == 1:
        return 0
    return rc


def assert_clean_exit(run: Launched, rc: int) -> None:
    """
    Launch and every process it started ended with exit code 0 and no traceback.

    The launch's own exit code is read through :func:`launch_code`.
    """
    out = run.text()
    started = set(STARTED.findall(out))
    clean = set(CLEAN.findall(out))
    assert launch_code(rc, out) == 0, f'ros2 launch exit {rc}\n{out[-4000:]}'
    assert 'Traceback' not in out, out[out.index('Traceback') - 2000:][:6000]
    died = DIED.findall(out)
    assert not died, (died, '\n'.join(line for line in out.splitlines()
                                      if any(f'[{name}' in line for name, _ in died))[-6000:])
    assert started and started == clean, (sorted(started - clean), out[-3000:])
