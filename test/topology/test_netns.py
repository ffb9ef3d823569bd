"""Tests of the network-namespace multi-host harness (edgeserve_ros.topology.netns)."""

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from edgeserve_ros.topology import shaping
from edgeserve_ros.topology.netns import NetnsLab, cleanup_stale, list_netns, netns_available

PEERS = str(Path(__file__).with_name('netns_peers.py'))
AVAILABLE, REASON = netns_available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=REASON or 'netns available')
PAYLOAD = 2 * 1024 * 1024
TCP_PORT = '5001'


def peer(mode: str, *args: object) -> List[str]:
    """Return the argv that runs one mode of the helper program."""
    return [sys.executable, PEERS, mode, *map(str, args)]


class LineReader:
    """Collect a child's stdout lines in a thread so tests can wait with timeouts."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: List[str] = []
        self._queue: 'queue.Queue[Optional[str]]' = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self._queue.put(line.rstrip('\n'))
        self._queue.put(None)

    def wait_for(self, pred: Callable[[List[str]], bool], timeout: float) -> bool:
        """Wait until ``pred(lines)`` holds; False on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while not pred(self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return False
            if line is None:
                return pred(self.lines)
            self.lines.append(line)
        return True

    def received(self) -> List[int]:
        """Return the sequence numbers of ``recv N`` lines seen so far."""
        return [int(line.split()[1]) for line in self.lines if line.startswith('recv ')]


def rx_bytes(lab: NetnsLab, host: str) -> int:
    """Return the received-bytes counter of ``host``'s eth0."""
    res = lab.run(host, ['cat', '/sys/class/net/eth0/statistics/rx_bytes'], timeout=5)
    return int(res.stdout)


def transfer_s(lab: NetnsLab, sender: str, receiver: str) -> float:
    """Send PAYLOAD bytes over TCP from ``sender`` to ``receiver``; return seconds."""
    sink = lab.popen(receiver, peer('tcp_sink', lab.addr(receiver), TCP_PORT),
                     stdout=subprocess.PIPE, text=True)
    reader = LineReader(sink)
    assert reader.wait_for(lambda lines: 'ready' in lines, 10), reader.lines
    res = lab.run(sender, peer('tcp_send', lab.addr(receiver), TCP_PORT, PAYLOAD), timeout=30)
    assert res.returncode == 0, res.stderr
    assert sink.wait(timeout=10) == 0
    elapsed, got = res.stdout.split()
    assert int(got) == PAYLOAD
    return float(elapsed)


def test_tbf_argv_builds_rate_burst_latency():
    """The tc command carries rate, burst and latency; bad rates are refused."""
    argv = shaping.tbf_argv('ns0', 'eth0', 8, latency_ms=50)
    assert argv[:8] == ['tc', '-n', 'ns0', 'qdisc', 'replace', 'dev', 'eth0', 'root']
    assert argv[argv.index('rate') + 1] == '8000kbit'
    assert int(argv[argv.index('burst') + 1]) >= shaping.MIN_BURST_BYTES
    assert argv[argv.index('latency') + 1] == '50ms'
    assert shaping.burst_bytes(1000) == 1_250_000
    with pytest.raises(ValueError):
        shaping.tbf_argv('ns0', 'eth0', 0)


@pytest.mark.multihost
@needs_netns
def test_ping_between_hosts():
    """Hosts reach each other over the bridge; the root namespace is untouched."""
    with NetnsLab(hosts=['src', 'dst', 'other']) as lab:
        res = lab.run('src', peer('ping', lab.addr('dst'), 2), timeout=10)
        assert res.returncode == 0, res.stdout + res.stderr
        res = lab.run('other', peer('ping', lab.addr('src'), 1), timeout=10)
        assert res.returncode == 0, res.stdout + res.stderr
        # The lab is isolated from the root namespace: its addresses are not reachable here.
        assert lab.addr('dst') not in subprocess.run(['ip', '-4', 'addr'], capture_output=True,
                                                     text=True).stdout


@pytest.mark.multihost
@pytest.mark.ros
@needs_netns
def test_ros_string_crosses_hosts_over_udp(domain_id):
    """A std_msgs/String publisher in host a reaches a subscriber in host b."""
    pytest.importorskip('rclpy')
    with NetnsLab(hosts=['a', 'b'], domain_id=domain_id) as lab:
        before = rx_bytes(lab, 'b')
        sub = lab.popen('b', peer('ros_sub', 'chatter', 5, 40), stdout=subprocess.PIPE,
                        text=True)
        lab.popen('a', peer('ros_pub', 'chatter', 20, 45))
        reader = LineReader(sub)
        assert reader.wait_for(lambda lines: len(reader.received()) >= 5, 40), reader.lines
        assert sub.wait(timeout=10) == 0
        # The data came over the veth (UDPv4), not through shared memory.
        assert rx_bytes(lab, 'b') - before > 5 * 20


@pytest.mark.multihost
@needs_netns
def test_tbf_shaping_limits_throughput():
    """An 8 Mbit/s tbf slows 2 MiB over TCP to ~2 s in both directions."""
    with NetnsLab(hosts=['src', 'dst']) as lab:
        free = transfer_s(lab, 'src', 'dst')
        lab.shape('dst', 8)
        to_dst = transfer_s(lab, 'src', 'dst')      # limited by the switch-side tbf
        from_dst = transfer_s(lab, 'dst', 'src')    # limited by the host-side tbf
        lab.unshape('dst')
        free_again = transfer_s(lab, 'src', 'dst')
    ideal = PAYLOAD * 8 / 8e6
    print(f'2 MiB: unshaped {free:.3f}s/{free_again:.3f}s, 8 Mbit/s in {to_dst:.3f}s, '
          f'out {from_dst:.3f}s (ideal {ideal:.3f}s)')
    assert to_dst >= 1.5 and from_dst >= 1.5
    assert to_dst < 3 * ideal and from_dst < 3 * ideal
    assert free < 0.5 and free_again < 0.5
    assert max(free, free_again) * 5 < min(to_dst, from_dst)


@pytest.mark.multihost
@pytest.mark.ros
@needs_netns
def test_isolate_stops_delivery_and_restore_resumes(domain_id):
    """isolate() cuts delivery, restore() resumes it, kill() ends the peer."""
    pytest.importorskip('rclpy')
    with NetnsLab(hosts=['a', 'b'], domain_id=domain_id) as lab:
        sub = lab.popen('b', peer('ros_sub', 'chatter', 100000, 50), stdout=subprocess.PIPE,
                        text=True)
        pub = lab.popen('a', peer('ros_pub', 'chatter', 20, 50))
        reader = LineReader(sub)
        assert reader.wait_for(lambda lines: len(reader.received()) >= 3, 40), reader.lines

        lab.isolate('a')
        reader.wait_for(lambda lines: False, 0.5)       # let in-flight samples drain
        during = len(reader.received())
        reader.wait_for(lambda lines: False, 1.5)       # absence window: nothing may arrive
        assert len(reader.received()) == during, 'samples crossed an isolated link'

        lab.restore('a')
        last = max(reader.received())
        assert reader.wait_for(lambda lines: max(reader.received()) > last + 3, 20), \
            reader.lines[-5:]

        assert lab.kill('a') == 1
        assert pub.returncode == -9
        reader.wait_for(lambda lines: False, 0.5)
        after_kill = len(reader.received())
        reader.wait_for(lambda lines: False, 1.0)
        assert len(reader.received()) == after_kill, 'a killed peer kept publishing'
        assert sub.poll() is None


@pytest.mark.multihost
@needs_netns
def test_teardown_removes_namespaces_and_processes():
    """Leaving the lab kills its processes (even stubborn ones) and namespaces."""
    lab = NetnsLab(hosts=['x', 'y'], rate_mbit=50, stop_timeouts=(1.0, 0.5, 2.0))
    with lab:
        names = [lab.netns('x'), lab.netns('y'), lab.switch_netns]
        assert set(names) <= set(list_netns())
        assert 'rate 50Mbit' in lab.qdisc('x')
        # A process that ignores SIGINT and SIGTERM must still be stopped (SIGKILL).
        stubborn = lab.popen('x', [sys.executable, '-c',
                                   'import signal, time\n'
                                   'signal.signal(signal.SIGINT, signal.SIG_IGN)\n'
                                   'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
                                   'print("up", flush=True)\n'
                                   'time.sleep(60)\n'], stdout=subprocess.PIPE, text=True)
        assert LineReader(stubborn).wait_for(lambda lines: 'up' in lines, 10)
        polite = lab.popen('y', ['sleep', '60'])
    assert stubborn.returncode == -9
    assert polite.returncode is not None
    left = [name for name in list_netns() if name.startswith(lab.prefix)]
    assert left == []


@pytest.mark.multihost
@needs_netns
def test_cleanup_stale_removes_only_dead_owners():
    """cleanup_stale() deletes namespaces of dead owners only."""
    dead = subprocess.Popen(['true'])
    dead.wait()
    stale = f'es{dead.pid}l0h0'
    mine = f'es{os.getpid()}l999h0'
    for name in (stale, mine):
        subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        removed = cleanup_stale('es')
        assert stale in removed
        assert mine not in removed
        assert stale not in list_netns() and mine in list_netns()
    finally:
        for name in (stale, mine):
            subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
