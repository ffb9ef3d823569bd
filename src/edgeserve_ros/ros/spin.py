"""
The ``main()`` of every edgeserve_ros node: init, build, spin, shut down.

The executor is chosen by ``EDGESERVE_EXECUTOR``: ``single`` (default:
SingleThreadedExecutor; every edgeserve_ros node is asynchronous, and in Python one thread
dispatches callbacks with less overhead than several fighting over the GIL, see
bench/results/sync_throughput.md) or ``multi`` (MultiThreadedExecutor). rclpy's experimental
EventsExecutor is not offered: in Jazzy 7.1.6 its ``spin()`` did not return after
``rclpy.shutdown()`` or SIGTERM, and held a core at 100%.
Invalid parameters end the process with exit code 2 and an error naming them.
"""

from __future__ import annotations

import os
import threading
from typing import Callable, List, Optional

import rclpy
from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                             SingleThreadedExecutor)
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.ros.params import ParameterError

EXECUTORS = ('single', 'multi')
RCLError = _rclpy.RCLError


def make_executor(kind: Optional[str] = None) -> rclpy.executors.Executor:
    """Return a new executor of ``kind`` (default: ``$EDGESERVE_EXECUTOR`` or single)."""
    kind = kind or os.environ.get('EDGESERVE_EXECUTOR', 'single')
    if kind not in EXECUTORS:
        raise ValueError(f'EDGESERVE_EXECUTOR={kind!r}: expected one of {", ".join(EXECUTORS)}')
    return SingleThreadedExecutor() if kind == 'single' else MultiThreadedExecutor()


class BackgroundSpinner:
    """
    Spin ``executor`` on a daemon thread (tests, benchmarks); ``add`` nodes to it.

    :param executor: the executor to spin (e.g. :func:`make_executor`)
    :param destroy_nodes: destroy the added nodes on :meth:`close`
    """

    def __init__(self, executor: rclpy.executors.Executor, *nodes: Node,
                 destroy_nodes: bool = False) -> None:
        self.executor = executor
        self.nodes: List[Node] = []
        self.destroy_nodes = destroy_nodes
        for node in nodes:
            self.add(node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - context shut down under the executor
            pass

    def add(self, node: Node) -> Node:
        """Spin ``node`` too; return it."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def close(self) -> None:
        """Stop spinning (and destroy the added nodes if asked)."""
        self.executor.shutdown(timeout_sec=2.0)
        if self.destroy_nodes:
            for node in self.nodes:
                node.destroy_node()


def run_node(factory: Callable[[], Node], name: str, args: Optional[List[str]] = None,
             until: str = '', linger: float = 0.0) -> int:
    """
    Run the node ``factory()`` builds until shutdown.

    :param until: name of a :class:`Future` attribute of the node; the run also ends when
        it completes (e.g. a consumer that got the payloads it expected)
    :param linger: seconds to keep serving after ``until`` completed (late fetches)
    :returns: 0, or 2 when the node refused its parameters
    """
    try:
        rclpy.init(args=args)
    except RCLError as exc:  # unparsable --ros-args (e.g. -p key:=['unclosed)
        rclpy.logging.get_logger(name).error(f'cannot initialise ROS 2 (arguments or '
                                             f'security settings): {exc}')
        return 2
    try:
        node = factory()
    except (ParameterError, ValueError) as exc:
        rclpy.logging.get_logger(name).error(str(exc))
        rclpy.try_shutdown()
        return 2
    executor = make_executor()
    executor.add_node(node)
    try:
        done: Optional[Future] = getattr(node, until) if until else None
        if done is not None:
            executor.spin_until_future_complete(done)
            if linger > 0:
                executor.spin_until_future_complete(Future(), timeout_sec=linger)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except SystemError as exc:  # Ctrl-C inside a C++ call (e.g. a service's send_response)
        if not isinstance(exc.__cause__, KeyboardInterrupt):
            raise
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
