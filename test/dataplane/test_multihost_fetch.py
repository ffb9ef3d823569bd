"""A consumer on one host fetches payloads from a source on another, over UDP (veth)."""

import json
import pathlib
import sys

import pytest

from edgeserve_ros.topology.netns import NetnsLab, netns_available

pytestmark = [pytest.mark.multihost, pytest.mark.ros]
PEER = str(pathlib.Path(__file__).with_name('fetch_peer.py'))


@pytest.fixture(autouse=True)
def _need_netns():
    ok, reason = netns_available()
    if not ok:
        pytest.skip(reason)


@pytest.mark.parametrize('rate_mbit', [None, 50.0], ids=['unshaped', 'tbf-50mbit'])
def test_cross_host_fetch_through_service(domain_id, rate_mbit):
    with NetnsLab(['robot', 'server'], rate_mbit=rate_mbit, domain_id=domain_id) as lab:
        consumer = lab.popen('server', [sys.executable, PEER, '/robot/cam', '5', '--every-k', '2'],
                             stdout=-1, text=True)
        source = lab.popen('robot', [
            sys.executable, '-m', 'edgeserve_ros.dataplane.source_node', '--ros-args',
            '-p', 'stream:=/robot/cam', '-p', 'pattern:=array', '-p', 'payload_bytes:=200000',
            '-p', 'rate_hz:=20', '-p', 'count:=200'])
        out, _ = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, out
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary['verified'] == 5
        assert summary['paths'] == ['service']  # another host: no shared memory
        assert all(seq % 2 == 0 for seq in summary['seqs'])  # 1 in 2: odd seqs skipped
        assert source.poll() is None  # the source survives serving another host
