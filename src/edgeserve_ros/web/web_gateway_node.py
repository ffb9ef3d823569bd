"""
``web_gateway_node``: HTTP and WebSocket inference for browsers and non-ROS programs.

A thin rclpy adapter around :mod:`edgeserve_ros.web.app` (Starlette on uvicorn, in a
thread beside the executor). Each model in ``models`` gets a lazy stream
``<topic_prefix>/<model>/images``: a decoded upload is stored in this node's payload ring
(shared memory on this host, ``~/fetch`` elsewhere) and only its ``PayloadHeader`` crosses
DDS to a ``model_node`` (``input_kind: stream``). Predictions come back as the model's
prediction stream ``<topic_prefix>/<model>/predictions`` and are matched to the upload by
``inputs[stream].seq``. See docs/web.md.
"""

from __future__ import annotations

from concurrent.futures import Future
import logging
import sys
from typing import Any, Dict, List, Optional

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.node import Node

from edgeserve_ros.dataplane import codec
from edgeserve_ros.dataplane.delivery import DeliveryMode
from edgeserve_ros.dataplane.fetcher import PayloadFetcher
from edgeserve_ros.dataplane.images import ImageFrame
from edgeserve_ros.dataplane.source import PayloadSource, StreamOptions
from edgeserve_ros.msg import PayloadHeader
from edgeserve_ros.ros.params import ParameterError, ParamSpec, declare_parameters
from edgeserve_ros.ros.qos import HEADER_QOS
from edgeserve_ros.ros.spin import run_node
from edgeserve_ros.web.app import build_app
from edgeserve_ros.web.auth import AuthConfigError, load_token, TokenAuth
from edgeserve_ros.web.limits import Limits
from edgeserve_ros.web.pending import Pending
from edgeserve_ros.web.server import WebServer

_D = Limits()
LIMIT_PARAMS = [
    ParamSpec('max_body_bytes', _D.max_body_bytes, 'Largest HTTP body, bytes (413).', 1, 1 << 34),
    ParamSpec('max_files', _D.max_files, 'Most images per multipart request (413).', 1, 4096),
    ParamSpec('max_frame_bytes', _D.max_frame_bytes, 'Largest WebSocket message, bytes '
              '(close 1009).', 16, 1 << 30),
    ParamSpec('max_pixels', _D.max_pixels, 'Most pixels per image, from its header (413).',
              1, 1 << 31),
    ParamSpec('max_side', _D.max_side, 'Longest image side, pixels (413).', 1, 65535),
    ParamSpec('max_queue', _D.max_queue, 'Images in flight, all clients (429, 1013).', 1, 1 << 20),
    ParamSpec('max_client_queue', _D.max_client_queue, 'Images in flight per client (429, '
              '1013); <= max_queue.', 1, 1 << 20),
    ParamSpec('ws_in_flight', _D.ws_in_flight, 'Frames of one socket in flight.', 1, 4096),
    ParamSpec('client_rate', _D.client_rate, 'Frames/s one WebSocket may send while other '
              'clients are active (reading pauses).', 0.1, 1e6),
    ParamSpec('decode_workers', _D.decode_workers, 'Image decoding threads.', 1, 64),
    ParamSpec('result_timeout', _D.result_timeout, 'Seconds to wait for a prediction (504).',
              0.01, 3600.0),
    ParamSpec('max_results', _D.max_results, 'Async results kept.', 1, 1 << 20),
    ParamSpec('result_ttl', _D.result_ttl, 'Seconds a finished async result is kept.',
              1.0, 86400.0),
    ParamSpec('send_timeout', _D.send_timeout, 'Seconds a WebSocket send may block.',
              0.01, 3600.0),
]
PARAMS = [
    ParamSpec('host', '127.0.0.1', 'Address to bind; a token is required unless loopback.'),
    ParamSpec('port', 8080, 'TCP port (0: any free port, see port_file).', 0, 65535),
    ParamSpec('port_file', '', 'Write the bound port to this file once serving.'),
    ParamSpec('models', ['qr'], 'Model names served; each has <topic_prefix>/<model>/images '
              'and .../predictions.'),
    ParamSpec('topic_prefix', 'web', 'Topic namespace of the model streams.'),
    ParamSpec('token_file', '', 'File whose first line is the bearer token.'),
    ParamSpec('token_env', 'EDGESERVE_WEB_TOKEN', 'Environment variable with the token '
              '(used when token_file is empty).'),
    ParamSpec('ring_bytes', 256 << 20, 'Payload ring budget per model stream, bytes; half of '
              'it may wait for predictions.', 1 << 20, 1 << 36),
] + LIMIT_PARAMS
_LEVELS = {logging.ERROR: 'error', logging.WARNING: 'warning', logging.INFO: 'info'}


class WebGatewayNode(Node):
    """Serves the web app; publishes uploads as lazy streams; matches predictions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('web_gateway', **kwargs)
        p = declare_parameters(self, PARAMS)
        name = self.get_name()
        names = [m for m in p['models'] if m]
        bad = [m for m in names if not m.replace('_', '').isalnum()]
        if not names or bad:
            raise ParameterError(f'{name}: models={p["models"]}: give names of letters, digits '
                                 f'and _ ({bad or "none given"})')
        try:
            limits = Limits(**{s.name: p[s.name] for s in LIMIT_PARAMS})
            auth = TokenAuth(load_token(p['token_file'], p['token_env']), p['host'])
        except (ValueError, AuthConfigError) as exc:
            raise ParameterError(f'{name}: {exc}') from None
        self._ring_bytes = p['ring_bytes']
        self._closing = False
        self.pending = Pending()
        self.source = PayloadSource(self)
        self.fetcher = PayloadFetcher(self, 2.0)
        self.streams = {}
        self._prediction_topics = {}
        for model in names:
            self.streams[model] = self.source.add_stream(
                f'{p["topic_prefix"]}/{model}/images', StreamOptions(
                    capacity_bytes=p['ring_bytes'], ttl=limits.result_timeout + 10.0,
                    delivery=DeliveryMode.AUTO))
            sub = self.create_subscription(
                PayloadHeader, f'{p["topic_prefix"]}/{model}/predictions', self._on_prediction,
                HEADER_QOS)
            self._prediction_topics[model] = sub.topic_name
        self.app = build_app(self, limits, auth)
        try:
            self.server = WebServer(self.app, p['host'], p['port'], limits.max_frame_bytes + 1024,
                                    self._uvicorn_log)
        except OSError as exc:
            self.source.close()
            raise ParameterError(f'{name}: {exc}') from None
        self.server.start()
        if p['port_file']:
            with open(p['port_file'], 'w', encoding='utf-8') as f:
                f.write(f'{self.server.port}\n')
        self.get_logger().info(f'serving {", ".join(names)} on {self.server.url} '
                               f'(token {"required" if auth.required else "not required"})')

    def _uvicorn_log(self, level: int, text: str) -> None:
        if self._closing:  # the ROS context may be gone already (Ctrl-C)
            return
        getattr(self.get_logger(), _LEVELS.get(level, 'error'))(f'uvicorn: {text}')

    # Backend (edgeserve_ros.web.service.Backend) ------------------------------------------
    def models(self) -> List[str]:
        """Return the model names served."""
        return list(self.streams)

    def ring_budget(self) -> int:
        """Return the decoded bytes that may wait for predictions (half of one ring)."""
        return self._ring_bytes // 2

    def submit(self, model: str, image: Any) -> 'Future[Dict[str, Any]]':
        """Store ``image`` in the ring, publish its header; the Future gets the prediction."""
        stream = self.streams[model]
        with self.pending.lock:  # a prediction cannot overtake its registration
            header = stream.publish(ImageFrame(image, 'bgr8'))
            if header is None:
                lost: 'Future[Dict[str, Any]]' = Future()
                lost.set_exception(RuntimeError('header lost'))
                return lost
            return self.pending.add((stream.name, header.seq))

    def health(self) -> Dict[str, Any]:
        """Return per model whether a model node subscribes and publishes predictions."""
        out = {}
        for model, stream in self.streams.items():
            subscribers = self.count_subscribers(stream.name)
            publishers = self.count_publishers(self._prediction_topics[model])
            out[model] = {'subscribers': subscribers, 'prediction_publishers': publishers,
                          'ready': subscribers > 0 and publishers > 0}
        return out

    # ROS side -----------------------------------------------------------------------------
    def _on_prediction(self, msg: PayloadHeader) -> None:
        if msg.delivery == PayloadHeader.DELIVERY_EAGER:
            self._resolve(bytes(msg.inline_payload), msg)
            return
        future = self.fetcher.fetch_async(msg)
        future.add_done_callback(
            lambda f: self._resolve(f.result().data, msg) if f.result().ok else
            self.get_logger().warning(f'{msg.stream}#{msg.seq}: {f.result().status.name}'))

    def _resolve(self, data: Optional[bytes], msg: PayloadHeader) -> None:
        try:
            value = codec.decode(bytes(data or b''), msg.content_type)
        except codec.PayloadError as exc:
            self.get_logger().warning(f'{msg.stream}#{msg.seq}: {exc}')
            return
        if isinstance(value, dict):
            self.pending.resolve(value)

    def destroy_node(self) -> None:
        """Stop the web server, then release the rings, the fetcher and the node."""
        self._closing = True
        self.server.stop()
        self.app.state.service.pool.close()
        self.source.close()
        self.fetcher.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Run the gateway until shutdown; exit 2 on invalid parameters."""
    try:
        return run_node(WebGatewayNode, 'web_gateway', args)
    except RCLError:  # SIGTERM raced the executor's next wait (the node was destroyed)
        if rclpy.ok():
            raise
        return 0


if __name__ == '__main__':
    sys.exit(main())
