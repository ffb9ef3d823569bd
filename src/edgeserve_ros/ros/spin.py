"""
The ``main()`` of every edgeserve_ros node: init, build, spin, shut down.

The executor is chosen by ``EDGESERVE_EXECUTOR``: ``single`` (default:
SingleThreadedExecutor; every edgeserve_ros node is asynchronous, and in Python one thread
dispatches callbacks with less overhead than several fighting over the GIL, see
bench/results/sync_throughput.md) or ``multi`` (MultiThreadedExecutor). rclpy's experimental
EventsExecutor is not offered: in Jazzy 7.1.6 its ``spin()`` did not return after
``rclpy.shutdown()`` or SIGTERM, and held a core at 100%.
Invalid parameters end the process with exit code 2 and an error naming them.

Ctrl-C reaches a launched node twice (from the terminal's process group and from
``ros2 launch``), and Python's default SIGINT handler raises ``KeyboardInterrupt`` wherever the
main thread happens to be: inside ``destroy_node()`` or inside a C++ call such as
``take_message`` (where pybind11 turns it into a ``RuntimeError``). :func:`stop_signals`
therefore replaces it, before ``rclpy.init``, with a handler that only records the signal:
rclpy's own handler, which chains to it, shuts the context down, the executor returns and the
node is torn down once, whatever number of signals follows. A node still stopping
:data:`TEARDOWN_DUMP_S` after the first signal (or after its spin ended) writes every
thread's stack to stderr (``faulthandler``), so a hang leaves its cause behind. Where
``$EDGESERVE_NATIVE_DUMP_DIR`` names a folder, it also writes the native stack of every
thread there (a hang inside the middleware shows no Python frame below the call that entered
it): with elfutils' ``eu-stack`` (0.1 s for a process with torch loaded, beside 2 CPU
burners), else with gdb (47 s to attach there: often too late). One still stopping
:data:`TEARDOWN_ABANDON_S` after its spin ended exits with status 0 from a C timer
(:mod:`.exit_watchdog`): its work is done, only the middleware's teardown is left, stuck in
a Fast DDS livelock with the GIL held, which ``ros2 launch`` would end with SIGKILL.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Callable, Iterator, List, Optional

import rclpy
from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                             SingleThreadedExecutor)
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.task import Future

from edgeserve_ros.ros import exit_watchdog
from edgeserve_ros.ros.params import ParameterError

EXECUTORS = ('single', 'multi')
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RCLError = _rclpy.RCLError
#: Seconds after the first stop signal before a node still stopping dumps its stacks
#: (``ros2 launch`` escalates to SIGTERM after 5 s).
TEARDOWN_DUMP_S = 4.0
#: Seconds after its spin ended before a node stuck in middleware teardown exits with status
#: 0 anyway (``exit_watchdog``: Fast DDS 2.14 can livelock deleting the participant); after
#: the dumps above, before ``ros2 launch``'s SIGKILL 10 s after Ctrl-C.
TEARDOWN_ABANDON_S = 6.0
ABANDON_MESSAGE = ('[{name}] teardown stuck in the ROS 2 middleware for %g s (Fast DDS '
                   'participant deletion, see docs/faults.md): exiting with status 0; '
                   'errno' % TEARDOWN_ABANDON_S)
#: Environment variable: folder for native backtraces of a node still stopping.
NATIVE_DUMP_ENV = 'EDGESERVE_NATIVE_DUMP_DIR'
#: Set in the environment of that watcher (and its children), so harnesses can tell it apart.
WATCHER_ENV = 'EDGESERVE_TEARDOWN_WATCHER'
#: Native stack tools, fastest first: ``sh -c`` snippets given $1 delay, $2 pid, $3 tool, $4 file.
_NATIVE_TOOLS = (
    # twice, 1 s apart, with the CPU time used in between (a livelock spins, a deadlock sleeps)
    ('eu-stack', 'p="$2"; cpu() { awk \'{print "utime", $14, "stime", $15}\' /proc/"$p"/stat; }; '
                 '{ cpu; "$3" -p "$2"; sleep 1; cpu; "$3" -p "$2"; } >"$4" 2>&1'),
    ('gdb', '"$3" -nx -batch -iex "set debuginfod enabled off" -p "$2" '
            '-ex "info threads" -ex "thread apply all bt 40" >"$4" 2>&1'),
)


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

    def close(self, timeout: float = 30.0) -> bool:
        """
        Stop spinning, wait for the spin thread, then destroy the added nodes if asked.

        rclpy 7.1.6's ``Executor.shutdown`` returns without waiting for the callback under
        way (its wait is behind ``if not self._is_shutdown`` just after setting it); a node
        destroyed while the spin thread still used it segfaulted in ``destroy_node`` (CI,
        exit 139). The nodes are therefore destroyed only once the thread has ended.

        :param timeout: seconds to wait for the spin thread
        :returns: False if the thread still ran after ``timeout`` (nodes then left alone)
        """
        self.executor.shutdown(timeout_sec=timeout)
        self.thread.join(timeout)
        if self.thread.is_alive():
            return False
        if self.destroy_nodes:
            for node in self.nodes:
                node.destroy_node()
        return True


def arm_native_dump(delay: float = TEARDOWN_DUMP_S) -> Optional[str]:
    """
    Write native stacks to ``$EDGESERVE_NATIVE_DUMP_DIR`` if still alive after ``delay``.

    A detached shell waits, then runs ``eu-stack`` (or gdb) only if the process is still
    alive; nothing happens without the variable or without either tool.

    :returns: the file it would write, or None
    """
    folder = os.environ.get(NATIVE_DUMP_ENV, '')
    tools = [(shutil.which(name), snippet) for name, snippet in _NATIVE_TOOLS] if folder else []
    found = [(tool, snippet) for tool, snippet in tools if tool]
    if not found:
        return None
    tool, snippet = found[0]
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(sys.argv[0] or 'python')
    target = os.path.join(folder, f'{name}-{os.getpid()}-{time.strftime("%H%M%S")}.txt')
    script = f'sleep "$1"; kill -0 "$2" 2>/dev/null || exit 0; {snippet}'
    subprocess.Popen(['sh', '-c', script, 'native-dump', f'{delay:.1f}', str(os.getpid()),
                      tool, target], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True,
                     env=dict(os.environ, **{WATCHER_ENV: '1'}))
    return target


@contextlib.contextmanager
def stop_signals() -> Iterator[List[int]]:
    """
    Record SIGINT and SIGTERM instead of raising; yield the list of signals received.

    Enter before ``rclpy.init`` so that rclpy's handler (which shuts the context down)
    chains to this one. Once a signal came, both are ignored after the block (the process is
    stopping; the duplicate signal must not interrupt its exit). Outside the main thread
    (where Python allows no handler) it only yields an empty list.
    """
    received: List[int] = []

    def record(signum: int, frame: Optional[FrameType]) -> None:
        if not received:
            faulthandler.dump_traceback_later(TEARDOWN_DUMP_S, exit=False)
        received.append(signum)

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, record) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        if received:  # the process exits next: a hang there (threads joined) dumps too
            faulthandler.dump_traceback_later(TEARDOWN_DUMP_S, exit=False)
        else:
            faulthandler.cancel_dump_traceback_later()
        for sig, handler in previous.items():
            # once stopping, ignore the duplicate Ctrl-C that is on its way: Python's exit
            # puts SIG_DFL back for handlers it installed (killing the process), not SIG_IGN
            signal.signal(sig, signal.SIG_IGN if received else handler)


def run_node(factory: Callable[[], Node], name: str, args: Optional[List[str]] = None,
             until: str = '', linger: float = 0.0) -> int:
    """
    Run the node ``factory()`` builds until shutdown.

    :param until: name of a :class:`Future` attribute of the node; the run also ends when
        it completes (e.g. a consumer that got the payloads it expected)
    :param linger: seconds to keep serving after ``until`` completed (late fetches)
    :returns: 0, or 2 when the node refused its parameters
    """
    with stop_signals() as received:
        try:
            rclpy.init(args=args)
        except RCLError as exc:  # unparsable --ros-args (e.g. -p key:=['unclosed), security
            rclpy.logging.get_logger(name).error(f'cannot initialise ROS 2 (arguments or '
                                                 f'security settings): {exc}')
            return 2
        try:
            node = factory()
        except (ParameterError, ValueError) as exc:
            rclpy.logging.get_logger(name).error(str(exc))
            rclpy.try_shutdown()
            return 2
        except Exception:
            rclpy.try_shutdown()
            if received:  # stopped while starting: the context went away under the node
                return 0
            raise
        executor = make_executor()
        executor.add_node(node)
        try:
            done: Optional[Future] = getattr(node, until) if until else None
            if done is not None:
                executor.spin_until_future_complete(done)
                if linger > 0 and rclpy.ok():
                    executor.spin_until_future_complete(Future(), timeout_sec=linger)
            else:
                executor.spin()
        except ExternalShutdownException:
            pass  # a signal: rclpy shut the context down
        except Exception as exc:  # noqa: BLE001
            if rclpy.ok():
                raise
            # the signal's shutdown invalidated a handle under a callback or the wait set
            node.get_logger().debug(f'stopped by a signal: {exc!r}')
        finally:
            faulthandler.dump_traceback_later(TEARDOWN_DUMP_S, exit=False)  # re-armed
            arm_native_dump()
            sys.stdout.flush()
            teardown(node, ABANDON_MESSAGE.format(name=name), executor=executor)
    return 0


def teardown(node: Node, message: str, status: int = 0,
             executor: Optional[rclpy.executors.Executor] = None) -> None:
    """
    Shut ``executor`` down, destroy ``node``, shut rclpy down, guarded by ``exit_watchdog``.

    A teardown still stuck :data:`TEARDOWN_ABANDON_S` later (Fast DDS participant deletion,
    see docs/faults.md) ends the process with ``status`` after writing ``message``; call it
    once the process's result is out (its outputs published, its summary printed).
    """
    disarm = exit_watchdog.arm(TEARDOWN_ABANDON_S, message, status)
    if executor is not None:
        executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    disarm()
