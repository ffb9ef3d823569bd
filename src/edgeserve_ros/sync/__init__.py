"""
edgeserve_ros.sync: rclpy-free bounded-skew stream synchronizer.

See :mod:`.core` for the semantics, :mod:`.clock` for clock offset estimation
and :mod:`.replay` for the trace replay CLI (with stock ROS 1 baselines).
"""

from .clock import EnvelopeOffsetEstimator, PingOffsetEstimator, StampCorrector
from .config import StreamSpec, SyncConfig
from .core import Synchronizer
from .stats import StreamStats, SyncStats
from .types import FRESH, HeaderEvent, IMPUTED, Member, REUSED, SyncTuple

__all__ = [
    'EnvelopeOffsetEstimator', 'FRESH', 'HeaderEvent', 'IMPUTED', 'Member',
    'PingOffsetEstimator', 'REUSED', 'StampCorrector', 'StreamSpec', 'StreamStats',
    'SyncConfig', 'SyncStats', 'SyncTuple', 'Synchronizer',
]
