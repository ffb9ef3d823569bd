"""
Building :class:`~.types.Model` objects from validated config dicts.

Configs name local files and allow-listed dotted paths only; they never carry code.
``allowed_prefixes`` is chosen by the caller (deployment code), not by the config.
"""

import os
from typing import Any, Dict, List, Mapping, Sequence

from .allowlist import DEFAULT_ALLOWED_PREFIXES, NotAllowedError, resolve_allowed
from .config import validate_model_config, validate_models_config
from .features import FeatureAssembler
from .types import Model


def _assembler(cfg: Dict[str, Any]) -> FeatureAssembler:
    return FeatureAssembler(cfg['inputs'], cfg['fill'], cfg['widths'])


def load_model(cfg: Dict[str, Any], where: str = 'model',
               allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES) -> Model:
    """
    Validate one model entry and load it.

    :param cfg: a model entry (see :mod:`.config`).
    :param where: key path for error messages.
    :param allowed_prefixes: module prefixes that ``class``/``target`` may resolve under.
    :raises ModelConfigError: on an invalid config.
    :raises NotAllowedError: on a class/function outside the allow list.
    """
    cfg = validate_model_config(cfg, where)
    kind = cfg['kind']
    if kind == 'sklearn':
        from .sklearn_model import SklearnModel, load_sklearn_estimator
        est = load_sklearn_estimator(cfg['path'], cfg['format'], cfg['trusted_types'])
        return SklearnModel(est, _assembler(cfg))
    if kind == 'torch':
        from .torch_model import TorchModel, load_torch_module, resolve_device
        device = resolve_device(cfg['device'], where)
        module = load_torch_module(cfg['path'], cfg['cls'], cfg.get('weights'),
                                   cfg.get('kwargs'), allowed_prefixes, where)
        return TorchModel(module, _assembler(cfg), cfg['classes'], device)
    if kind == 'opencv_qr':
        from .qr_model import QrModel
        return QrModel(cfg['input'], cfg['backends'], cfg['scale'])
    if kind == 'ocr':
        from .ocr_model import OcrModel
        return OcrModel(cfg['input'], cfg['min_score'], cfg['threads'])
    if kind == 'torch_image':
        return _torch_image(cfg, where, allowed_prefixes)
    if kind == 'onnx':
        from .onnx_model import load_onnx_model
        return load_onnx_model(cfg, where)
    from .function_model import FunctionModel
    fn = resolve_allowed(cfg['target'], allowed_prefixes, where=f'{where}.target')
    if isinstance(fn, type) or not callable(fn):
        raise NotAllowedError(f'{where}.target: {cfg["target"]!r} is not a function')
    return FunctionModel(fn, cfg['params'])


def _torch_image(cfg: Dict[str, Any], where: str, allowed_prefixes: Sequence[str]) -> Model:
    from .image_model import TorchImageModel
    from .torch_model import load_torch_module, resolve_device
    device = resolve_device(cfg['device'], where)
    weights = cfg.get('weights')
    if weights is not None:
        weights = os.path.expanduser(weights)
        if cfg['train'] == 'digits':
            from .digits import ensure_digits_weights
            weights = str(ensure_digits_weights(weights))
    module = load_torch_module(cfg['path'], cfg['cls'], weights, cfg.get('kwargs'),
                               allowed_prefixes, where)
    if cfg['threads'] > 0:  # small nets: extra intra-op threads only spin on a busy host
        import torch
        torch.set_num_threads(cfg['threads'])
    return TorchImageModel(module, cfg['input'], cfg['size'], cfg['channels'], cfg['invert'],
                           cfg['crop'], cfg['mean'], cfg['std'], cfg['classes'], device)


def load_models(doc: Any, allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
                key: str = 'models') -> Dict[str, Model]:
    """Validate all entries of ``doc[key]`` first, then load them; return name -> model."""
    entries = validate_models_config(doc, key)
    raw = doc[key] if isinstance(doc, Mapping) else doc  # validated above
    return {e['name']: load_model(r, f'{key}[{i}]', allowed_prefixes)
            for i, (e, r) in enumerate(zip(entries, raw))}


__all__: List[str] = ['load_model', 'load_models']
