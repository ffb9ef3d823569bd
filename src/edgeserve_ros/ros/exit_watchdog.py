"""
A process exit that needs no Python: ``_exit`` from a POSIX timer thread, unless disarmed.

Why (issue 7): a node's last ``destroy_node()`` deletes its Fast DDS participant, and Fast DDS
2.14 (Jazzy's) can livelock there: ``DomainParticipant::set_listener(nullptr)`` waits for
discovery callbacks to end, while a callback for a remote participant that left at the same
moment (the other nodes of a launch stopping) waits for the mutex that waiting thread keeps
taking. The stacks, caught with ``eu-stack`` in the test suite, are in ``docs/faults.md``.
``ros2 launch`` then SIGKILLs the node. rclpy holds the GIL in that call, so no Python thread
or signal handler can run: a timer created with ``SIGEV_THREAD`` whose notify function is
libc's ``_exit`` (its ``sigval`` argument is the exit status) ends the process from C.

Linux with glibc (x86_64 and aarch64: the 64-byte ``struct sigevent``); elsewhere
:func:`arm` returns a no-op. rclpy-free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable, Dict

SIGEV_THREAD = 2
CLOCK_MONOTONIC = 1


class _SigEvent(ctypes.Structure):
    _fields_ = [('sigev_value', ctypes.c_void_p), ('sigev_signo', ctypes.c_int),
                ('sigev_notify', ctypes.c_int), ('sigev_notify_function', ctypes.c_void_p),
                ('sigev_notify_attributes', ctypes.c_void_p), ('_pad', ctypes.c_byte * 32)]


class _TimeSpec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [('it_interval', _TimeSpec), ('it_value', _TimeSpec)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)


def _timer(libc: ctypes.CDLL, function: int, value: object, delay: float) -> ctypes.c_void_p:
    event = _SigEvent(sigev_value=value, sigev_notify=SIGEV_THREAD,
                      sigev_notify_function=function)
    timer = ctypes.c_void_p()
    if libc.timer_create(CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)) != 0:
        raise OSError(ctypes.get_errno(), 'timer_create failed')
    whole = int(delay)
    spec = _ITimerSpec(it_value=_TimeSpec(whole, int((delay - whole) * 1e9)))
    if libc.timer_settime(timer, 0, ctypes.byref(spec), None) != 0:
        libc.timer_delete(timer)
        raise OSError(ctypes.get_errno(), 'timer_settime failed')
    return timer


def arm(delay: float, message: str = '', status: int = 0) -> Callable[[], None]:
    """
    End the process with exit ``status`` after ``delay`` seconds; return the disarm function.

    :param message: written to stderr (by ``perror``: it ends in ``: Success``) just before.
    :param status: the exit status (0-255): a process whose result is known (a test peer
        that has printed its summary) keeps it.
    :raises OSError: a timer could not be created or set.
    """
    try:
        libc = _libc()
        exit_now = ctypes.cast(libc._exit, ctypes.c_void_p).value
        say = ctypes.cast(libc.perror, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return lambda: None
    if ctypes.sizeof(_SigEvent) != 64 or not exit_now or not say:
        return lambda: None
    text = ctypes.create_string_buffer(message.encode())
    timers = [_timer(libc, exit_now, status & 0xFF or None,
                     delay + (0.05 if message else 0.0))]
    if message:
        timers.append(_timer(libc, say, ctypes.addressof(text), delay))

    def disarm() -> None:
        while timers:
            libc.timer_delete(timers.pop())
        _KEEP.pop(id(text), None)
    _KEEP[id(text)] = text  # the C string must outlive this call
    return disarm


#: Messages of armed timers, by id.
_KEEP: Dict[int, ctypes.Array] = {}
