"""
Validation of model config dicts (as read from YAML).

A config never carries code: it names files (read from the local disk only) and,
for ``torch`` classes and ``function`` targets, dotted paths that must resolve under
an allow-listed module prefix (see :mod:`.allowlist`).  Example::

    models:
      - {name: har_all, kind: sklearn, path: har_all.skops,
         inputs: [acc, imu_back, imu_larm, imu_shoes], fill: zeros}
      - {name: mlp, kind: torch, class: edgeserve_ros.models.zoo.MLPClassifier,
         kwargs: {in_features: 8, n_classes: 3}, weights: mlp_state.pt, inputs: [x]}
      - {name: qr, kind: opencv_qr, input: image, backends: [pyzbar, opencv]}
      - {name: slow, kind: function, target: edgeserve_ros.models.zoo.fixed_delay,
         params: {delay_ms: 50}, inputs: [x]}
      - {name: ocr, kind: ocr, input: image, min_score: 0.5}
      - {name: digits, kind: torch_image, class: edgeserve_ros.models.digits.DigitsCNN,
         weights: ~/.cache/edgeserve_ros/models/web_digits_cnn.pt, train: digits,
         size: [8, 8], channels: 1, invert: auto, crop: true, device: auto}
      - {name: mlp_onnx, kind: onnx, path: mlp.onnx, inputs: [x], classes: [a, b, c],
         providers: [CUDAExecutionProvider, CPUExecutionProvider], threads: 1}
      - {name: digits_onnx, kind: onnx, path: digits.onnx, input: image, size: [8, 8],
         channels: 1, invert: auto, crop: true}

``torch``/``torch_image`` take ``device`` (``cpu``, the default, ``auto``, ``cuda``,
``cuda:N``); only its spelling is checked here, whether that device exists is checked
when the model is loaded (:func:`.torch_model.resolve_device`). ``onnx`` takes either
feature ``inputs`` (like ``torch``) or one image ``input`` (preprocessed like
``torch_image``); ``providers`` is ``auto`` or a list of onnxruntime execution providers
(see :mod:`.onnx_model`).

Errors are :class:`ModelConfigError` with a message naming the offending key, e.g.
``models[2].kind: unknown kind 'tf'; expected one of 'function', 'opencv_qr', ...``.
"""

import re
from typing import Any, Dict, List, Mapping, NoReturn

KINDS = ('function', 'ocr', 'onnx', 'opencv_qr', 'sklearn', 'torch', 'torch_image')
#: kinds reading one image input (``input``) instead of feature ``inputs``
IMAGE_KINDS = ('ocr', 'opencv_qr', 'torch_image')
#: kinds that check ``inputs`` or ``input`` themselves
_EITHER_KINDS = ('onnx',)
FILLS = ('error', 'zeros', 'last')
QR_BACKENDS = ('opencv', 'pyzbar')
SKLEARN_FORMATS = ('joblib', 'skops')
INVERT = ('auto', 'true', 'false')
TRAINERS = ('digits',)
#: ``device`` of the torch kinds: auto, cpu, cuda, cuda:N
DEVICE_RE = re.compile(r'auto|cpu|cuda(:[0-9]+)?')
#: ``providers: auto``: these, in this order, where available (CPU is always last)
AUTO_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider',
                  'MIGraphXExecutionProvider', 'OpenVINOExecutionProvider',
                  'CoreMLExecutionProvider', 'DmlExecutionProvider', 'CPUExecutionProvider')
CPU_PROVIDER = 'CPUExecutionProvider'
_IMAGE_KEYS = {'input', 'size', 'channels', 'invert', 'crop', 'mean', 'std'}

_COMMON = {'name', 'kind', 'inputs', 'fill', 'widths'}
_ALLOWED = {
    'sklearn': _COMMON | {'path', 'format', 'trusted_types'},
    'torch': _COMMON | {'path', 'class', 'kwargs', 'weights', 'classes', 'device'},
    'opencv_qr': {'name', 'kind', 'input', 'backends', 'scale'},
    'function': _COMMON | {'target', 'params'},
    'ocr': {'name', 'kind', 'input', 'min_score', 'threads'},
    'torch_image': {'name', 'kind', 'path', 'class', 'kwargs', 'weights', 'classes',
                    'train', 'threads', 'device'} | _IMAGE_KEYS,
    'onnx': _COMMON | _IMAGE_KEYS | {'path', 'providers', 'threads', 'classes', 'softmax'},
}


class ModelConfigError(ValueError):
    """A model config is invalid; the message starts with the offending key's path."""


def _fail(where: str, msg: str) -> NoReturn:
    raise ModelConfigError(f'{where}: {msg}')


def _expect(cfg: Mapping, key: str, where: str, types: tuple, required: bool = False) -> Any:
    if key not in cfg:
        if required:
            _fail(f'{where}.{key}', 'missing required key')
        return None
    value = cfg[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = '/'.join(t.__name__ for t in types)
        _fail(f'{where}.{key}', f'expected {names}, got {type(value).__name__}')
    return value


def _str_list(cfg: Mapping, key: str, where: str, required: bool = False) -> List[str]:
    value = _expect(cfg, key, where, (list, tuple), required)
    if value is None:
        return []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            _fail(f'{where}.{key}[{i}]', 'expected a non-empty string')
    if len(set(value)) != len(value):
        _fail(f'{where}.{key}', 'duplicate entries')
    return list(value)


def _common(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['inputs'] = _str_list(cfg, 'inputs', where, required=True)
    if not out['inputs']:
        _fail(f'{where}.inputs', 'must name at least one stream')
    fill = cfg.get('fill', 'error')
    if fill not in FILLS:
        _fail(f'{where}.fill', f'unknown fill {fill!r}; expected one of {FILLS}')
    out['fill'] = fill
    widths = _expect(cfg, 'widths', where, (dict,)) or {}
    for stream, width in widths.items():
        if stream not in out['inputs']:
            _fail(f'{where}.widths.{stream}', 'not one of inputs')
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            _fail(f'{where}.widths.{stream}', 'expected a positive int')
    out['widths'] = dict(widths)


def _sklearn(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    path = _expect(cfg, 'path', where, (str,), required=True)
    fmt = cfg.get('format')
    if fmt is None:
        fmt = 'skops' if path.endswith('.skops') else 'joblib'
    if fmt not in SKLEARN_FORMATS:
        _fail(f'{where}.format', f'unknown format {fmt!r}; expected one of {SKLEARN_FORMATS}')
    out.update(path=path, format=fmt,
               trusted_types=_str_list(cfg, 'trusted_types', where))
    if out['trusted_types'] and fmt != 'skops':
        _fail(f'{where}.trusted_types', 'only meaningful with format skops')


def _torch(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    path = _expect(cfg, 'path', where, (str,))
    cls = _expect(cfg, 'class', where, (str,))
    if (path is None) == (cls is None):
        _fail(where, "give exactly one of 'path' (TorchScript) or 'class' (+ 'weights')")
    if cls is not None:
        out['weights'] = _expect(cfg, 'weights', where, (str,), required=True)
        out['kwargs'] = dict(_expect(cfg, 'kwargs', where, (dict,)) or {})
    elif 'weights' in cfg or 'kwargs' in cfg:
        _fail(f'{where}.weights', "only valid together with 'class'")
    out.update(path=path, cls=cls)
    out['classes'] = _classes(cfg, where)
    device = _expect(cfg, 'device', where, (str,))
    out['device'] = 'cpu' if device is None else device
    if not DEVICE_RE.fullmatch(out['device']):
        _fail(f'{where}.device', f"unknown device {device!r}; expected auto, cpu, cuda or "
              "cuda:N")


def _classes(cfg: Mapping, where: str) -> Any:
    classes = _expect(cfg, 'classes', where, (list, tuple))
    return None if classes is None else list(classes)


def _threads(cfg: Mapping, where: str, out: Dict[str, Any], default: str) -> None:
    threads = _expect(cfg, 'threads', where, (int,))
    out['threads'] = 0 if threads is None else threads
    if out['threads'] < 0:
        _fail(f'{where}.threads', f'expected >= 0 (0: {default} default)')


def _opencv_qr(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['input'] = _expect(cfg, 'input', where, (str,)) or 'image'
    backends = _str_list(cfg, 'backends', where) or ['pyzbar', 'opencv']
    for i, backend in enumerate(backends):
        if backend not in QR_BACKENDS:
            _fail(f'{where}.backends[{i}]',
                  f'unknown backend {backend!r}; expected one of {QR_BACKENDS}')
    out['backends'] = backends
    scale = _expect(cfg, 'scale', where, (int, float))
    scale = 1.0 if scale is None else float(scale)
    if not 0.0 < scale <= 1.0:
        _fail(f'{where}.scale', 'expected 0 < scale <= 1')
    out['scale'] = scale


def _function(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['target'] = _expect(cfg, 'target', where, (str,), required=True)
    out['params'] = dict(_expect(cfg, 'params', where, (dict,)) or {})


def _ocr(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['input'] = _expect(cfg, 'input', where, (str,)) or 'image'
    score = _expect(cfg, 'min_score', where, (int, float))
    out['min_score'] = 0.5 if score is None else float(score)
    if not 0.0 <= out['min_score'] <= 1.0:
        _fail(f'{where}.min_score', 'expected 0 <= min_score <= 1')
    _threads(cfg, where, out, 'onnxruntime')


def _floats(cfg: Mapping, key: str, where: str, count: int) -> Any:
    value = _expect(cfg, key, where, (list, tuple))
    if value is None:
        return None
    if len(value) != count or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                      for v in value):
        _fail(f'{where}.{key}', f'expected {count} numbers')
    return [float(v) for v in value]


def _torch_image(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    _torch(cfg, where, out)
    _image(cfg, where, out)
    train = _expect(cfg, 'train', where, (str,))
    if train is not None and (train not in TRAINERS or out.get('cls') is None):
        _fail(f'{where}.train', f'expected one of {TRAINERS}, with class + weights')
    out['train'] = train
    _threads(cfg, where, out, 'torch')


def _image(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['input'] = _expect(cfg, 'input', where, (str,)) or 'image'
    size = _expect(cfg, 'size', where, (list, tuple), required=True)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                 for v in size):
        _fail(f'{where}.size', 'expected [height, width], positive ints')
    out['size'] = list(size)
    channels = _expect(cfg, 'channels', where, (int,))
    out['channels'] = 3 if channels is None else channels
    if out['channels'] not in (1, 3):
        _fail(f'{where}.channels', 'expected 1 (gray) or 3 (RGB)')
    invert = cfg.get('invert', 'false')
    invert = {True: 'true', False: 'false'}.get(invert, invert)
    if invert not in INVERT:
        _fail(f'{where}.invert', f'expected one of {INVERT}')
    out['invert'] = invert
    out['crop'] = bool(_expect(cfg, 'crop', where, (bool,)))
    out['mean'] = _floats(cfg, 'mean', where, out['channels'])
    out['std'] = _floats(cfg, 'std', where, out['channels'])
    if out['std'] and any(v <= 0 for v in out['std']):
        _fail(f'{where}.std', 'expected positive numbers')


def known_providers() -> List[str]:
    """Return the execution provider names onnxruntime knows (in any of its builds)."""
    try:
        import onnxruntime
        return list(onnxruntime.get_all_providers())
    except ImportError:  # validation still works where onnxruntime is not installed
        return list(AUTO_PROVIDERS)


def _providers(cfg: Mapping, where: str) -> Any:
    value = cfg.get('providers', 'auto')
    if value == 'auto':
        return 'auto'
    if isinstance(value, str):
        value = [value]
    providers = _str_list({'providers': value}, 'providers', where)
    if not providers:
        _fail(f'{where}.providers', "expected 'auto' or a non-empty list")
    known = known_providers()
    for i, name in enumerate(providers):
        if name not in known:
            _fail(f'{where}.providers[{i}]', f'unknown execution provider {name!r}; expected '
                  f"'auto' or some of {', '.join(known)}")
    if CPU_PROVIDER in providers[:-1]:
        _fail(f'{where}.providers', f'{CPU_PROVIDER} must come last (it is always tried last)')
    return providers


def _onnx(cfg: Mapping, where: str, out: Dict[str, Any]) -> None:
    out['path'] = _expect(cfg, 'path', where, (str,), required=True)
    image_keys = sorted(k for k in _IMAGE_KEYS if k in cfg)
    feature_keys = sorted(k for k in ('inputs', 'fill', 'widths') if k in cfg)
    if ('inputs' in cfg) == ('input' in cfg or 'size' in cfg):
        _fail(where, "give exactly one of 'inputs' (feature streams) or 'input' + 'size' "
              '(one image)')
    if 'inputs' in cfg:
        if image_keys:
            _fail(f'{where}.{image_keys[0]}', "only valid with an image 'input', not 'inputs'")
        out['mode'] = 'features'
        _common(cfg, where, out)
    else:
        if feature_keys:
            _fail(f'{where}.{feature_keys[0]}', "only valid with feature 'inputs'")
        out['mode'] = 'image'
        _image(cfg, where, out)
    out['providers'] = _providers(cfg, where)
    _threads(cfg, where, out, 'onnxruntime')
    out['classes'] = _classes(cfg, where)
    softmax = _expect(cfg, 'softmax', where, (bool,))
    out['softmax'] = True if softmax is None else softmax


_KIND_CHECKS = {'sklearn': _sklearn, 'torch': _torch, 'opencv_qr': _opencv_qr,
                'function': _function, 'ocr': _ocr, 'torch_image': _torch_image,
                'onnx': _onnx}


def validate_model_config(cfg: Any, where: str = 'model') -> Dict[str, Any]:
    """
    Validate one model entry and return a normalized copy with defaults filled in.

    :param cfg: the entry (a mapping).
    :param where: the key path used in error messages, e.g. ``'models[2]'``.
    :raises ModelConfigError: naming the offending key.
    """
    if not isinstance(cfg, Mapping):
        _fail(where, f'expected a mapping, got {type(cfg).__name__}')
    kind = cfg.get('kind')
    if kind not in KINDS:
        expected = ', '.join(repr(k) for k in KINDS)
        _fail(f'{where}.kind', f'unknown kind {kind!r}; expected one of {expected}')
    for key in cfg:
        if key not in _ALLOWED[kind]:
            _fail(f'{where}.{key}', f'unknown key for kind {kind!r}')
    out: Dict[str, Any] = {'kind': kind}
    out['name'] = _expect(cfg, 'name', where, (str,)) or where
    if kind not in IMAGE_KINDS and kind not in _EITHER_KINDS:
        _common(cfg, where, out)
    _KIND_CHECKS[kind](cfg, where, out)
    return out


def validate_models_config(doc: Any, key: str = 'models') -> List[Dict[str, Any]]:
    """
    Validate ``{models: [...]}`` (or a bare list) and return normalized entries.

    :raises ModelConfigError: naming the offending key (``models[i].<key>``); also for
        duplicate model names.
    """
    entries = doc.get(key) if isinstance(doc, Mapping) else doc
    if not isinstance(entries, (list, tuple)):
        _fail(key, 'expected a list of model entries')
    out = [validate_model_config(e, f'{key}[{i}]') for i, e in enumerate(entries)]
    seen = set()
    for i, entry in enumerate(out):
        if entry['name'] in seen:
            _fail(f'{key}[{i}].name', f"duplicate model name {entry['name']!r}")
        seen.add(entry['name'])
    return out
