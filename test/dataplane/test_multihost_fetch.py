"""A consumer on one host fetches payloads from a source on another, over UDP (veth)."""

import json
import pathlib
import sys

import pytest

from edgeserve_ros.ros.dds_profile import profile_env
from edgeserve_ros.topology.netns import NetnsLab, netns_available

pytestmark = [pytest.mark.multihost, pytest.mark.ros]
PEER = str(pathlib.Path(__file__).with_name('fetch_peer.py'))
CONFIG = str(pathlib.Path(__file__).parents[2] / 'config')


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
        assert summary['verified'] == summary['fetched'] >= 5
        assert summary['paths'] == ['service']  # another host: no shared memory
        assert all(seq % 2 == 0 for seq in summary['seqs'])  # 1 in 2: odd seqs skipped
        assert source.poll() is None  # the source survives serving another host


@pytest.mark.slow
def test_two_sources_into_a_constrained_host_with_paced_writers(domain_id):
    """Two 2 MB replies at once into a 20 Mbit/s link: paced writers lose no fetch."""
    # without pacing, DDS bursts each reply at veth speed into the tbf queue; most IP
    # fragments are dropped, the repair rounds are dropped again and the fetches time out
    paced = dict(profile_env(CONFIG, 'fastdds_constrained'),
                 RMW_FASTRTPS_PUBLICATION_MODE='ASYNCHRONOUS')
    with NetnsLab(['r1', 'r2', 'server'], domain_id=domain_id) as lab:
        lab.shape('server', 20.0)
        consumers = [lab.popen('server', [sys.executable, PEER, f'/{r}/cam', '3', '--every-k',
                                          '2', '--retries', '0', '--timeout', '20', '--no-shm'],
                               env=paced, stdout=-1, text=True) for r in ('r1', 'r2')]
        for r in ('r1', 'r2'):
            lab.popen(r, [sys.executable, '-m', 'edgeserve_ros.dataplane.source_node',
                          '--ros-args', '-r', f'__node:=src_{r}', '-p', f'stream:=/{r}/cam',
                          '-p', 'pattern:=bytes', '-p', 'payload_bytes:=2000000',
                          '-p', 'rate_hz:=1.0', '-p', 'count:=60'], env=paced)
        summaries = [json.loads(c.communicate(timeout=90)[0].strip().splitlines()[-1])
                     for c in consumers]
    print(f'\npaced fetches into a 20 Mbit/s host: {summaries}'[:300])
    for s in summaries:
        assert s['verified'] == s['fetched'] >= 3 and s['statuses'] == ['OK'], s
        assert s['slowest'] < 10.0  # 2 MB at the 1 MB/s pace: about 2 s
