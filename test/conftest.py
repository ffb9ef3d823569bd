"""Shared fixtures: an isolated ROS 2 context and domain id per test."""

import itertools
import os

import pytest

_DOMAIN_IDS = itertools.count((os.getpid() * 7) % 100 + 1)


def next_domain_id() -> int:
    """Return a ROS domain id not used by another test of this session (1..200)."""
    return next(_DOMAIN_IDS) % 200 + 1


@pytest.fixture
def domain_id() -> int:
    """Give a test its own ROS domain id, so concurrent tests and runs never cross-talk."""
    return next_domain_id()


@pytest.fixture
def ros_context(domain_id):
    """Yield an initialised rclpy Context on the test's own domain id; shut it down after."""
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.context.Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)
