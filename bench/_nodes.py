"""Node processes for the fault and load benchmarks (soak, overload, chaos, cut-off, scale-out).

:class:`NodeProcs` starts project nodes as ``python -m module --ros-args -p k:=v ...`` on
one ROS domain, one log file each, and gives what those benchmarks measure: resident memory
(``/proc/<pid>/status`` VmRSS), ERROR lines and tracebacks in the logs, kill -9 and restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

ERROR_MARKS = ('[ERROR]', '[FATAL]', 'Traceback (most recent call last)')


def ros_arg(value: Any) -> str:
    """Format one parameter value for ``-p name:=value``."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(repr(v) for v in value) + ']'
    if isinstance(value, float):
        return repr(value)
    return "''" if value == '' else str(value)


def rss_bytes(pid: int) -> int:
    """Return the resident set size of ``pid`` in bytes (0 if it is gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def model_yaml(path: str, inputs: Sequence[str], name: str = 'cheap',
               delay_ms: float = 0.0) -> str:
    """Write a models YAML with one cheap ``fixed_delay`` function model; return the path."""
    with open(path, 'w') as f:
        f.write('models:\n'
                f'  - {{name: {name}, kind: function, '
                f'target: edgeserve_ros.models.zoo.fixed_delay,\n'
                f'     params: {{delay_ms: {delay_ms}, n_classes: 5}}, '
                f'inputs: [{", ".join(inputs)}], fill: zeros}}\n')
    return path


class NodeProcs:
    """Starts, samples, kills and restarts node processes on one ROS domain.

    :param domain_id: ``ROS_DOMAIN_ID`` of every process
    :param log_dir: folder of the log files (a new temporary folder if None)
    :param env: extra environment of every process
    """

    def __init__(self, domain_id: int, log_dir: Optional[str] = None,
                 env: Optional[Mapping[str, str]] = None) -> None:
        self.log_dir = log_dir or tempfile.mkdtemp(prefix='edgeserve_bench_')
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED='1',
                        ROS_LOG_DIR=self.log_dir, RCUTILS_COLORIZED_OUTPUT='0')
        self.env.update(env or {})
        self.procs: Dict[str, subprocess.Popen] = {}
        self.specs: Dict[str, tuple] = {}
        self.starts: Dict[str, int] = {}

    def argv(self, module: str, name: str, params: Mapping[str, Any]) -> List[str]:
        """Return the command line of node ``name``."""
        cmd = [sys.executable, '-m', module, '--ros-args', '-r', f'__node:={name}']
        for key, value in params.items():
            cmd += ['-p', f'{key}:={ros_arg(value)}']
        return cmd

    def start(self, module: str, name: str, prefix: Sequence[str] = (),
              env: Optional[Mapping[str, str]] = None, **params: Any) -> subprocess.Popen:
        """Start node ``name`` of ``module`` (``prefix``: e.g. ``ip netns exec ns``)."""
        self.specs[name] = (module, tuple(prefix), dict(env or {}), params)
        return self._spawn(name)

    def _spawn(self, name: str) -> subprocess.Popen:
        module, prefix, env, params = self.specs[name]
        self.starts[name] = self.starts.get(name, 0) + 1
        log = open(self.log_path(name), 'a')
        log.write(f'=== start {self.starts[name]} at {time.time():.3f}\n')
        log.flush()
        self.procs[name] = subprocess.Popen(
            list(prefix) + self.argv(module, name, params), env=dict(self.env, **env),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.procs[name]

    def log_path(self, name: str) -> str:
        """Return the log file of node ``name``."""
        return os.path.join(self.log_dir, f'{name}.log')

    def log(self, name: str) -> str:
        """Return what node ``name`` logged so far (all its starts)."""
        try:
            with open(self.log_path(name), errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def error_lines(self, names: Optional[Sequence[str]] = None) -> Dict[str, List[str]]:
        """Return the ERROR/FATAL/traceback lines per node."""
        out = {}
        for name in names or list(self.procs):
            out[name] = [ln for ln in self.log(name).splitlines()
                         if any(m in ln for m in ERROR_MARKS)]
        return out

    def count_lines(self, name: str, needle: str) -> int:
        """Return how many log lines of ``name`` contain ``needle``."""
        return sum(1 for ln in self.log(name).splitlines() if needle in ln)

    def rss(self) -> Dict[str, int]:
        """Return the RSS in bytes of every running process."""
        return {n: rss_bytes(p.pid) for n, p in self.procs.items() if p.poll() is None}

    def dead(self) -> Dict[str, Optional[int]]:
        """Return the exit codes of the processes that exited."""
        return {n: p.poll() for n, p in self.procs.items() if p.poll() is not None}

    def kill9(self, name: str) -> None:
        """SIGKILL node ``name`` (its whole session: wrappers too) and reap it."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def stop(self, name: str, timeout: float = 10.0) -> Optional[int]:
        """SIGINT node ``name`` (clean shutdown), SIGKILL it after ``timeout``; return rc."""
        proc = self.procs[name]
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9(name)
        return proc.poll()

    def restart(self, name: str) -> subprocess.Popen:
        """Start node ``name`` again with the same command line."""
        if self.procs[name].poll() is None:
            self.kill9(name)
        return self._spawn(name)

    def close(self, timeout: float = 10.0) -> None:
        """SIGINT every running process (clean ROS shutdown), SIGKILL stragglers."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
