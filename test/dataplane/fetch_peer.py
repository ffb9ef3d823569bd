"""Consumer process for multi-host tests: fetch N payloads of a stream, print a JSON summary.

Usage: python fetch_peer.py TOPIC N [EVERY_K]   (exit 0 when all N kept payloads verified)
"""

import json
import sys
import threading
import time
import zlib

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.qos import HEADER_QOS


def main() -> int:
    topic, wanted = sys.argv[1], int(sys.argv[2])
    every_k = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rclpy.init()
    node = Node('fetch_peer')
    fetcher = PayloadFetcher(node, timeout=2.0, retries=2)
    results, seen = [], []
    lock = threading.Lock()

    def on_header(header):
        seen.append(header.seq)
        if header.seq % every_k == 0 and len(results) < wanted:
            fetcher.fetch_async(header).add_done_callback(
                lambda f: (lock.acquire(), results.append(f.result()), lock.release()))

    node.create_subscription(PayloadHeader, topic, on_header, HEADER_QOS)
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + 30.0
    while len(results) < wanted and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    ok = [r for r in results if r.ok and zlib.crc32(r.data) == r.header.crc32]
    summary = {'seen': len(seen), 'fetched': len(results), 'verified': len(ok),
               'paths': sorted({r.path for r in results}),
               'statuses': sorted({r.status.name for r in results}),
               'seqs': sorted(r.header.seq for r in results),
               'hosts': sorted({r.header.host_id for r in results})}
    print(json.dumps(summary), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0 if len(ok) == wanted else 1


if __name__ == '__main__':
    sys.exit(main())
