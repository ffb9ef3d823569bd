"""The parameters every stream-publishing node declares, and the options they make."""

from __future__ import annotations

from typing import Any, Mapping

from edgeserve_ros.dataplane.delivery import (
    DEFAULT_AUTO_THRESHOLD, DEFAULT_SERVICE_THRESHOLD, DeliveryMode)
from edgeserve_ros.dataplane.source import StreamOptions
from edgeserve_ros.ros.params import ParamSpec

#: shared with the workload sources (their own ring parameters are the same keys)
HEADER_LIFESPAN = ParamSpec('header_lifespan', 0.0, 'Seconds a header stays in the writer '
                            'history (DDS lifespan; 0: unbounded): after an outage only '
                            'newer headers are re-sent.', 0.0, 86400.0)
STREAM_PARAMS = [
    ParamSpec('delivery', 'lazy', 'Payload delivery mode.', choices=('lazy', 'eager', 'auto')),
    ParamSpec('auto_threshold', DEFAULT_AUTO_THRESHOLD,
              'Auto mode: payloads up to this many bytes go inline while every consumer '
              'reads the shared-memory ring.', 0, 1 << 30),
    ParamSpec('auto_service_threshold', DEFAULT_SERVICE_THRESHOLD,
              'Auto mode: the same while consumers fetch through the service (another host, '
              'or use_shm false).', 0, 1 << 30),
    ParamSpec('capacity_bytes', 256 << 20, 'Byte budget of the payload ring.', 4096, 1 << 36),
    ParamSpec('ttl', 10.0, 'Seconds a payload stays fetchable.', 0.001, 86400.0),
    ParamSpec('use_shm', True, 'Keep payloads in shared memory for same-host consumers.'),
    HEADER_LIFESPAN,
]


def stream_options(p: Mapping[str, Any], **extra: Any) -> StreamOptions:
    """Return the :class:`StreamOptions` of declared ``STREAM_PARAMS`` values ``p``."""
    return StreamOptions(capacity_bytes=p['capacity_bytes'], ttl=p['ttl'],
                         delivery=DeliveryMode.parse(p['delivery']),
                         auto_threshold=p['auto_threshold'],
                         auto_service_threshold=p['auto_service_threshold'],
                         use_shm=p['use_shm'], header_lifespan=p['header_lifespan'], **extra)
