"""Conversions between ROS time messages and float seconds."""

from builtin_interfaces.msg import Time


def to_sec(stamp: Time) -> float:
    """Return a ``builtin_interfaces/Time`` as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def from_sec(seconds: float) -> Time:
    """Return float seconds as a ``builtin_interfaces/Time``."""
    nanos = int(round(seconds * 1e9))
    return Time(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)


def from_ns(nanos: int) -> Time:
    """Return integer nanoseconds as a ``builtin_interfaces/Time``."""
    return Time(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)
