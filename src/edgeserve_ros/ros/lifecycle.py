"""
Managed (lifecycle) nodes that also start on their own, like nav2's ``autostart``.

A node built on :class:`rclpy.lifecycle.LifecycleNode` declares :data:`AUTOSTART`. With
``autostart:=true`` (the default, what ``topology.run``, the launch files and the tests use)
it configures and activates itself in its constructor, and a configuration error ends the
process with exit code 2 naming the culprit, as every other node does. With
``autostart:=false`` it waits in ``unconfigured`` for ``ros2 lifecycle set <node>
configure`` / ``activate`` (or a launch ``ChangeState`` event); a failed transition is logged
with its reason and leaves the node where it was, alive.

:class:`ManagedNode` is the base of such nodes: rclpy 7.1 (Jazzy) never destroys a
``LifecycleNode``'s state machine (its five services and transition publisher), which kept
about 110 KB per node after ``destroy_node`` (400 model nodes built and destroyed in one
process: RSS +43 MiB, +3 MiB with the state machine destroyed); a node that refuses its
parameters in its constructor is destroyed before the error propagates.
"""

from __future__ import annotations

from typing import Any, Callable

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from edgeserve_ros.ros.params import ParameterError, ParamSpec


class ManagedNode(LifecycleNode):
    """A :class:`LifecycleNode` whose ``destroy_node`` also releases its state machine."""

    def __init__(self, node_name: str, setup: Callable[[], None], **kwargs: Any) -> None:
        """Create the node, then run ``setup``; destroy the node if ``setup`` raises."""
        super().__init__(node_name, **kwargs)
        try:
            setup()
        except BaseException:
            self.destroy_node()
            raise

    def destroy_node(self) -> None:
        """Destroy the node, then its lifecycle state machine (rclpy leaves it alive)."""
        super().destroy_node()
        machine = getattr(self, '_state_machine', None)
        if machine is not None:
            machine.destroy_when_not_in_use()


AUTOSTART = ParamSpec('autostart', True, 'Configure and activate at start-up; false: a managed '
                      'node waiting in unconfigured for `ros2 lifecycle set` transitions.')


def step(node: LifecycleNode, action: Callable[[], None]) -> TransitionCallbackReturn:
    """
    Run one transition's work: SUCCESS, FAILURE on a :class:`ParameterError`, else ERROR.

    The reason is logged and kept in ``node.transition_error`` for :func:`autostart`.
    """
    try:
        action()
    except ParameterError as exc:
        node.transition_error = str(exc)  # type: ignore[attr-defined]
        if not getattr(node, 'autostarting', False):  # else the exit-2 path reports it
            node.get_logger().error(str(exc))
        return TransitionCallbackReturn.FAILURE
    except Exception as exc:  # noqa: BLE001 - rclpy would turn it into a silent ERROR
        reason = f'{node.get_name()}: {type(exc).__name__}: {exc}'
        node.transition_error = reason  # type: ignore[attr-defined]
        node.get_logger().error(reason)
        return TransitionCallbackReturn.ERROR
    return TransitionCallbackReturn.SUCCESS


def autostart(node: LifecycleNode) -> None:
    """Configure and activate ``node``; raise :class:`ParameterError` if either fails."""
    node.autostarting = True  # type: ignore[attr-defined]
    for name, trigger in (('configure', node.trigger_configure),
                          ('activate', node.trigger_activate)):
        result = trigger()
        reason = getattr(node, 'transition_error', '') or f'{node.get_name()}: {name} failed'
        if result == TransitionCallbackReturn.FAILURE:
            raise ParameterError(reason)
        if result != TransitionCallbackReturn.SUCCESS:
            raise RuntimeError(reason)
    node.autostarting = False  # type: ignore[attr-defined]
