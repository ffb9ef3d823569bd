"""A real source process under hostile FetchPayload requests: small answers, flat memory."""

from conftest import wait_for
import pytest
from rclpy.node import Node

from edgeserve_ros.dataplane.status import FetchStatus
from edgeserve_ros.msg import PayloadHeader, SourceStats
from edgeserve_ros.ros.qos import FETCH_QOS, HEADER_QOS, METRICS_QOS
from edgeserve_ros.srv import FetchPayload

pytestmark = pytest.mark.ros
HOSTILE = 1000


def _rss_mb(pid):
    with open(f'/proc/{pid}/status') as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith('VmRSS:'))


def _call_all(client, requests, window=32):
    """Send ``requests`` with at most ``window`` in flight; return the responses."""
    answers, pending = [], []
    for request in requests:
        pending.append(client.call_async(request))
        if len(pending) >= window:
            assert wait_for(lambda: all(f.done() for f in pending), 60.0)
            answers += [f.result() for f in pending]
            pending = []
    assert wait_for(lambda: all(f.done() for f in pending), 60.0)
    return answers + [f.result() for f in pending]


def test_hostile_requests_get_small_answers_and_memory_stays_flat(spinner, ros_context, procs):
    source = procs.start('edgeserve_ros.dataplane.source_node', 'victim', stream='/cam',
                         rate_hz=20.0, pattern='bytes', payload_bytes=1000, use_shm=False,
                         stats_period=0.2)
    node = spinner.add(Node('attacker', context=ros_context))
    headers, stats = [], []
    node.create_subscription(PayloadHeader, '/cam', headers.append, HEADER_QOS)
    node.create_subscription(SourceStats, '/edgeserve/source_stats', stats.append, METRICS_QOS)
    # FETCH_QOS (depth 64) as PayloadFetcher's clients: with the default service QoS (depth
    # 10) a client with 32 requests in flight loses its own replies (KEEP_LAST overwrites)
    client = node.create_client(FetchPayload, '/victim/fetch', qos_profile=FETCH_QOS)
    assert client.wait_for_service(timeout_sec=30.0), procs.log('victim')
    hostile = FetchPayload.Request(stream='x' * 100_000, seqs=list(range(64)))
    warm = _call_all(client, [hostile] * 100)
    before = _rss_mb(source.pid)
    answers = warm + _call_all(client, [hostile] * HOSTILE)
    grown = _rss_mb(source.pid) - before
    print(f'\nsource RSS {before:.0f} MB, +{grown:.1f} MB after {HOSTILE} hostile requests')
    for answer in answers:  # one entry per seq, the name never echoed back
        assert [p.seq for p in answer.payloads] == list(range(64))
        assert {p.status for p in answer.payloads} == {FetchStatus.BAD_REQUEST}
        assert sum(len(p.reason) + len(p.stream) for p in answer.payloads) < 200
    assert grown < 24, f'source RSS grew {grown:.0f} MB over {HOSTILE} hostile requests'
    # the source still serves: a real header's payload is fetched intact
    assert wait_for(lambda: headers, 20.0)
    good = _call_all(client, [FetchPayload.Request(stream='/cam', seqs=[headers[-1].seq])])
    assert good[0].payloads[0].status == FetchStatus.OK
    assert len(good[0].payloads[0].data) == 1000
    # SourceStats accounts for every entry answered
    want = (len(answers) + 1, 1, 64 * len(answers))
    assert wait_for(lambda: stats and (stats[-1].fetch_requests, stats[-1].fetch_ok,
                                       stats[-1].fetch_failed) == want, 20.0), (stats[-1:], want)
