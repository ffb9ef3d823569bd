"""The parameters every stream-publishing node declares, and the options they make."""

from __future__ import annotations

from typing import Any, Mapping

from edgeserve_ros.dataplane.delivery import DEFAULT_AUTO_THRESHOLD, DeliveryMode
from edgeserve_ros.dataplane.source import StreamOptions
from edgeserve_ros.ros.params import ParamSpec

STREAM_PARAMS = [
    ParamSpec('delivery', 'lazy', 'Payload delivery mode.', choices=('lazy', 'eager', 'auto')),
    ParamSpec('auto_threshold', DEFAULT_AUTO_THRESHOLD,
              'Auto mode: payloads up to this many bytes go inline.', 0, 1 << 30),
    ParamSpec('capacity_bytes', 256 << 20, 'Byte budget of the payload ring.', 4096, 1 << 36),
    ParamSpec('ttl', 10.0, 'Seconds a payload stays fetchable.', 0.001, 86400.0),
    ParamSpec('use_shm', True, 'Keep payloads in shared memory for same-host consumers.'),
]


def stream_options(p: Mapping[str, Any], **extra: Any) -> StreamOptions:
    """Return the :class:`StreamOptions` of declared ``STREAM_PARAMS`` values ``p``."""
    return StreamOptions(capacity_bytes=p['capacity_bytes'], ttl=p['ttl'],
                         delivery=DeliveryMode.parse(p['delivery']),
                         auto_threshold=p['auto_threshold'], use_shm=p['use_shm'], **extra)
