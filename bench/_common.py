"""Shared helpers of the benchmarks in ``bench/``: machine info, child processes, reports.

Every benchmark is one command (``bash scripts/dev bench <name>``) that prints one progress
line per step on stderr and writes ``bench/results/<name>.{md,csv,png}``. Benchmarks that
need several processes run *themselves* as children (``--role ...``); a child talks to its
parent with one JSON object per line on stdout (rclpy logs go to stderr) and reads commands
the same way on stdin. :class:`JsonChild` is the parent side, :func:`emit` and
:func:`read_commands` the child side.
"""

from __future__ import annotations

import csv
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import queue
import shlex
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from edgeserve_ros.dataplane.metrics import percentile  # noqa: F401  (re-exported)

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(BENCH_DIR, 'results')
KIB = 1024
MIB = 1024 * 1024

_T0 = time.monotonic()


# -- progress and small utilities -------------------------------------------------------

def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so a bench's cleanup (``finally``, ``with``) runs."""
    import signal

    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _raise)


def progress(text: str) -> None:
    """Print one progress line on stderr, prefixed with seconds since start."""
    print(f'[{time.monotonic() - _T0:7.1f}s] {text}', file=sys.stderr, flush=True)


def size_label(nbytes: int) -> str:
    """Return ``1 KB``/``512 KB``/``8 MB`` style labels (binary units: 1 KB = 1024 B)."""
    if nbytes >= MIB and nbytes % MIB == 0:
        return f'{nbytes // MIB} MB'
    if nbytes >= KIB and nbytes % KIB == 0:
        return f'{nbytes // KIB} KB'
    return f'{nbytes} B'


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def ratio(numerator: float, denominator: float) -> float:
    """Return ``numerator / denominator``, NaN when the denominator is 0 or NaN."""
    if not denominator or denominator != denominator:
        return float('nan')
    return numerator / denominator


def fmt(value: float, digits: int = 3) -> str:
    """Format a number for a markdown table (``-`` for NaN/None)."""
    if value is None or value != value:
        return '-'
    return f'{value:.{digits}f}'


def yes_no(flag: Optional[bool]) -> str:
    """Return ``yes``/``no`` (``n/a`` for None) for the targets table."""
    return 'n/a' if flag is None else ('yes' if flag else 'no')


# -- machine and versions ---------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def _mem_total_gib() -> str:
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    return f'{int(line.split()[1]) / 1024 / 1024:.1f} GiB'
    except OSError:
        pass
    return 'unknown'


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return 'not installed'


def _profile_name() -> str:
    path = os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE') \
        or os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE')
    if not path:
        return '(none: Fast DDS defaults, 3 s heartbeats)'
    return os.path.relpath(path, os.path.dirname(BENCH_DIR))


def machine_info(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return machine, software versions, transport settings, date and the command line."""
    import numpy

    distro = os.environ.get('EDGESERVE_ROS_DISTRO', 'jazzy')
    info = {
        'CPU': _cpu_model(),
        'cores': str(os.cpu_count()),
        'RAM': _mem_total_gib(),
        'kernel': platform.release(),
        'python': platform.python_version(),
        'ROS distro': distro,
        f'ros-{distro}-rclpy': _version(f'ros-{distro}-rclpy'),
        'RMW': os.environ.get('RMW_IMPLEMENTATION') or 'rmw_fastrtps_cpp (default)',
        'ros-rmw-fastrtps-cpp': _version('ros-rmw-fastrtps-cpp'),
        'ros-fastrtps (Fast DDS)': _version('ros-fastrtps'),
        'numpy': numpy.__version__,
        'FASTDDS_BUILTIN_TRANSPORTS': os.environ.get('FASTDDS_BUILTIN_TRANSPORTS',
                                                     '(unset = DEFAULT: SHM + UDPv4)'),
        'Fast DDS profile': _profile_name(),
        'date': _dt.datetime.now().astimezone().isoformat(timespec='seconds'),
        'command': 'bash scripts/dev bench ' + ' '.join(
            [os.path.splitext(os.path.basename(sys.argv[0]))[0]]
            + [shlex.quote(a) for a in sys.argv[1:]]),
    }
    info.update(extra or {})
    return info


# -- reports ----------------------------------------------------------------------------

def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return a GitHub markdown table."""
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def targets_table(targets: Sequence[Sequence[Any]]) -> str:
    """Return the ``target | measured | met`` table; ``met`` is True/False/None."""
    return md_table(['target', 'measured', 'met'],
                    [(t, m, yes_no(ok)) for t, m, ok in targets])


def machine_md(info: Mapping[str, str]) -> str:
    """Return the machine/versions section as a two-column table."""
    return md_table(['item', 'value'], [(k, f'`{v}`' if k == 'command' else v)
                                        for k, v in info.items()])


def result_path(name: str, ext: str) -> str:
    """Return ``bench/results/<name>.<ext>``, creating the folder."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    return os.path.join(RESULTS_DIR, f'{name}.{ext}')


def write_csv(name: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Write ``bench/results/<name>.csv``; return its path."""
    path = result_path(name, 'csv')
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_md(name: str, title: str, sections: Sequence[tuple[str, str]],
             info: Mapping[str, str]) -> str:
    """Write ``bench/results/<name>.md`` from ``(heading, body)`` sections plus machine info."""
    parts = [f'# {title}', '']
    for heading, body in sections:
        parts += [f'## {heading}', '', body.strip(), '']
    parts += ['## Machine and versions', '', machine_md(info), '',
              f'Plot: `{name}.png`; raw numbers: `{name}.csv`.', '']
    path = result_path(name, 'md')
    with open(path, 'w') as f:
        f.write('\n'.join(parts))
    return path


def pyplot():
    """Return ``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig: Any, name: str) -> str:
    """Lay out ``fig``, write it to ``bench/results/<name>.png``, close it; return the path."""
    fig.tight_layout()
    path = result_path(name, 'png')
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def run_and_report(args: Any, run: Callable[[Any], Any],
                   report: Callable[[Any, Any, float], None]) -> int:
    """Run one benchmark (``run(args)``), write its report with the wall time; return 0."""
    start = time.monotonic()
    result = run(args)
    report(args, result, time.monotonic() - start)
    progress(f'wrote {result_path(args.name, "md")}, .csv, .png')
    return 0


# -- processes --------------------------------------------------------------------------

def child_env(domain_id: int, transports: Optional[str] = None,
              extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Return the environment of a benchmark child: own ROS domain, chosen transports."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['PYTHONUNBUFFERED'] = '1'
    if transports:
        env['FASTDDS_BUILTIN_TRANSPORTS'] = transports
    env.update(extra or {})
    return env


def self_argv(script: str, role: str, args: Sequence[Any] = ()) -> List[str]:
    """Return the argv that runs ``script`` again as a child with ``--role role``."""
    return [sys.executable, os.path.abspath(script), '--role', role, *map(str, args)]


class JsonChild:
    """Parent side of a child process speaking JSON lines on stdin/stdout.

    :param argv: command line; ignored when ``proc`` is given
    :param env: environment of the child
    :param proc: an already started process (e.g. from ``NetnsLab.popen``) whose stdin and
        stdout are pipes
    """

    def __init__(self, argv: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
                 proc: Optional[subprocess.Popen] = None, name: str = 'child') -> None:
        self.name = name
        self.proc = proc or subprocess.Popen(list(argv), env=dict(env or os.environ),
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             text=True, bufsize=1)
        self.messages: 'queue.Queue[Dict[str, Any]]' = queue.Queue()
        self._stash: List[Dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith('{'):
                continue
            try:
                self.messages.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.messages.put({'kind': 'eof'})

    def send(self, **message: Any) -> None:
        """Write one command line to the child's stdin."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message) + '\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def get(self, timeout: float) -> Optional[Dict[str, Any]]:
        """Return the next message, or None after ``timeout`` seconds."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def expect(self, kind: str, timeout: float) -> Dict[str, Any]:
        """Return the oldest message of ``kind``; raise on timeout/exit.

        Messages of other kinds read meanwhile are kept for later ``expect`` calls, so the
        order in which a child reports different events does not matter.
        """
        for i, msg in enumerate(self._stash):
            if msg.get('kind') == kind:
                return self._stash.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            msg = self.get(max(left, 0.0)) if left > 0 else None
            if msg is None:
                raise TimeoutError(f'{self.name}: no {kind!r} message in {timeout:.0f} s')
            if msg.get('kind') == 'eof':
                raise RuntimeError(f'{self.name}: exited ({self.proc.poll()}) before {kind!r}')
            if msg.get('kind') == kind:
                return msg
            self._stash.append(msg)

    def stop(self, timeout: float = 5.0) -> None:
        """Close stdin (children exit on EOF), then terminate/kill if needed."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def emit(kind: str, **fields: Any) -> None:
    """Child side: write one JSON message on stdout."""
    sys.stdout.write(json.dumps({'kind': kind, **fields}) + '\n')
    sys.stdout.flush()


def read_commands() -> Iterator[Dict[str, Any]]:
    """Child side: yield the JSON commands read from stdin until EOF."""
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def child_exit(code: int = 0) -> int:
    """Child side: flush and leave at once, skipping the rclpy teardown.

    Tearing down a ``MultiThreadedExecutor`` whose threads still wait in rmw can abort the
    process (``std::terminate``) at exit; a benchmark child has nothing left to save.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
    return code  # not reached


def spin_in_background(*nodes: Any) -> Any:
    """
    Spin rclpy nodes in a background executor (child processes); return the spinner.

    The executor is the nodes' own default (``edgeserve_ros.ros.spin.make_executor``:
    single-threaded unless ``EDGESERVE_EXECUTOR=multi``); rclpy's MultiThreadedExecutor
    kept a core busy on its own in these benchmarks.
    """
    from edgeserve_ros.ros.spin import BackgroundSpinner, make_executor

    return BackgroundSpinner(make_executor(), *nodes)
