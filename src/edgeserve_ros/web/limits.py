"""Request, pixel and queue limits of the web gateway, validated once."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    """
    Every bound the gateway enforces; see docs/web.md for the status codes.

    :param max_body_bytes: largest HTTP body (raw or multipart), bytes (413 past it)
    :param max_files: most images in one multipart request (413 past it)
    :param max_frame_bytes: largest WebSocket message (close 1009 past it)
    :param max_pixels: most pixels of one image, read from its header before decoding (413)
    :param max_side: longest image side, pixels (413)
    :param max_queue: images admitted and not yet answered, all clients (429 / close 1013)
    :param max_client_queue: the same for one client (429 / close 1013)
    :param ws_in_flight: frames of one WebSocket being processed at once (reading pauses)
    :param client_rate: frames/s one WebSocket may send while other clients are active
        (burst ``max_client_queue``; reading pauses, :mod:`.rate`)
    :param decode_workers: threads decoding images
    :param result_timeout: seconds an image waits for its prediction (504 past it)
    :param max_results: async results kept (oldest finished ones are dropped first)
    :param result_ttl: seconds a finished async result stays readable
    :param send_timeout: seconds a WebSocket send may block before the socket is closed
    """

    max_body_bytes: int = 32 << 20
    max_files: int = 64
    max_frame_bytes: int = 8 << 20
    max_pixels: int = 16_000_000
    max_side: int = 16384
    max_queue: int = 64
    max_client_queue: int = 16
    ws_in_flight: int = 8
    client_rate: float = 10.0
    decode_workers: int = 2
    result_timeout: float = 30.0
    max_results: int = 1024
    result_ttl: float = 300.0
    send_timeout: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'{f.name}={value!r}: must be a positive number')
        if self.max_client_queue > self.max_queue:
            raise ValueError(f'max_client_queue={self.max_client_queue} must be <= '
                             f'max_queue={self.max_queue}')
