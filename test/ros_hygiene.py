"""What a test session leaves on the machine: live DDS domains, stray processes, zombie shm.

Node processes orphaned by an interrupted run (session 9) kept serving ``/shared_queue/pull``
and discovery in a domain id that a later test took again: that test's queue saw no items.
So tests take only domains no live participant uses, and a session kills what it started
and left running. (The ``destroy_node`` hangs seen in the same loops were not caused by the
orphans: they are a Fast DDS livelock, ``docs/faults.md``.)
"""

import os
import shutil
import signal
import subprocess
import uuid
from typing import List, Set, Tuple

#: Fast DDS port mapping (RTPS spec defaults): domain d uses ports PB + DG * d + [0, DG).
PORT_BASE = 7400
DOMAIN_GAIN = 250
#: Every process a session starts inherits this variable, so strays can be found by it.
SESSION_VAR = 'EDGESERVE_TEST_SESSION'


def bound_udp_ports() -> Set[int]:
    """Return the local ports of every UDP socket bound in this network namespace."""
    ports = set()
    for table in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ports.add(int(row.split()[1].rsplit(':', 1)[1], 16))
    return ports


def domain_in_use(domain: int, ports: Set[int]) -> bool:
    """Whether a DDS participant (any process, ours or not) holds a port of ``domain``."""
    low = PORT_BASE + DOMAIN_GAIN * domain
    return any(low <= port < low + DOMAIN_GAIN for port in ports)


def mark_session() -> str:
    """Give this session a token in ``os.environ`` that every child process inherits."""
    token = os.environ.setdefault(SESSION_VAR, uuid.uuid4().hex)
    return token


def session_processes(token: str) -> List[Tuple[int, str, str]]:
    """
    Return ``(pid, command, kind)`` of every other live process that inherited ``token``.

    ``kind`` is ``watcher`` for a node's teardown watcher (``spin.arm_native_dump``: a shell
    that sleeps a few seconds after the node stopped), else ``process``.
    """
    needle = f'{SESSION_VAR}={token}'.encode()
    watcher = b'EDGESERVE_TEARDOWN_WATCHER=1'  # spin.WATCHER_ENV
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f'/proc/{entry}/environ', 'rb') as f:
                env = f.read().split(b'\0')
            if needle not in env:
                continue
            kind = 'watcher' if watcher in env else 'process'
            with open(f'/proc/{entry}/stat') as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    continue
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmd = f.read().replace(b'\0', b' ').decode(errors='replace')[:160]
        except OSError:
            continue
        found.append((int(entry), cmd, kind))
    return found


def kill_strays(token: str) -> List[Tuple[int, str]]:
    """
    SIGKILL every live process of this session except this one; return what was killed.

    Teardown watchers are killed too but not returned: they are no test's leftovers.
    """
    strays = session_processes(token)
    for pid, _, _ in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return [(pid, cmd) for pid, cmd, kind in strays if kind == 'process']


def clean_zombie_shm() -> str:
    """Remove Fast DDS shared-memory files whose owner died (``fastdds shm clean``)."""
    tool = shutil.which('fastdds')
    if tool is None:
        return 'fastdds not on PATH: shared memory not cleaned'
    try:
        out = subprocess.run([tool, 'shm', 'clean'], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f'fastdds shm clean failed: {exc}'
    return ' '.join(out.stdout.split())
