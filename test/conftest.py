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


@pytest.fixture
def procs(domain_id, tmp_path):
    """Start nodes as processes on the test's domain id (see ``ros_processes``); stop them."""
    from ros_processes import Processes

    processes = Processes(domain_id, tmp_path)
    yield processes
    processes.close()


@pytest.fixture
def spinner(ros_context):
    """Spin nodes added with ``spinner.add(node)`` in a background MultiThreadedExecutor."""
    from rclpy.executors import MultiThreadedExecutor

    from edgeserve_ros.ros.spin import BackgroundSpinner

    spinner = BackgroundSpinner(MultiThreadedExecutor(num_threads=4, context=ros_context),
                                destroy_nodes=True)
    try:
        yield spinner
    finally:
        spinner.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
