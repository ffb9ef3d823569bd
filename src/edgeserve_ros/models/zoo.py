"""
Small allow-listed models usable by config (the default allow-list prefix).

* :class:`MLPClassifier` -- a torch MLP for ``kind: torch`` with ``class:``.
* :class:`LinearClassifier` -- a single linear layer.
* :func:`fixed_delay` -- a ``kind: function`` benchmark model that sleeps a fixed time
  per batch and returns deterministic labels.
"""

import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn


class MLPClassifier(nn.Module):
    """
    ``in_features -> hidden... -> n_classes`` logits with ReLU between layers.

    :param in_features: input width.
    :param n_classes: number of output logits.
    :param hidden: hidden layer widths.
    """

    def __init__(self, in_features: int, n_classes: int, hidden: Sequence[int] = (32,)) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(n, n_classes)``."""
        return self.net(x)


class LinearClassifier(nn.Module):
    """A single linear layer ``in_features -> n_classes`` logits."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(n, n_classes)``."""
        return self.linear(x)


def fixed_delay(batch: List[Dict[str, Optional[np.ndarray]]], delay_ms: float = 50.0,
                n_classes: int = 0, label: Any = 0, per_item_ms: float = 0.0) -> List[Any]:
    """
    Benchmark model: sleep ``delay_ms + per_item_ms * len(batch)``, return deterministic labels.

    :param batch: input dicts (stream -> array or ``None``).
    :param delay_ms: simulated compute time per batch, milliseconds.
    :param n_classes: if > 0, each label is ``int(sum of all finite input values)
        % n_classes`` (deterministic in the input); otherwise the constant ``label``.
    :param label: the constant label used when ``n_classes`` is 0.
    :param per_item_ms: further simulated time per input (e.g. a captioning model: 150 ms
        per batch + 4 ms per image).
    """
    total_ms = delay_ms + per_item_ms * len(batch)
    if total_ms > 0:
        time.sleep(total_ms / 1000.0)
    if n_classes <= 0:
        return [label] * len(batch)
    out = []
    for item in batch:
        total = sum(float(np.nansum(v)) for v in item.values() if v is not None)
        out.append(int(np.floor(abs(total))) % int(n_classes))
    return out
