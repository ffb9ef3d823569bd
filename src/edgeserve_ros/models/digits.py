"""
A small CNN for 8x8 digits, trained at first use and cached as a ``state_dict``.

The data are scikit-learn's digits (1,797 images that ship inside scikit-learn: no
download).

``ensure_digits_weights(path)`` trains (seeded, about two seconds on one core) only when
``path`` does not exist, writing it atomically so concurrent first uses do not clash.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Dict

import numpy as np
import torch
from torch import nn


class DigitsCNN(nn.Module):
    """``(n, 1, 8, 8)`` images with values 0..1 -> ``(n, 10)`` logits."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 16, 64), nn.ReLU(),
                                  nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        return self.head(self.features(x))


def digits_data(seed: int = 0) -> Dict[str, np.ndarray]:
    """Return scikit-learn's digits scaled to 0..1, split 80/20 (``x_train`` ... ``y_test``)."""
    from sklearn.datasets import load_digits
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    return {'x_train': x[train], 'y_train': data.target[train],
            'x_test': x[test], 'y_test': data.target[test]}


def train_digits(seed: int = 0, epochs: int = 40) -> nn.Module:
    """Train a :class:`DigitsCNN` on the training split; return it in eval mode."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: more threads only spin (on a loaded host, minutes)
    try:
        return _train(seed, epochs)
    finally:
        torch.set_num_threads(threads)


def _train(seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    data = digits_data(seed)
    x, y = torch.from_numpy(data['x_train']), torch.from_numpy(data['y_train']).long()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


#: where config/web.yaml caches the weights (beside the workloads' trained models)
DEFAULT_WEIGHTS = '~/.cache/edgeserve_ros/models/web_digits_cnn.pt'


def ensure_digits_weights(path: str = DEFAULT_WEIGHTS, seed: int = 0,
                          epochs: int = 40) -> pathlib.Path:
    """Return ``path`` (``~`` expanded), training and saving the weights if it is missing."""
    target = pathlib.Path(path).expanduser()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    state = train_digits(seed, epochs).state_dict()
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix='.part')
    os.close(fd)
    torch.save(state, tmp)
    os.replace(tmp, target)
    return target
