"""
``onnx`` kind: a local ``.onnx`` file run with onnxruntime (nothing is unpickled).

The model has one float input and its first output is ``(batch, classes)`` scores:

* feature ``inputs`` (like ``torch``): the assembled rows, input shape ``(batch, d)``;
* an image ``input`` (like ``torch_image``): each image is preprocessed as there
  (``size``, ``channels``, ``invert``, ``crop``, ``mean``, ``std``), input shape
  ``(batch, channels, height, width)``.

Shapes and dtype are checked against the config when the file is loaded. A batch runs as
one ``session.run``; a model exported with a fixed batch size ``B`` runs in chunks of
``B`` (the last padded). Scores go through a softmax unless ``softmax: false`` (for a
graph that already ends in one).

``providers``: ``auto`` is :data:`~.config.AUTO_PROVIDERS` that this onnxruntime build
has, in that order; a list is tried in its order, providers this machine lacks are
skipped. ``CPUExecutionProvider`` is always last. The choice (what the session really
uses, from ``session.get_providers()``) is logged and kept in :attr:`OnnxModel.providers`
and :attr:`OnnxModel.skipped`.
"""

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import numpy as np

from .config import AUTO_PROVIDERS, CPU_PROVIDER, ModelConfigError
from .features import FeatureAssembler
from .types import Inputs, Prediction, predictions_from_scores

_LOG = logging.getLogger(__name__)

#: onnxruntime input types this kind feeds, and the numpy dtype for each
INPUT_TYPES = {'tensor(float)': np.float32, 'tensor(double)': np.float64,
               'tensor(float16)': np.float16}


def choose_providers(requested: Any, available: Sequence[str]) -> Tuple[List[str], List[str]]:
    """
    Return ``(chosen, skipped)`` for ``providers`` (``'auto'`` or a list) on this machine.

    :param available: ``onnxruntime.get_available_providers()``.
    """
    auto = requested == 'auto'
    wanted = list(AUTO_PROVIDERS if auto else requested)
    if CPU_PROVIDER not in wanted:
        wanted.append(CPU_PROVIDER)
    chosen = [p for p in wanted if p in available or p == CPU_PROVIDER]
    skipped = [] if auto else [p for p in wanted if p not in chosen]
    return chosen, skipped


def _dims(shape: Any) -> List[Optional[int]]:
    """Return a shape with symbolic/unknown dims as None."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


class OnnxModel:
    """
    Adapter: batch of feature rows or images -> one prediction per input.

    Build it with :func:`load_onnx_model` (which validates the config against the file).

    :param session: an ``onnxruntime.InferenceSession`` with one float input.
    :param assembler: for feature inputs; or
    :param image: ``{'input', 'size', 'channels', 'invert', 'crop', 'mean', 'std'}``.
    """

    def __init__(self, session: Any, assembler: Optional[FeatureAssembler] = None,
                 image: Optional[Dict[str, Any]] = None,
                 classes: Optional[Sequence[Any]] = None, softmax: bool = True,
                 skipped: Sequence[str] = ()) -> None:
        if (assembler is None) == (image is None):
            raise ValueError('give exactly one of assembler (features) or image')
        self.session, self.assembler, self.image = session, assembler, image
        self.classes = None if classes is None else list(classes)
        self.softmax = softmax
        meta = session.get_inputs()[0]
        self.input_name = meta.name
        self.dtype = INPUT_TYPES[meta.type]
        self.input_shape = _dims(meta.shape)
        self.batch_size = self.input_shape[0]  # None: dynamic
        self.output_name = session.get_outputs()[0].name
        self.providers: List[str] = list(session.get_providers())
        self.skipped = list(skipped)
        if image is not None:
            channels = image['channels']
            shape = (1, channels, 1, 1)
            self.mean = np.asarray(image.get('mean') or [0.0] * channels,
                                   np.float32).reshape(shape)
            self.std = np.asarray(image.get('std') or [1.0] * channels,
                                  np.float32).reshape(shape)

    def _batch(self, inputs: List[Inputs]) -> np.ndarray:
        if self.assembler is not None:
            x = self.assembler.matrix(inputs)
            width = self.input_shape[1]
            if width is not None and x.shape[1] != width:
                raise ValueError(f'{x.shape[1]} features assembled, the model expects {width}')
            return x.astype(self.dtype)
        from .image_model import preprocess
        spec = self.image or {}
        images = [item.get(spec['input']) for item in inputs]
        if any(img is None for img in images):
            raise ValueError(f"input {spec['input']!r} missing")
        batch = np.stack([preprocess(img, spec['size'], spec['channels'], spec['invert'],
                                     spec['crop']) for img in images if img is not None])
        return ((batch - self.mean) / self.std).astype(self.dtype)

    def _run(self, x: np.ndarray) -> np.ndarray:
        size = self.batch_size
        if size is None:
            return np.asarray(self.session.run([self.output_name], {self.input_name: x})[0])
        parts = []
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            n = len(chunk)
            if n < size:
                chunk = np.concatenate([chunk, np.zeros((size - n,) + x.shape[1:], x.dtype)])
            out = self.session.run([self.output_name], {self.input_name: chunk})[0]
            parts.append(np.asarray(out)[:n])
        return np.concatenate(parts)

    def predict_batch(self, inputs: List[Inputs]) -> List[Prediction]:
        """Return one prediction per input (empty list for an empty batch)."""
        if not inputs:
            return []
        scores = self._run(self._batch(inputs)).astype(np.float64)
        if scores.ndim != 2 or len(scores) != len(inputs):
            raise ValueError(f'model output {self.output_name!r} has shape {scores.shape}; '
                             f'expected ({len(inputs)}, classes)')
        if self.softmax:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        labels = self.classes if self.classes else list(range(scores.shape[1]))
        if len(labels) != scores.shape[1]:
            raise ValueError(f'{len(labels)} classes configured, model outputs '
                             f'{scores.shape[1]}')
        return predictions_from_scores(scores, labels)


def _load_errors() -> Tuple[Type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state
    names = ('Fail', 'InvalidArgument', 'InvalidProtobuf', 'InvalidGraph', 'NoSuchFile',
             'NoModel', 'RuntimeException', 'NotImplemented')
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def open_session(path: str, providers: Any = 'auto', threads: int = 0,
                 where: str = 'model') -> Tuple[Any, List[str]]:
    """
    Return ``(session, skipped providers)`` for a local ``.onnx`` file.

    :param providers: ``'auto'`` or a list of execution provider names (validated).
    :param threads: intra-op threads (0: onnxruntime's default).
    :raises ModelConfigError: ``<where>.path`` for a missing or unreadable model.
    """
    import onnxruntime as ort
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise ModelConfigError(f'{where}.path: no such file {path!r}')
    chosen, skipped = choose_providers(providers, ort.get_available_providers())
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=chosen)
    except _load_errors() as err:
        raise ModelConfigError(f'{where}.path: onnxruntime cannot load {path!r}: '
                               f'{str(err).strip()}') from err
    return session, skipped


def _check_io(session: Any, cfg: Dict[str, Any], where: str) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        names = ', '.join(repr(i.name) for i in inputs)
        raise ModelConfigError(f'{where}.path: the model has {len(inputs)} inputs ({names}); '
                               'this kind feeds exactly one')
    meta = inputs[0]
    if meta.type not in INPUT_TYPES:
        raise ModelConfigError(f'{where}.path: input {meta.name!r} is {meta.type}; expected '
                               f"one of {', '.join(INPUT_TYPES)}")
    shape = _dims(meta.shape)
    shown = list(meta.shape)
    if cfg['mode'] == 'features':
        if len(shape) != 2:
            raise ModelConfigError(f'{where}.inputs: model input {meta.name!r} has shape '
                                   f'{shown}; feature inputs need (batch, features)')
        known = [cfg['widths'].get(s) for s in cfg['inputs']]
        if shape[1] is not None and all(known) and sum(known) != shape[1]:
            raise ModelConfigError(f'{where}.widths: add up to {sum(known)} features, the '
                                   f'model input {meta.name!r} takes {shape[1]}')
    else:
        if len(shape) != 4:
            raise ModelConfigError(f'{where}.input: model input {meta.name!r} has shape '
                                   f'{shown}; an image input needs (batch, channels, h, w)')
        if shape[1] is not None and shape[1] != cfg['channels']:
            raise ModelConfigError(f"{where}.channels: {cfg['channels']}, the model input "
                                   f'{meta.name!r} takes {shape[1]}')
        for have, want in zip(shape[2:], cfg['size']):
            if have is not None and have != want:
                raise ModelConfigError(f"{where}.size: {cfg['size']}, the model input "
                                       f'{meta.name!r} takes {shown[2:]}')
    out = outputs[0]
    out_shape = _dims(out.shape)
    if out.shape and len(out.shape) != 2:  # [] or None: unknown, checked per batch
        raise ModelConfigError(f'{where}.path: output {out.name!r} has shape '
                               f'{list(out.shape)}; expected (batch, classes)')
    classes = cfg['classes']
    if classes and len(out_shape) == 2 and out_shape[1] not in (None, len(classes)):
        raise ModelConfigError(f'{where}.classes: {len(classes)} labels, output {out.name!r} '
                               f'has {out_shape[1]} columns')


def load_onnx_model(cfg: Dict[str, Any], where: str = 'model') -> OnnxModel:
    """
    Load a validated ``onnx`` entry (see :mod:`.config`); log the providers chosen.

    :raises ModelConfigError: naming the key, for a file that does not fit the config.
    """
    session, skipped = open_session(cfg['path'], cfg['providers'], cfg['threads'], where)
    _check_io(session, cfg, where)
    assembler = image = None
    if cfg['mode'] == 'features':
        assembler = FeatureAssembler(cfg['inputs'], cfg['fill'], cfg['widths'])
    else:
        image = {k: cfg[k] for k in ('input', 'size', 'channels', 'invert', 'crop', 'mean',
                                     'std')}
    model = OnnxModel(session, assembler, image, cfg['classes'], cfg['softmax'], skipped)
    note = f"; skipped (not available here): {', '.join(skipped)}" if skipped else ''
    (_LOG.warning if skipped else _LOG.info)(
        '%s: onnx %s on %s%s', where, cfg['path'], ', '.join(model.providers), note)
    return model
