"""
Assembling per-stream feature arrays into one feature row per input.

Streams are concatenated in config order.  A missing member (``None`` or absent, as
produced by the synchronizer when a stream did not deliver within the skew bound) is
handled by the configured fill:

* ``error`` -- raise :class:`MissingMemberError`;
* ``zeros`` -- zeros of the stream's width (from ``widths`` or the last seen array);
* ``last`` -- the last array seen for that stream (falls back to zeros if never seen
  but the width is known, else raises).
"""

from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from .config import FILLS


class MissingMemberError(ValueError):
    """A stream's member is missing and cannot be filled."""


class FeatureAssembler:
    """
    Concatenate the configured streams' arrays (flattened) into one 1-D row.

    :param streams: stream names, in concatenation order.
    :param fill: ``'error'``, ``'zeros'`` or ``'last'``.
    :param widths: optional stream -> number of features (needed for zeros before a
        stream was ever seen).
    """

    def __init__(self, streams: Sequence[str], fill: str = 'error',
                 widths: Optional[Mapping[str, int]] = None) -> None:
        if fill not in FILLS:
            raise ValueError(f'fill: unknown fill {fill!r}; expected one of {FILLS}')
        self.streams = list(streams)
        self.fill = fill
        self.widths: Dict[str, int] = dict(widths or {})
        self._last: Dict[str, np.ndarray] = {}

    def _part(self, stream: str, value: Optional[np.ndarray]) -> np.ndarray:
        if value is not None:
            arr = np.asarray(value, dtype=np.float64).ravel()
            expected = self.widths.get(stream)
            if expected is not None and arr.size != expected:
                raise ValueError(f'stream {stream!r}: expected {expected} features, '
                                 f'got {arr.size}')
            self.widths[stream] = arr.size
            self._last[stream] = arr
            return arr
        if self.fill == 'last' and stream in self._last:
            return self._last[stream]
        if self.fill in ('zeros', 'last') and stream in self.widths:
            return np.zeros(self.widths[stream])
        raise MissingMemberError(f'stream {stream!r} is missing (fill={self.fill!r})')

    def row(self, inputs: Mapping[str, Optional[np.ndarray]]) -> np.ndarray:
        """Return the feature row for one input dict."""
        return np.concatenate([self._part(s, inputs.get(s)) for s in self.streams])

    def matrix(self, batch: Sequence[Mapping[str, Optional[np.ndarray]]]) -> np.ndarray:
        """Return the ``(len(batch), n_features)`` matrix for a batch, in order."""
        return np.stack([self.row(item) for item in batch])
