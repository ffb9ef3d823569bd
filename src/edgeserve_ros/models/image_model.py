"""
``torch_image`` kind: an image classifier in torch, from TorchScript or a state_dict.

Each image is optionally turned gray, inverted (``invert: auto`` when the background is
light), cropped to its ink (``crop``), resized to ``size`` and scaled to 0..1, then
normalised by ``mean``/``std``; the batch goes through the module once. This is the path
for a user's own network (e.g. a GoogLeNet state_dict with ``size: [224, 224]`` and the
ImageNet mean/std); ``train: digits`` makes the built-in digits CNN at first use.
"""

from typing import Any, List, Optional, Sequence

import numpy as np

from .torch_model import classify, to_device
from .types import Inputs, Prediction


def _crop_ink(gray: np.ndarray, margin: float = 0.0) -> np.ndarray:
    ys, xs = np.nonzero(gray > 0.25)
    if len(ys) == 0:
        return gray
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(round(max(y1 - y0, x1 - x0) * (1 + 2 * margin)))
    square = np.zeros((side, side), gray.dtype)
    oy, ox = (side - (y1 - y0)) // 2, (side - (x1 - x0)) // 2
    square[oy:oy + y1 - y0, ox:ox + x1 - x0] = gray[y0:y1, x0:x1]
    return square


def preprocess(image: np.ndarray, size: Sequence[int], channels: int, invert: str,
               crop: bool) -> np.ndarray:
    """Return one ``(c, h, w)`` float32 array, values 0..1, from a BGR/gray uint8 image."""
    import cv2
    img: Any = image.astype(np.float32) / 255.0
    if channels == 1:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        if invert == 'true' or invert == 'auto' and float(img.mean()) > 0.5:
            img = 1.0 - img
        if crop:
            img = _crop_ink(img)
        img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        return img[None]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = cv2.resize(img[:, :, ::-1], (int(size[1]), int(size[0])),
                     interpolation=cv2.INTER_AREA)  # BGR -> RGB as torchvision models expect
    return np.ascontiguousarray(img.transpose(2, 0, 1))


class TorchImageModel:
    """
    Adapter: batch of images -> softmax over ``classes``.

    :param module: ``(n, c, h, w)`` -> ``(n, k)`` logits, in eval mode
    :param input_name: the stream holding the image
    :param device: where to run (see :class:`~.torch_model.TorchModel`; default CPU)
    """

    def __init__(self, module: Any, input_name: str, size: Sequence[int], channels: int,
                 invert: str = 'false', crop: bool = False,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                 classes: Optional[Sequence[Any]] = None, device: Any = None) -> None:
        import torch
        self.device = torch.device(device or 'cpu')
        self.module, self.input_name = module.to(self.device), input_name
        self.size, self.channels, self.invert, self.crop = list(size), channels, invert, crop
        shape = (1, channels, 1, 1)
        self.mean = np.asarray(mean or [0.0] * channels, np.float32).reshape(shape)
        self.std = np.asarray(std or [1.0] * channels, np.float32).reshape(shape)
        self.classes = None if classes is None else list(classes)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Classify each input's image; a missing image fails that input alone."""
        if not inputs:
            return []
        import torch
        images = [item.get(self.input_name) for item in inputs]
        if any(img is None for img in images):
            raise ValueError(f'input {self.input_name!r} missing')
        batch = np.stack([preprocess(img, self.size, self.channels, self.invert, self.crop)
                          for img in images if img is not None])
        x = torch.from_numpy((batch - self.mean) / self.std)
        return classify(self.module, to_device(x, self.device), self.classes)
