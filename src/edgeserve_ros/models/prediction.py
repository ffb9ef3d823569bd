"""
Running a model on a micro-batch of inputs, as prediction stream JSON; rclpy-free.

Shared by ``model_node`` (direct mode) and shared-queue workers:

* :func:`load_named_model` -- one model of a local ``models:`` YAML file;
* :class:`InputBinding` -- which model input a stream feeds (names in a model config may
  be full topics ``/har/imu_shoes``, relative ones or just the last component);
* :func:`predict_tuples` -- batch -> one prediction stream JSON object per input
  (keys ``model, label, proba, classes, tick, inputs, processing_s, batch, worker``, plus
  ``extra`` when the model reports details such as QR corner points); a failing batch is
  retried item by item, so one bad input (e.g. a missing member with ``fill: error``)
  fails alone, as an object with an ``error`` key instead of a label.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .config import validate_models_config
from .loaders import load_model
from .types import Inputs, Model, Prediction

#: Provenance of one input: stream -> {"seq": int, "stamp": float, "state": str}.
Provenance = Dict[str, Dict[str, Any]]


class ModelSelectError(ValueError):
    """The model file or name is unusable; the message starts with the parameter."""


def load_named_model(path: str, name: str) -> Tuple[str, Model]:
    """
    Load model ``name`` (or the only one) from the local YAML file ``path``.

    :raises ModelSelectError: starting with ``model_file=`` or ``model=``
    """
    import yaml
    if not path:
        raise ModelSelectError("model_file='': a YAML file with a `models:` list is required")
    try:
        with open(path, encoding='utf-8') as f:
            doc = yaml.safe_load(f)
        names = [e['name'] for e in validate_models_config(doc)]  # every entry is checked
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ModelSelectError(f'model_file={path!r}: {exc}') from None
    if not name and len(names) == 1:
        name = names[0]
    if name not in names:
        raise ModelSelectError(f'model={name!r}: not in {path} (has {", ".join(names)})')
    index = names.index(name)  # only the selected model is loaded (trained, read)
    raw = doc['models'] if isinstance(doc, Mapping) else doc
    try:
        return name, load_model(raw[index], f'models[{index}]')
    except (OSError, ValueError) as exc:
        raise ModelSelectError(f'model_file={path!r}: {exc}') from None


def model_inputs(model: Model) -> Optional[List[str]]:
    """Return the input names a model reads, or None when it takes every stream."""
    assembler = getattr(model, 'assembler', None)
    if assembler is not None:
        return list(assembler.streams)
    name = getattr(model, 'input_name', None)
    return [name] if isinstance(name, str) else None


def _norm(name: str) -> str:
    return '/' + name.strip('/')


class InputBinding:
    """
    Maps stream names to a model's input names (cached per stream).

    A stream binds to the input with the same name (leading ``/`` optional), else to the
    unique input with the same last path component; as the only stream of a one-input
    model (``only``), it binds to that input whatever its name.

    :param inputs: the model's inputs (:func:`model_inputs`); None binds every stream to
        its own name.
    """

    def __init__(self, inputs: Optional[Sequence[str]]) -> None:
        self.inputs = None if inputs is None else list(inputs)
        self._cache: Dict[Tuple[str, bool], Optional[str]] = {}

    def __call__(self, stream: str, only: bool = False) -> Optional[str]:
        """Return the input ``stream`` feeds, or None if the model does not use it."""
        key = (stream, only)
        if key not in self._cache:
            self._cache[key] = self._bind(stream, only)
        return self._cache[key]

    def _bind(self, stream: str, only: bool) -> Optional[str]:
        if self.inputs is None:
            return stream
        exact = [i for i in self.inputs if _norm(i) == _norm(stream)]
        base = stream.rstrip('/').rsplit('/', 1)[-1]
        by_base = [i for i in self.inputs if i.rstrip('/').rsplit('/', 1)[-1] == base]
        if exact or len(by_base) == 1:
            return (exact or by_base)[0]
        return self.inputs[0] if only and len(self.inputs) == 1 else None


def _plain(value: Any) -> Any:
    """Return a JSON-friendly version of ``value`` (numpy scalars/arrays, tuples)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def prediction_json(pred: Prediction, name: str, tick: float, inputs: Provenance,
                    seconds: float, batch: int, worker: str = '') -> Dict[str, Any]:
    """Return the prediction stream JSON object of one :class:`Prediction`."""
    out = dict(model=name, label=_plain(pred.label),
               proba=None if pred.proba is None else [float(p) for p in pred.proba],
               classes=None if pred.classes is None else _plain(list(pred.classes)),
               tick=float(tick), inputs=_plain(inputs), processing_s=float(seconds),
               batch=int(batch), worker=worker)
    if pred.extra:
        out['extra'] = _plain(pred.extra)
    return out


def predict_tuples(model: Model, tuples: Sequence[Inputs],
                   provenance: Sequence[Mapping[str, Any]], name: str = '',
                   worker: str = '') -> List[Dict[str, Any]]:
    """
    Run ``model`` on one micro-batch; return one JSON object per input, in order.

    :param tuples: per input, model input name -> array (None: missing member).
    :param provenance: per input, ``{"tick": float, "inputs": Provenance}``.
    :param name: the model name written into each object.
    :param worker: the worker identity ('' unless shared queue).
    """
    if len(tuples) != len(provenance):
        raise ValueError(f'{len(tuples)} inputs but {len(provenance)} provenance entries')
    begin = time.perf_counter()
    preds: List[Any]
    try:
        preds = list(model.predict_batch(list(tuples)))
        if len(preds) != len(tuples):
            raise ValueError(f'model returned {len(preds)} predictions for {len(tuples)}')
    except Exception:  # noqa: BLE001 - isolate the failing inputs below
        preds = []
        for item in tuples:
            try:
                preds.extend(model.predict_batch([item])[:1])
            except Exception as exc:  # noqa: BLE001 - reported per input
                preds.append(f'{type(exc).__name__}: {exc}')
    seconds = time.perf_counter() - begin
    out = []
    for pred, prov in zip(preds, provenance):
        tick, inputs = float(prov.get('tick', 0.0)), dict(prov.get('inputs', {}))
        if isinstance(pred, Prediction):
            out.append(prediction_json(pred, name, tick, inputs, seconds, len(tuples), worker))
        else:
            out.append(dict(model=name, label=None, tick=tick, inputs=_plain(inputs),
                            processing_s=seconds, batch=len(tuples), worker=worker,
                            error=str(pred)))
    return out
