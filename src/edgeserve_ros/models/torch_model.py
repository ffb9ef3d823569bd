"""
torch models: a TorchScript file, or a state_dict plus an allow-listed class.

State dicts are read with ``torch.load(weights_only=True)`` (tensors only, no
arbitrary unpickling); TorchScript files with ``torch.jit.load``.  Both are only
read from local paths named in the trusted config.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .allowlist import DEFAULT_ALLOWED_PREFIXES, NotAllowedError, resolve_allowed
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


class TorchModel:
    """
    Adapter: stacks feature rows into a float32 tensor and applies softmax to outputs.

    :param module: a module mapping ``(n, d)`` to ``(n, k)`` logits.
    :param assembler: the :class:`FeatureAssembler` for this model's inputs.
    :param classes: label per output column (default ``0..k-1``).
    """

    def __init__(self, module: Any, assembler: FeatureAssembler,
                 classes: Optional[Sequence[Any]] = None) -> None:
        self.module = module
        self.assembler = assembler
        self.classes = None if classes is None else list(classes)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Return one prediction per input (empty list for an empty batch)."""
        if not inputs:
            return []
        import torch
        x = torch.from_numpy(self.assembler.matrix(inputs).astype(np.float32))
        return classify(self.module, x, self.classes)


def classify(module: Any, x: Any, classes: Optional[Sequence[Any]]) -> List[Prediction]:
    """Run ``module`` on the batch tensor ``x``; one softmax prediction per row."""
    import torch
    with torch.no_grad():
        proba = torch.softmax(module(x), dim=1).numpy()
    labels = list(classes) if classes else list(range(proba.shape[1]))
    if len(labels) != proba.shape[1]:
        raise ValueError(f'{len(labels)} classes configured, model outputs {proba.shape[1]}')
    return predictions_from_scores(proba, labels)
