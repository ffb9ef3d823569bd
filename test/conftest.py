"""Shared fixtures: an isolated ROS 2 context and domain id per test."""

import itertools
import os
import pathlib
import shutil
import tempfile
import time

import pytest
import ros_hygiene

#: ``EDGESERVE_NATIVE_DUMP_DIR=folder``: nodes stuck in teardown write native stacks there
#: (``ros/spin.py``). On by default where elfutils' eu-stack is installed (0.1 s a dump); gdb
#: alone took 47 s to attach beside 2 CPU burners, so it stays opt-in.
if shutil.which('eu-stack'):
    os.environ.setdefault('EDGESERVE_NATIVE_DUMP_DIR',
                          os.path.join(tempfile.gettempdir(), 'edgeserve_native_dumps'))
NATIVE_DUMPS = os.environ.get('EDGESERVE_NATIVE_DUMP_DIR', '')
#: Lines of each dump printed in the summary (CI keeps only the log).
DUMP_LINES = 400
_SESSION_START = time.time()
#: ``bench/fuzz.py``'s control runs (``FUZZ_CONTROL=1``): the fuzz tests draw their inputs as
#: usual and skip the code under test, so hypothesis's own memory growth is measured apart.
FUZZ_CONTROL = os.environ.get('FUZZ_CONTROL') == '1'
_FUZZ_LOG = os.environ.get('FUZZ_RSS_LOG', '')
_FUZZ_EVERY = max(1, int(os.environ.get('FUZZ_EXAMPLES', '0') or 0) // 20)
_FUZZ_CASES = itertools.count(1)


def fuzz_case() -> bool:
    """Count one fuzz case (its inputs drawn); return whether to skip the code under test.

    With ``FUZZ_RSS_LOG`` set, every 5 % of ``FUZZ_EXAMPLES`` cases appends ``case rss_bytes``
    to that file, so ``bench/fuzz.py`` compares a target and its control at equal case counts.
    """
    case = next(_FUZZ_CASES)
    if _FUZZ_LOG and case % _FUZZ_EVERY == 0:
        with open('/proc/self/statm') as f:
            rss = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        with open(_FUZZ_LOG, 'a') as f:
            f.write(f'{case} {rss}\n')
    return FUZZ_CONTROL


_SESSION = ros_hygiene.mark_session()
_HYGIENE = {}


def pytest_sessionstart(session):
    """Clear Fast DDS shared memory that killed participants left (earlier runs, kill -9)."""
    _HYGIENE['shm'] = ros_hygiene.clean_zombie_shm()  # reported in the summary


def pytest_sessionfinish(session, exitstatus):
    """Kill every process this session started and left running (it would haunt a domain)."""
    _HYGIENE['strays'] = ros_hygiene.kill_strays(_SESSION)


def pytest_terminal_summary(terminalreporter):
    """Report the session's hygiene; name native backtraces of nodes stuck in teardown."""
    if _HYGIENE.get('shm'):
        terminalreporter.write_line(f'session start, fastdds shm clean: {_HYGIENE["shm"]}')
    strays = _HYGIENE.get('strays')
    if strays:
        terminalreporter.section('processes left running by tests (killed)')
        for pid, cmd in strays:
            terminalreporter.write_line(f'{pid}: {cmd}')
    if not NATIVE_DUMPS:
        return
    dumps = sorted(p for p in pathlib.Path(NATIVE_DUMPS).glob('*.txt')
                   if p.stat().st_mtime >= _SESSION_START)
    if dumps:
        terminalreporter.section('nodes stuck in teardown (native stacks)')
        for path in dumps:
            terminalreporter.write_line(f'--- {path}')
            for line in path.read_text(errors='replace').splitlines()[:DUMP_LINES]:
                terminalreporter.write_line(line)


def _domain_range() -> range:
    """Domain ids this session may use: ``EDGESERVE_TEST_DOMAINS=LO-HI`` or 1-101.

    Above 101, Fast DDS's ports (7400 + 250 * id + ...) fall into Linux's ephemeral range
    (32768-60999), where any process's outgoing socket can take them.
    """
    text = os.environ.get('EDGESERVE_TEST_DOMAINS', '1-101')
    low, _, high = text.partition('-')
    ids = range(int(low), int(high or low) + 1)
    if not ids or ids.start < 0 or ids.stop > 102:
        raise pytest.UsageError(f'EDGESERVE_TEST_DOMAINS={text!r}: expected LO-HI within 0-101')
    return ids


_DOMAINS = _domain_range()
_DOMAIN_IDS = itertools.count(os.getpid() * 7)


def next_domain_id() -> int:
    """Return the next domain id of this session's range (cycling) that no process uses.

    A domain with a live participant (a test's node still stopping, another run, an orphan)
    is skipped: see ``ros_hygiene``.
    """
    ports = ros_hygiene.bound_udp_ports()
    for _ in _DOMAINS:
        domain = _DOMAINS[next(_DOMAIN_IDS) % len(_DOMAINS)]
        if not ros_hygiene.domain_in_use(domain, ports):
            return domain
    raise RuntimeError(f'every domain id of {_DOMAINS} has a live DDS participant')


@pytest.fixture
def domain_id() -> int:
    """Give a test its own ROS domain id, so concurrent tests and runs never cross-talk."""
    return next_domain_id()


@pytest.fixture(scope='session')
def models_dir(tmp_path_factory):
    """One trained-model cache for every topology test of the session.

    ``workloads.prepare.models_file`` keys files by workload, seed and streams, and training
    is seeded, so every test gets the models it would train itself (HAR took 7-14 s a time).
    """
    return tmp_path_factory.mktemp('topology_models')


@pytest.fixture
def ros_context(domain_id):
    """Yield an initialised rclpy Context on the test's own domain id; shut it down after."""
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.context.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)


@pytest.fixture
def procs(domain_id, tmp_path):
    """Start nodes as processes on the test's domain id (see ``ros_processes``); stop them."""
    from ros_processes import Processes

    processes = Processes(domain_id, tmp_path)
    yield processes
    processes.close()


@pytest.fixture
def spinner(ros_context):
    """Spin nodes added with ``spinner.add(node)`` in a background SingleThreadedExecutor.

    The nodes' own executor (``run_node``): every edgeserve_ros callback is asynchronous.
    rclpy's MultiThreadedExecutor spends its thread scanning the task list of many nodes
    (rclpy issue 1223) and starved timers and services under load.
    """
    from rclpy.executors import SingleThreadedExecutor

    from edgeserve_ros.ros.spin import BackgroundSpinner

    spinner = BackgroundSpinner(SingleThreadedExecutor(context=ros_context), destroy_nodes=True)
    try:
        yield spinner
    finally:
        assert spinner.close(), 'the spin thread still ran 30 s after the executor shutdown'


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
