"""
Run a topology once: the one launcher of the ``topology.run`` CLI and the benchmarks.

``topology_launch.py`` maps the same plan and start barrier onto launch_ros.
:func:`deployed` (a context manager) and :func:`run_topology` (the same, returning the
summary) take a :class:`~.spec.TopologySpec` and

1. plan its nodes (:func:`~.plan.plan`), with optional extra parameters per node name;
2. gate the sources behind the start barrier (:func:`~.barrier.gated`);
3. optionally create one network namespace per host (:class:`~.netns.NetnsLab`) and limit
   hosts' links (``shape``); with ``discovery: {mode: server}`` start the Fast DDS
   discovery server (:mod:`.discovery`);
4. start the ``topology_monitor`` on the first host, then every node process, then the
   ``observers`` (a benchmark's recorder: the barrier waits for their subscriptions too);
5. wait for the monitor's ``ready`` (the start time given to the sources), failing at once
   with :class:`DeployError` when a node process exits first;
6. relay the monitor's JSON lines until its summary; stop every process.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from edgeserve_ros.topology.barrier import gated, MONITOR_MODULE, monitor_arguments
from edgeserve_ros.topology.discovery import discovery_plan
from edgeserve_ros.topology.netns import NetnsLab, stop_processes
from edgeserve_ros.topology.plan import NodeSpec, plan
from edgeserve_ros.topology.spec import TopologySpec

DEFAULT_MODELS_DIR = pathlib.Path.home() / '.cache' / 'edgeserve_ros' / 'models'
Event = Dict[str, Any]


class DeployError(RuntimeError):
    """The topology did not come up, or its monitor ended without a summary."""


@dataclass(frozen=True)
class Observer:
    """A process started on ``host`` after the nodes, before the sources start."""

    host: str
    argv: Sequence[str]
    #: topics it reads from the first item on: the start barrier waits for its subscriptions
    subscribes: Sequence[str] = ()
    #: give it text stdin/stdout pipes (line buffered), e.g. to speak JSON lines with it
    pipes: bool = False


@dataclass
class Deployment:
    """A running topology: its nodes, processes and monitor (see :func:`deployed`)."""

    spec: TopologySpec
    #: the started nodes (the plan, gated, with the extra parameters)
    nodes: List[NodeSpec]
    #: node name -> its process
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)
    #: the observer processes, in the order given
    observers: List[subprocess.Popen] = field(default_factory=list)
    lab: Optional[NetnsLab] = None
    #: wall-clock time of item 0 given by the barrier; seconds from launch to it
    start_time: Optional[float] = None
    ready_s: float = 0.0
    _monitor: Optional[subprocess.Popen] = None
    _events: 'queue.Queue[Optional[Event]]' = field(default_factory=queue.Queue)
    _on_event: Optional[Callable[[Event], None]] = None

    def next_event(self, timeout: float) -> Optional[Event]:
        """Return the monitor's next JSON line (``{}`` after ``timeout``; None at its end)."""
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return {}
        if event is not None and self._on_event is not None:
            self._on_event(event)
        return event

    def summary(self, timeout: float) -> Event:
        """Relay the monitor's lines until its summary; SIGINT it after ``timeout`` s."""
        deadline, stopping = time.monotonic() + timeout, False
        while True:
            event = self.next_event(0.5)
            if event is None:
                raise DeployError(f'{self.spec.name}: the topology monitor exited '
                                  f'({_code(self._monitor)}) without a summary')
            if event.get('event') == 'summary':
                return {**event, 'ready_s': round(self.ready_s, 2), 'nodes': len(self.nodes)}
            if time.monotonic() > deadline and not stopping:
                stopping, deadline = True, time.monotonic() + 15.0
                assert self._monitor is not None
                self._monitor.send_signal(signal.SIGINT)  # it ends with its summary
            elif time.monotonic() > deadline:
                raise DeployError(f'{self.spec.name}: no monitor summary after SIGINT')

    def _wait_ready(self, timeout: float) -> None:
        began, deadline = time.monotonic(), time.monotonic() + timeout
        while True:
            event = self.next_event(0.25)
            if event is None or event.get('event') == 'summary':
                waiting = '; '.join((event or {}).get('waiting_for') or [])
                raise DeployError(f'{self.spec.name}: the topology monitor ended before the '
                                  f'topology was ready ({_code(self._monitor)})'
                                  + (f'; it waited for {waiting}' if waiting else ''))
            if event.get('event') == 'ready':
                self.start_time, self.ready_s = event.get('start_time'), time.monotonic() - began
                return
            for name, proc in [*self.procs.items(), *(
                    (f'observer {i}', p) for i, p in enumerate(self.observers))]:
                if proc.poll() is not None:
                    host = next((n.host for n in self.nodes if n.name == name), '')
                    raise DeployError(
                        f'{self.spec.name}: {name}{f" on host {host}" if host else ""} exited '
                        f'with code {proc.returncode} before the topology was ready '
                        f'(its log is above); command: {_argv(proc)}')
            if time.monotonic() > deadline:
                raise DeployError(f'{self.spec.name}: not ready within {timeout:.0f} s')


@contextmanager
def deployed(spec: TopologySpec, *, domain_id: int, models: Optional[str] = None,
             models_dir: pathlib.Path = DEFAULT_MODELS_DIR, netns: bool = False,
             shape: Optional[Mapping[str, float]] = None,
             params: Optional[Mapping[str, Mapping[str, Any]]] = None,
             seconds: float = 20.0, idle: float = 5.0, expect: int = 0, drain: float = 0.0,
             startup: float = 90.0, observers: Sequence[Observer] = (),
             on_event: Optional[Callable[[Event], None]] = None, verbose: bool = False,
             quiet: bool = False) -> Iterator[Deployment]:
    """
    Start ``spec`` (see the module text); yield the :class:`Deployment` once it is ready.

    :param domain_id: ``ROS_DOMAIN_ID`` of every process
    :param models: models YAML of every model node and worker (default: the topology's
        trained models, ``workloads.prepare.models_file`` in ``models_dir``)
    :param netns: one network namespace per host (DDS over UDP; root needed)
    :param shape: ``{host: Mbit/s}``: tbf limits of hosts' links (needs ``netns``)
    :param params: ``{node name: {parameter: value}}`` added to planned nodes
    :param seconds: the monitor stops this long after the first prediction
    :param idle: ... after this long without a prediction
    :param expect: ... after this many predictions (0: no such bound)
    :param drain: ... this long after the last prediction once every source finished (0: off)
    :param startup: ... when no prediction came within this long (also the longest wait for
        the barrier)
    :param observers: processes started after the nodes
    :param on_event: called with every JSON line of the monitor
    :param verbose: show the nodes' info logs (default: warnings and errors)
    :param quiet: send the nodes' stderr to /dev/null
    :raises DeployError: a node or the monitor exited before the topology was ready
    """
    if shape and not netns:
        raise ValueError('shape needs netns (a link per host)')
    if models is None:
        from edgeserve_ros.workloads.prepare import models_file
        models = str(models_file(spec, pathlib.Path(models_dir)))
    nodes = _with_params(plan(spec, models), params or {})
    watched = [t for o in observers for t in o.subscribes]
    nodes = gated(spec, nodes, watched)
    lab = NetnsLab(list(spec.hosts), domain_id=domain_id) if netns else None
    run = Deployment(spec, nodes, lab=lab, _on_event=on_event)
    extra = {'ROS_DOMAIN_ID': str(domain_id), 'PYTHONUNBUFFERED': '1'}
    started: List[subprocess.Popen] = []

    def start(host: str, argv: Sequence[str], env: Mapping[str, str],
              **kw: Any) -> subprocess.Popen:
        if lab is not None:
            proc = lab.popen(host, argv, env={**extra, **env}, **kw)
        else:
            proc = subprocess.Popen(list(argv), env={**os.environ, **extra, **env},
                                    start_new_session=True, **kw)
        started.append(proc)
        return proc

    try:
        if lab is not None:
            lab.__enter__()
            for host, rate in (shape or {}).items():
                lab.shape(host, rate)
        server_host = lab.addr(spec.discovery_host) if lab and spec.discovery == 'server' else ''
        discovery = discovery_plan(spec, server_host)
        if discovery.server:  # the venv's fastdds and its server binary
            path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')
            run.procs['discovery_server'] = start(discovery.host, discovery.server,
                                                  {'PATH': path}, stdout=subprocess.DEVNULL)
        py = sys.executable
        run._monitor = start(spec.hosts[0], [py, '-m', MONITOR_MODULE, *monitor_arguments(
            spec, nodes, seconds, idle, startup, expect, drain, watched)],
            discovery.observer_env, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=_read, args=(run._monitor, run._events), daemon=True).start()
        log = [] if verbose else ['--log-level', 'warn']
        err = {'stderr': subprocess.DEVNULL} if quiet else {}
        for node in nodes:
            run.procs[node.name] = start(node.host, [py, '-m', node.module, *node.ros_args(),
                                                     *log], discovery.env, **err)
        for obs in observers:
            pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         bufsize=1) if obs.pipes else {}
            run.observers.append(start(obs.host, obs.argv, discovery.observer_env, **pipes))
        run._wait_ready(startup)
        yield run
    finally:
        stop_processes(started)
        if lab is not None:
            lab.__exit__(None, None, None)


def run_topology(spec: TopologySpec, **options: Any) -> Event:
    """
    Run ``spec`` once with :func:`deployed` (same keyword options); return the summary.

    The summary is the monitor's (:mod:`.monitor`) plus ``ready_s`` (launch to start
    time) and ``nodes`` (how many were started).
    """
    limit = options.get('startup', 90.0) + options.get('seconds', 20.0) + 30.0
    with deployed(spec, **options) as run:
        return run.summary(limit)


def _with_params(nodes: List[NodeSpec],
                 params: Mapping[str, Mapping[str, Any]]) -> List[NodeSpec]:
    unknown = sorted(set(params) - {n.name for n in nodes})
    if unknown:
        raise ValueError(f'params: no node named {unknown[0]!r}; nodes are '
                         f'{", ".join(n.name for n in nodes)}')
    return [replace(n, params={**n.params, **params[n.name]}) if n.name in params else n
            for n in nodes]


def _read(proc: subprocess.Popen, events: 'queue.Queue[Optional[Event]]') -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.put(event)
    events.put(None)


def _argv(proc: subprocess.Popen) -> str:
    args = proc.args
    return ' '.join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)


def _code(proc: Optional[subprocess.Popen]) -> str:
    code = None if proc is None else proc.poll()
    return 'still running' if code is None else f'exit code {code}'
