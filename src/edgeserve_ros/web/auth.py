"""
Bearer-token authentication for HTTP (``Authorization`` header) and WebSocket.

Browsers cannot set headers on a WebSocket, so a socket may also offer the token as the
subprotocol ``bearer.<token>`` (echoed back on accept) or as the query ``?token=``.
A token is required unless the gateway is bound to loopback only; comparison is constant
time. The token comes from a file (first line) or an environment variable, never from a
parameter, so it does not show up in ``ros2 param get``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from typing import Mapping, Optional, Sequence, Tuple

SUBPROTOCOL_PREFIX = 'bearer.'


class AuthConfigError(ValueError):
    """The token configuration is unusable (e.g. no token on a public address)."""


def is_loopback(host: str) -> bool:
    """Return True when ``host`` binds loopback only (``localhost``, 127.0.0.0/8, ::1)."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_token(token_file: str = '', token_env: str = '',
               environ: Optional[Mapping[str, str]] = None) -> str:
    """
    Return the token from ``token_file`` (first line) or ``$token_env``; '' if neither.

    :raises AuthConfigError: the file cannot be read or holds an empty first line
    """
    if token_file:
        try:
            with open(token_file, encoding='utf-8') as f:
                token = f.readline().strip()
        except OSError as exc:
            raise AuthConfigError(f'token_file={token_file!r}: {exc.strerror}') from None
        if not token:
            raise AuthConfigError(f'token_file={token_file!r}: first line is empty')
        return token
    env = os.environ if environ is None else environ
    return env.get(token_env, '').strip() if token_env else ''


class TokenAuth:
    """
    Checks tokens; with ``token`` '' every request passes (loopback only).

    :raises AuthConfigError: no token while ``host`` is not loopback
    """

    def __init__(self, token: str, host: str) -> None:
        if not token and not is_loopback(host):
            raise AuthConfigError(f'host={host!r} is not loopback: give token_file or the '
                                  f'token environment variable')
        self.token = token
        self.required = bool(token)

    def _match(self, candidate: Optional[str]) -> bool:
        if not self.required:
            return True
        return candidate is not None and hmac.compare_digest(
            candidate.encode('utf-8', 'replace'), self.token.encode('utf-8'))

    def check_header(self, authorization: Optional[str]) -> bool:
        """Return True when the ``Authorization`` header value carries the token."""
        scheme, _, value = (authorization or '').partition(' ')
        return self._match(value.strip() if scheme.lower() == 'bearer' else None)

    def check_websocket(self, authorization: Optional[str], subprotocols: Sequence[str],
                        query_token: Optional[str]) -> Tuple[bool, Optional[str]]:
        """Return (accepted, subprotocol to echo on accept or None)."""
        for proto in subprotocols:
            if proto.startswith(SUBPROTOCOL_PREFIX):
                return self._match(proto[len(SUBPROTOCOL_PREFIX):]), proto
        if authorization:
            return self.check_header(authorization), None
        return self._match(query_token), None
