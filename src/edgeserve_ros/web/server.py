"""
uvicorn on a thread beside the ROS executor.

The socket is bound before uvicorn starts (so ``port: 0`` gives an ephemeral port the
caller can read at once). uvicorn's logging is forwarded to a sink (the node's ROS logger)
instead of its own stderr handlers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable

import uvicorn

Sink = Callable[[int, str], None]
UVICORN_LOGGERS = ('uvicorn', 'uvicorn.error', 'uvicorn.access')


class _Forward(logging.Handler):
    def __init__(self, sink: Sink) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink(record.levelno, record.getMessage())
        except Exception:  # noqa: BLE001 - logging must never raise into uvicorn
            pass


class WebServer:
    """
    Serve ``app`` on ``host:port`` in a daemon thread.

    :param ws_max_size: largest WebSocket message uvicorn accepts (it closes with 1009 past it)
    :raises OSError: the address cannot be bound (the message names it)
    """

    def __init__(self, app: Any, host: str, port: int, ws_max_size: int, sink: Sink) -> None:
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise OSError(f'cannot bind {host}:{port}: {exc.strerror}') from None
        self.host, self.port = host, int(self.sock.getsockname()[1])
        for name in UVICORN_LOGGERS:
            log = logging.getLogger(name)
            log.handlers, log.propagate = [_Forward(sink)], False
            log.setLevel(logging.WARNING if name == 'uvicorn.access' else logging.INFO)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan='off',
                                ws_max_size=ws_max_size, ws_ping_interval=20.0,
                                ws_ping_timeout=20.0, timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={'sockets': [self.sock]},
                                       name='web-gateway-uvicorn', daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL (``http://host:port``)."""
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'http://{host}:{self.port}'

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; return once uvicorn listens; raise RuntimeError if it did not."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f'uvicorn did not start on {self.url}')
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask uvicorn to finish (open connections get ``timeout`` seconds), then join."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(1.0)
        self.sock.close()
