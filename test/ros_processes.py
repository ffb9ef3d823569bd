"""Nodes as real processes for integration tests: ``python -m module --ros-args ...``."""

import os
import signal
import subprocess
import sys
from typing import Dict


def _arg(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, list):
        return '[' + ', '.join(repr(v) for v in value) + ']'
    return repr(value) if isinstance(value, float) or value == '' else str(value)


class Processes:
    """Starts nodes as ``python -m module --ros-args ...`` processes on one domain."""

    def __init__(self, domain_id, log_dir) -> None:
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
        self.log_dir = log_dir
        self.procs: Dict[str, subprocess.Popen] = {}

    def start(self, module, name, **values):
        """Start node ``name`` of ``module`` with parameters ``values``; return the Popen."""
        cmd = [sys.executable, '-m', module, '--ros-args', '-r', f'__node:={name}']
        for key, value in values.items():
            cmd += ['-p', f'{key}:={_arg(value)}']
        log = open(self.log_dir / f'{name}.log', 'w')
        self.procs[name] = subprocess.Popen(cmd, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        log.close()
        return self.procs[name]

    def log(self, name):
        """Return what node ``name`` has logged so far."""
        return (self.log_dir / f'{name}.log').read_text()

    def kill(self, name) -> None:
        """Kill node ``name`` with SIGKILL (a crash: nothing is cleaned up) and reap it."""
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def close(self) -> None:
        """Stop every process that still runs."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
