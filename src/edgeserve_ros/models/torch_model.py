"""
torch models: a TorchScript file, or a state_dict plus an allow-listed class.

State dicts are read with ``torch.load(weights_only=True)`` (tensors only, no
arbitrary unpickling); TorchScript files with ``torch.jit.load``.  Both are only
read from local paths named in the trusted config.

``device`` (see :func:`resolve_device`): the module is moved there once, when the model is
built; each batch is moved there once (from pinned memory on CUDA) and only the
probabilities come back to the CPU.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .allowlist import DEFAULT_ALLOWED_PREFIXES, NotAllowedError, resolve_allowed
from .config import ModelConfigError
from .features import FeatureAssembler
from .types import Inputs, Prediction, predictions_from_scores


def load_torch_module(path: Optional[str] = None, cls: Optional[str] = None,
                      weights: Optional[str] = None, kwargs: Optional[Dict[str, Any]] = None,
                      allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
                      where: str = 'model') -> Any:
    """
    Load a module in eval mode on CPU.

    :param path: a TorchScript file, or
    :param cls: dotted path of an ``nn.Module`` subclass under ``allowed_prefixes``,
        constructed with ``kwargs`` and given the state dict in ``weights``.
    :raises NotAllowedError: if ``cls`` is outside the allow list or not an ``nn.Module``.
    """
    import torch
    if path is not None:
        module = torch.jit.load(path, map_location='cpu')
    else:
        if cls is None or weights is None:
            raise ValueError(f"{where}: give 'path' (TorchScript) or 'class' and 'weights'")
        klass = resolve_allowed(cls, allowed_prefixes, where=f'{where}.class')
        if not (isinstance(klass, type) and issubclass(klass, torch.nn.Module)):
            raise NotAllowedError(f'{where}.class: {cls!r} is not a torch.nn.Module')
        module = klass(**(kwargs or {}))
        state = torch.load(weights, map_location='cpu', weights_only=True)
        module.load_state_dict(state)
    module.eval()
    return module


def resolve_device(spec: str = 'cpu', where: str = 'model') -> Any:
    """
    Return the ``torch.device`` for a ``device`` value on this machine.

    ``cpu``; ``auto``: ``cuda`` when ``torch.cuda.is_available()``, else ``cpu``;
    ``cuda`` / ``cuda:N``: that device, which must exist (no silent fallback).

    :raises ModelConfigError: ``<where>.device``, for a CUDA device this machine lacks.
    """
    import torch
    if spec == 'cpu':
        return torch.device('cpu')
    available = torch.cuda.is_available()
    if spec == 'auto':
        return torch.device('cuda' if available else 'cpu')
    if not spec.startswith('cuda'):
        raise ModelConfigError(f"{where}.device: unknown device {spec!r}; expected auto, cpu, "
                               "cuda or cuda:N")
    if not available:
        build = '' if torch.version.cuda else ', a build without CUDA'
        raise ModelConfigError(f'{where}.device: {spec!r} but CUDA is not available here '
                               f"(torch {torch.__version__}{build}); 'auto' falls back to cpu")
    index = int(spec.split(':', 1)[1]) if ':' in spec else None
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        raise ModelConfigError(f'{where}.device: {spec!r} but this machine has {count} CUDA '
                               'device(s)')
    return torch.device(spec)


def to_device(x: Any, device: Any) -> Any:
    """Move the batch tensor ``x`` to ``device`` once (through pinned memory for CUDA)."""
    if device.type == 'cuda':
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


class TorchModel:
    """
    Adapter: stacks feature rows into a float32 tensor and applies softmax to outputs.

    :param module: a module mapping ``(n, d)`` to ``(n, k)`` logits.
    :param assembler: the :class:`FeatureAssembler` for this model's inputs.
    :param classes: label per output column (default ``0..k-1``).
    :param device: a ``torch.device`` (or its name) to run on; the module is moved there
        now (default: CPU).
    """

    def __init__(self, module: Any, assembler: FeatureAssembler,
                 classes: Optional[Sequence[Any]] = None, device: Any = None) -> None:
        import torch
        self.device = torch.device(device or 'cpu')
        self.module = module.to(self.device)
        self.assembler = assembler
        self.classes = None if classes is None else list(classes)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Return one prediction per input (empty list for an empty batch)."""
        if not inputs:
            return []
        import torch
        x = torch.from_numpy(self.assembler.matrix(inputs).astype(np.float32))
        return classify(self.module, to_device(x, self.device), self.classes)


def classify(module: Any, x: Any, classes: Optional[Sequence[Any]]) -> List[Prediction]:
    """Run ``module`` on the batch tensor ``x`` (on its device); one prediction per row."""
    import torch
    with torch.no_grad():
        proba = torch.softmax(module(x), dim=1).cpu().numpy()
    labels = list(classes) if classes else list(range(proba.shape[1]))
    if len(labels) != proba.shape[1]:
        raise ValueError(f'{len(labels)} classes configured, model outputs {proba.shape[1]}')
    return predictions_from_scores(proba, labels)
