"""Named QoS profiles used across edgeserve_ros."""

import copy

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

#: Payload headers: reliable, a deep history so bursts of tiny headers are not lost.
HEADER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
#: Eager headers carry payloads inline: a short history bounds the memory they hold.
EAGER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
#: Synchronized tuples and predictions.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
#: Metrics and statistics: losing one is harmless.
METRICS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.VOLATILE)
#: FetchPayload service and clients. The default service depth (10) loses replies when
#: several consumers fetch at once (replies are delivered to every client of a service and
#: each drops the others'), which surfaced as 10 s fetch timeouts in bench/fanout.py. Lost
#: reply fragments are repaired at the next writer heartbeat: see config/fastdds.xml.
FETCH_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=64,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
#: A launcher's start barrier: latched, so a source that joins late still gets it.
START_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: Item accounts (``edgeserve_ros.ros.account``): latched, the newest per node.
ACCOUNT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: Reading item accounts: KEEP_LAST counts samples of every writer together (one instance
#: of a keyless topic), so a reader of depth 1 loses the accounts of all but one node.
ACCOUNT_READER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=500,
                                reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)


def with_lifespan(profile: QoSProfile, seconds: float) -> QoSProfile:
    """Return ``profile`` with a lifespan of ``seconds`` (``profile`` itself for 0)."""
    if seconds <= 0:
        return profile
    out = copy.copy(profile)
    out.lifespan = Duration(nanoseconds=int(round(seconds * 1e9)))
    return out
