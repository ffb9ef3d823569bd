"""
Multi-host test harness: each "host" is a Linux network namespace on one machine.

Layout of one :class:`NetnsLab` (all names start with a prefix unique to the lab, e.g.
``es12345l0``)::

    <prefix>sw   switch namespace: bridge ``br0`` with ports ``p0``, ``p1``, ...
    <prefix>h0   host namespace:   ``lo`` + ``eth0`` (veth peer of ``p0``), 10.231.N.1/24
    <prefix>h1   host namespace:   ``lo`` + ``eth0`` (veth peer of ``p1``), 10.231.N.2/24

Nothing is created in the root namespace, so labs never clash with each other or with
the machine's own network, whatever subnet they use. Every host has a multicast route
``224.0.0.0/4 dev eth0`` for DDS discovery. Processes started with :meth:`NetnsLab.popen`
get ``FASTDDS_BUILTIN_TRANSPORTS=UDPv4`` so Fast DDS cannot bypass the emulated network
through shared memory.

Needs root and iproute2; use :func:`netns_available` to skip tests elsewhere. This module
does not import rclpy.
"""

import itertools
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from edgeserve_ros.topology import shaping

_LOG = logging.getLogger(__name__)
_LAB_COUNTER = itertools.count()
_SWITCH_SUFFIX = 'sw'
_HOST_DEV = 'eth0'
_BRIDGE = 'br0'
_CMD_TIMEOUT_S = 10.0

#: Environment every :meth:`NetnsLab.popen` child gets unless the caller overrides it.
DEFAULT_ENV: Dict[str, str] = {
    'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4',
    'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET',
}
#: Variables removed from the inherited environment (they would confine discovery to lo).
DROPPED_ENV: Tuple[str, ...] = ('ROS_LOCALHOST_ONLY',)


class NetnsError(RuntimeError):
    """An ``ip``/``tc`` command of the harness failed."""


def _sh(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run one short administrative command and return its result."""
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=_CMD_TIMEOUT_S)
    if check and res.returncode != 0:
        raise NetnsError(f'{" ".join(argv)} failed ({res.returncode}): {res.stderr.strip()}')
    return res


def list_netns() -> List[str]:
    """
    Return the names of all named network namespaces (``ip netns list``).

    :returns: namespace names, possibly empty.
    """
    res = _sh(['ip', 'netns', 'list'], check=False)
    return [line.split()[0] for line in res.stdout.splitlines() if line.strip()]


def _delete_netns(name: str) -> None:
    """Kill whatever still runs inside namespace ``name`` and delete it."""
    pids = _sh(['ip', 'netns', 'pids', name], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    res = _sh(['ip', 'netns', 'del', name], check=False)
    if res.returncode != 0 and name in list_netns():
        _LOG.warning('could not delete netns %s: %s', name, res.stderr.strip())


def netns_available() -> Tuple[bool, str]:
    """
    Tell whether this machine can run a :class:`NetnsLab`.

    :returns: ``(True, '')`` when the process is root, ``ip`` and ``tc`` exist and a
        namespace can be created and deleted; otherwise ``(False, reason)``.
    """
    if os.geteuid() != 0:
        return False, 'network namespaces need root'
    for tool in ('ip', 'tc'):
        if shutil.which(tool) is None:
            return False, f'`{tool}` (iproute2) not found'
    probe = f'esprobe{os.getpid()}x{next(_LAB_COUNTER)}'
    try:
        res = _sh(['ip', 'netns', 'add', probe], check=False)
        if res.returncode != 0:
            return False, f'ip netns add failed: {res.stderr.strip()}'
        res = _sh(['ip', '-n', probe, 'link', 'set', 'lo', 'up'], check=False)
        if res.returncode != 0:
            return False, f'cannot configure a namespace: {res.stderr.strip()}'
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f'ip netns unusable: {exc}'
    finally:
        _sh(['ip', 'netns', 'del', probe], check=False)
    return True, ''


def cleanup_stale(prefix: str = 'es') -> List[str]:
    """
    Delete namespaces left behind by crashed labs whose process no longer exists.

    Lab namespaces are named ``<prefix><pid>l<n>h<i>`` / ``<prefix><pid>l<n>sw``; only
    those whose ``<pid>`` is dead are removed, so labs of concurrent runs survive.

    :param prefix: the ``prefix`` the labs were created with.
    :returns: the names of the deleted namespaces.
    """
    pattern = re.compile(rf'^{re.escape(prefix)}(\d+)l\d+(?:h\d+|{_SWITCH_SUFFIX})$')
    removed = []
    for name in list_netns():
        match = pattern.match(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        _delete_netns(name)
        removed.append(name)
    if removed:
        _LOG.info('removed stale namespaces: %s', ', '.join(removed))
    return removed


def _pid_alive(pid: int) -> bool:
    """Tell whether a process with id ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_processes(procs: Iterable[subprocess.Popen], int_timeout: float = 3.0,
                   term_timeout: float = 2.0, kill_timeout: float = 2.0) -> None:
    """
    Stop processes with SIGINT, then SIGTERM, then SIGKILL, waiting between steps.

    Processes started in their own session (the :meth:`NetnsLab.popen` default) are
    signalled as a process group, so their children stop too.

    :param procs: processes to stop; finished ones are skipped.
    :param int_timeout: seconds to wait after SIGINT.
    :param term_timeout: seconds to wait after SIGTERM.
    :param kill_timeout: seconds to wait after SIGKILL.
    """
    pending = list(procs)
    for sig, timeout in ((signal.SIGINT, int_timeout), (signal.SIGTERM, term_timeout),
                         (signal.SIGKILL, kill_timeout)):
        pending = [p for p in pending if p.poll() is None]
        if not pending:
            return
        _signal_and_wait(pending, sig, timeout)
    for proc in pending:
        if proc.poll() is None:
            _LOG.warning('process %d survived SIGKILL', proc.pid)


def _signal_and_wait(procs: List[subprocess.Popen], sig: int,
                     timeout: float) -> List[subprocess.Popen]:
    """Signal ``procs``, wait up to ``timeout`` s in all; return those still running."""
    for proc in procs:
        _signal(proc, sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            pass
    return [p for p in procs if p.poll() is None]


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to ``proc`` (its group when it leads one); ignore finished ones."""
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


class NetnsLab:
    """
    A set of emulated hosts in network namespaces behind one switch.

    Use as a context manager; leaving it stops every process started through it and
    deletes all its namespaces (with their bridge and veths)::

        with NetnsLab(hosts=['src', 'dst'], rate_mbit=8) as lab:
            proc = lab.popen('dst', ['python', 'server.py'])
            lab.run('src', ['ping', '-c1', lab.addr('dst')], timeout=5)

    :param hosts: host names (unique, any string); each gets its own namespace.
    :param rate_mbit: if set, shape every host link to this rate (both directions).
    :param prefix: start of all namespace names; :func:`cleanup_stale` matches on it.
    :param subnet_octet: third octet of the lab's ``10.231.X.0/24``; default derived
        from the lab number (labs are isolated, so equal subnets would not clash).
    :param domain_id: if set, ``ROS_DOMAIN_ID`` of every started process.
    :param stop_timeouts: seconds to wait after SIGINT, SIGTERM and SIGKILL when the lab
        stops its processes, see :func:`stop_processes`.
    """

    def __init__(self, hosts: Sequence[str], rate_mbit: Optional[float] = None,
                 prefix: str = 'es', subnet_octet: Optional[int] = None,
                 domain_id: Optional[int] = None,
                 stop_timeouts: Tuple[float, float, float] = (3.0, 2.0, 2.0)) -> None:
        if not hosts or len(set(hosts)) != len(hosts):
            raise ValueError(f'hosts must be non-empty and unique, got {hosts!r}')
        if len(hosts) > 250:
            raise ValueError('at most 250 hosts per lab')
        lab_no = next(_LAB_COUNTER)
        self.hosts: List[str] = list(hosts)
        self.prefix: str = f'{prefix}{os.getpid()}l{lab_no}'
        octet = subnet_octet if subnet_octet is not None else lab_no % 254 + 1
        self.subnet: str = f'10.231.{octet}.0/24'
        self.domain_id = domain_id
        self.stop_timeouts = stop_timeouts
        self._index = {host: i for i, host in enumerate(self.hosts)}
        self._addr = {host: f'10.231.{octet}.{i + 1}' for host, i in self._index.items()}
        self._rate = rate_mbit
        self._procs: Dict[str, List[subprocess.Popen]] = {host: [] for host in self.hosts}
        self._created: List[str] = []

    # -- names -------------------------------------------------------------------------

    @property
    def switch_netns(self) -> str:
        """Name of the switch namespace that holds the bridge."""
        return self.prefix + _SWITCH_SUFFIX

    def netns(self, host: str) -> str:
        """Return the namespace name of ``host``."""
        return f'{self.prefix}h{self._idx(host)}'

    def addr(self, host: str) -> str:
        """Return the IPv4 address of ``host`` (on its ``eth0``)."""
        self._idx(host)
        return self._addr[host]

    def _idx(self, host: str) -> int:
        try:
            return self._index[host]
        except KeyError:
            raise KeyError(f'unknown host {host!r}; lab hosts: {self.hosts}') from None

    def _port(self, host: str) -> str:
        return f'p{self._idx(host)}'

    # -- life cycle --------------------------------------------------------------------

    def __enter__(self) -> 'NetnsLab':
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _add_netns(self, name: str) -> None:
        _sh(['ip', 'netns', 'add', name])
        self._created.append(name)
        _sh(['ip', '-n', name, 'link', 'set', 'lo', 'up'])

    def _create(self) -> None:
        # Names carry our pid and lab number, so an existing one is a leftover of a crashed
        # process that had the same pid.
        existing = set(list_netns())
        for name in [self.switch_netns, *(self.netns(h) for h in self.hosts)]:
            if name in existing:
                _LOG.warning('removing leftover namespace %s', name)
                _delete_netns(name)
        sw = self.switch_netns
        self._add_netns(sw)
        _sh(['ip', '-n', sw, 'link', 'add', _BRIDGE, 'type', 'bridge', 'stp_state', '0',
             'mcast_snooping', '0'])
        _sh(['ip', '-n', sw, 'link', 'set', _BRIDGE, 'up'])
        for host in self.hosts:
            ns, port = self.netns(host), self._port(host)
            self._add_netns(ns)
            _sh(['ip', '-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name',
                 _HOST_DEV, 'netns', ns])
            _sh(['ip', '-n', sw, 'link', 'set', port, 'master', _BRIDGE])
            _sh(['ip', '-n', sw, 'link', 'set', port, 'up'])
            _sh(['ip', '-n', ns, 'addr', 'add', f'{self._addr[host]}/24', 'dev', _HOST_DEV])
            _sh(['ip', '-n', ns, 'link', 'set', _HOST_DEV, 'up'])
            _sh(['ip', '-n', ns, 'route', 'replace', '224.0.0.0/4', 'dev', _HOST_DEV])
            if self._rate:
                self.shape(host, self._rate)
        _LOG.info('lab %s up: %s', self.prefix,
                  ', '.join(f'{h}={self._addr[h]}' for h in self.hosts))

    def close(self) -> None:
        """Stop all processes of the lab and delete its namespaces; safe to call twice."""
        stop_processes([p for procs in self._procs.values() for p in procs],
                       *self.stop_timeouts)
        for procs in self._procs.values():
            procs.clear()
        # Hosts first: deleting a host namespace destroys its veth pair.
        for name in reversed(self._created):
            _delete_netns(name)
        self._created.clear()

    # -- processes ---------------------------------------------------------------------

    def child_env(self, env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """
        Return the environment :meth:`popen` gives a child.

        :param env: variables added on top of ``os.environ`` and :data:`DEFAULT_ENV`
            (a value of ``None`` removes the variable).
        :returns: the full environment.
        """
        out = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        out.update(DEFAULT_ENV)
        if self.domain_id is not None:
            out['ROS_DOMAIN_ID'] = str(self.domain_id)
        for key, value in (env or {}).items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def popen(self, host: str, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
              **kw: object) -> subprocess.Popen:
        """
        Start ``argv`` inside ``host``'s namespace (``ip netns exec``).

        The process runs in a new session (its own process group) unless
        ``start_new_session=False`` is passed; the lab stops it on exit.

        :param host: one of the lab's hosts.
        :param argv: command and arguments (non-strings are converted with ``str``).
        :param env: extra environment on top of the inherited one, see :meth:`child_env`.
        :param kw: further :class:`subprocess.Popen` keyword arguments.
        :returns: the started process (its pid is the command's own pid).
        """
        kw.setdefault('start_new_session', True)
        proc = subprocess.Popen(['ip', 'netns', 'exec', self.netns(host), *map(str, argv)],
                                env=self.child_env(env), **kw)  # type: ignore[call-overload]
        self._procs[host].append(proc)
        _LOG.debug('started pid %d on %s: %s', proc.pid, host, ' '.join(map(str, argv)))
        return proc

    def run(self, host: str, argv: Sequence[str], timeout: float = 10.0,
            env: Optional[Mapping[str, str]] = None, check: bool = False,
            ) -> subprocess.CompletedProcess:
        """
        Run a short command inside ``host``'s namespace and capture its output.

        :param host: one of the lab's hosts.
        :param argv: command and arguments.
        :param timeout: seconds before the command is killed and
            :class:`subprocess.TimeoutExpired` is raised.
        :param env: extra environment, see :meth:`child_env`.
        :param check: raise :class:`subprocess.CalledProcessError` on a non-zero exit.
        :returns: the finished process with text ``stdout`` and ``stderr``.
        """
        return subprocess.run(['ip', 'netns', 'exec', self.netns(host), *map(str, argv)],
                              env=self.child_env(env), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def kill(self, host: str, sig: int = signal.SIGKILL, timeout: float = 5.0) -> int:
        """
        Simulate a dead peer: signal every running process started on ``host``.

        :param host: one of the lab's hosts.
        :param sig: signal to send (default SIGKILL: no graceful shutdown).
        :param timeout: seconds to wait for the processes to exit.
        :returns: how many processes were signalled.
        """
        alive = [p for p in self._procs[host] if p.poll() is None]
        for proc in _signal_and_wait(alive, sig, timeout):
            _LOG.warning('pid %d on %s still running after signal %d', proc.pid, host, sig)
        return len(alive)

    # -- link control ------------------------------------------------------------------

    def isolate(self, host: str) -> None:
        """
        Partition ``host``: take its switch port down (like pulling its cable).

        Its processes keep running; packets it sends are dropped and nothing reaches it.
        """
        _sh(['ip', '-n', self.switch_netns, 'link', 'set', self._port(host), 'down'])

    def restore(self, host: str) -> None:
        """Reconnect a host taken off with :meth:`isolate`."""
        _sh(['ip', '-n', self.switch_netns, 'link', 'set', self._port(host), 'up'])
        ns = self.netns(host)
        _sh(['ip', '-n', ns, 'link', 'set', _HOST_DEV, 'up'])
        _sh(['ip', '-n', ns, 'route', 'replace', '224.0.0.0/4', 'dev', _HOST_DEV])

    def shape(self, host: str, rate_mbit: float, burst_kbyte: Optional[float] = None,
              latency_ms: float = 100.0) -> None:
        """
        Limit ``host``'s link to ``rate_mbit`` in both directions with ``tbf``.

        Replaces any previous shaping of that link.

        :param host: one of the lab's hosts.
        :param rate_mbit: rate in Mbit/s (> 0), applied to host egress and ingress.
        :param burst_kbyte: token-bucket size in KiB, see :func:`shaping.burst_bytes`.
        :param latency_ms: longest queueing delay before packets are dropped.
        """
        for ns, dev in ((self.netns(host), _HOST_DEV), (self.switch_netns, self._port(host))):
            _sh(shaping.tbf_argv(ns, dev, rate_mbit, burst_kbyte, latency_ms))
        _LOG.debug('shaped %s to %g Mbit/s', host, rate_mbit)

    def unshape(self, host: str) -> None:
        """Remove the shaping of ``host``'s link (no error if there was none)."""
        for ns, dev in ((self.netns(host), _HOST_DEV), (self.switch_netns, self._port(host))):
            _sh(shaping.clear_argv(ns, dev), check=False)

    def qdisc(self, host: str) -> str:
        """Return ``tc qdisc show`` of both ends of ``host``'s link (for debugging)."""
        out = []
        for ns, dev in ((self.netns(host), _HOST_DEV), (self.switch_netns, self._port(host))):
            out.append(_sh(['tc', '-n', ns, 'qdisc', 'show', 'dev', dev]).stdout.strip())
        return '\n'.join(out)
