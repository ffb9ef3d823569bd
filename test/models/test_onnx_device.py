"""The ``onnx`` kind and the torch kinds' ``device`` option (no ROS, no network, CPU only).

ONNX files are written by :mod:`edgeserve_ros.models.onnx_write` (the ``onnx`` package,
which ``torch.onnx.export`` needs, is not installed) and, for a real third-party model, the
PP-OCR classifier that ships inside the rapidocr-onnxruntime wheel. The CUDA paths of
``device`` are tested by monkeypatching ``torch.cuda.is_available``/``device_count``: only
the resolution and its errors, no tensor ever goes to a GPU here.
"""

import logging
import pathlib

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edgeserve_ros.models import onnx_write
from edgeserve_ros.models.config import ModelConfigError, validate_model_config
from edgeserve_ros.models.digits import DigitsCNN
from edgeserve_ros.models.loaders import load_model
from edgeserve_ros.models.onnx_model import choose_providers, OnnxModel
from edgeserve_ros.models.torch_model import resolve_device
from edgeserve_ros.models.types import Model
from edgeserve_ros.models.zoo import MLPClassifier

CPU = 'CPUExecutionProvider'
CUDA = 'CUDAExecutionProvider'
TRT = 'TensorrtExecutionProvider'


@pytest.fixture(scope='module')
def mlp():
    """Return a seeded MLP (5 features -> 3 logits) in eval mode."""
    torch.manual_seed(0)
    return MLPClassifier(5, 3, hidden=[7]).eval()


def _write(tmp_path, name, net, shape):
    path = tmp_path / name
    path.write_bytes(onnx_write.export_layers(onnx_write.leaf_layers(net), shape))
    return str(path)


@pytest.fixture
def mlp_path(tmp_path, mlp):
    """Return the MLP as ``(batch, 5)`` ONNX."""
    return _write(tmp_path, 'mlp.onnx', mlp, ('batch', 5))


def _rows(x):
    return [{'a': row[:2], 'b': row[2:]} for row in x]


def test_onnx_features_match_torch_in_one_batch(mlp, mlp_path):
    """A batch of 9 rows gives the torch net's softmax and argmax, row for row."""
    model = load_model({'kind': 'onnx', 'path': mlp_path, 'inputs': ['a', 'b'],
                        'classes': ['x', 'y', 'z']})
    assert isinstance(model, Model) and isinstance(model, OnnxModel)
    x = np.random.default_rng(1).normal(size=(9, 5))
    preds = model.predict_batch(_rows(x))
    with torch.no_grad():
        want = torch.softmax(mlp(torch.tensor(x, dtype=torch.float32)), 1).numpy()
    assert len(preds) == 9
    assert np.allclose([p.proba for p in preds], want, atol=1e-5)
    assert [p.label for p in preds] == [['x', 'y', 'z'][i] for i in want.argmax(1)]
    assert model.predict_batch([]) == []
    assert model.batch_size is None  # dynamic batch axis: one session.run per batch


def test_onnx_fixed_batch_runs_in_padded_chunks(tmp_path, mlp):
    """A model exported with batch 4 still predicts 6 rows (chunks of 4, the last padded)."""
    path = _write(tmp_path, 'fixed.onnx', mlp, (4, 5))
    model = load_model({'kind': 'onnx', 'path': path, 'inputs': ['a', 'b']})
    x = np.random.default_rng(2).normal(size=(6, 5))
    with torch.no_grad():
        want = mlp(torch.tensor(x, dtype=torch.float32)).argmax(1).tolist()
    assert model.batch_size == 4
    assert [p.label for p in model.predict_batch(_rows(x))] == want


def test_onnx_image_digits_match_torch_image(tmp_path):
    """The digits CNN as ONNX, image input, gives the torch_image kind's probabilities."""
    torch.manual_seed(3)
    net = DigitsCNN().eval()
    weights = tmp_path / 'digits.pt'
    torch.save(net.state_dict(), weights)
    onnx_path = _write(tmp_path, 'digits.onnx', net, ('batch', 1, 8, 8))
    image = {'input': 'image', 'size': [8, 8], 'channels': 1, 'invert': 'auto', 'crop': True,
             'mean': [0.1], 'std': [0.5]}
    via_onnx = load_model(dict(image, kind='onnx', path=onnx_path))
    via_torch = load_model(dict(image, kind='torch_image', weights=str(weights),
                                **{'class': 'edgeserve_ros.models.digits.DigitsCNN'}))
    rng = np.random.default_rng(4)
    batch = [{'image': rng.integers(0, 256, (24, 20), dtype=np.uint8)} for _ in range(5)]
    batch.append({'image': rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)})  # BGR
    got, want = via_onnx.predict_batch(batch), via_torch.predict_batch(batch)
    assert np.allclose([p.proba for p in got], [p.proba for p in want], atol=1e-5)
    assert [p.label for p in got] == [p.label for p in want]
    with pytest.raises(ValueError, match="input 'image' missing"):
        via_onnx.predict_batch([{'other': None}])


def _ocr_classifier() -> pathlib.Path:
    import rapidocr_onnxruntime
    found = sorted(pathlib.Path(rapidocr_onnxruntime.__file__).parent.rglob('*cls*.onnx'))
    if not found:
        pytest.skip('no PP-OCR classifier .onnx in the rapidocr_onnxruntime package')
    return found[0]


def test_real_ppocr_classifier_loads_and_classifies():
    """A real third-party model: PP-OCR's text direction classifier (3 x 48 x 192 in use)."""
    import cv2
    path = str(_ocr_classifier())
    meta = ort.InferenceSession(path, providers=[CPU]).get_inputs()[0]
    assert meta.shape[1] == 3 and meta.type == 'tensor(float)'
    cfg = {'kind': 'onnx', 'path': path, 'input': 'image', 'size': [48, 192],
           'channels': 3, 'mean': [0.5] * 3, 'std': [0.5] * 3, 'classes': ['0', '180'],
           'softmax': False, 'threads': 1}
    model = load_model(cfg)
    img = np.full((48, 192, 3), 255, np.uint8)
    cv2.putText(img, 'Hello 2024', (4, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    preds = model.predict_batch([{'image': img}, {'image': img[::-1, ::-1].copy()}])
    assert [p.label for p in preds] == ['0', '180']  # upright, then upside down
    assert all(np.isclose(p.proba.sum(), 1.0, atol=1e-4) for p in preds)  # its own softmax
    with pytest.raises(ModelConfigError, match=r'^model\.channels: 1, the model input'):
        load_model(dict(cfg, channels=1, mean=[0.5], std=[0.5]))


def test_providers_auto_on_this_machine_is_cpu(mlp_path):
    """On this CPU-only machine, auto uses CPUExecutionProvider alone; nothing skipped."""
    model = load_model({'kind': 'onnx', 'path': mlp_path, 'inputs': ['a', 'b']})
    if set(ort.get_available_providers()) & {TRT, CUDA}:
        pytest.skip('this machine has an accelerator provider')
    assert model.providers == [CPU] and model.skipped == []


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def test_unavailable_providers_are_skipped_and_reported(mlp_path):
    """A listed provider this machine lacks is skipped, logged and kept in .skipped."""
    if CUDA in ort.get_available_providers():
        pytest.skip('CUDA is available here')
    # a handler on the logger itself: under pytest, launch_testing's logger class makes new
    # loggers not propagate, so caplog would not see the record
    log = logging.getLogger('edgeserve_ros.models.onnx_model')
    records = _Records()
    log.addHandler(records)
    try:
        model = load_model({'kind': 'onnx', 'path': mlp_path, 'inputs': ['a', 'b'],
                            'providers': [CUDA]}, where='models[1]')
    finally:
        log.removeHandler(records)
    assert model.providers == [CPU] and model.skipped == [CUDA]
    [(level, line)] = records.lines
    assert level == logging.WARNING and line.startswith('models[1]: onnx ')
    assert line.endswith(f'on {CPU}; skipped (not available here): {CUDA}')


def test_choose_providers_order():
    """Auto keeps the preference order of what is available; CPU is always last."""
    assert choose_providers('auto', [CPU, CUDA, 'AzureExecutionProvider', TRT]) == (
        [TRT, CUDA, CPU], [])
    assert choose_providers('auto', [CPU]) == ([CPU], [])
    assert choose_providers([CUDA, TRT], [CUDA, CPU]) == ([CUDA, CPU], [TRT])
    assert choose_providers([CPU], [CUDA, CPU]) == ([CPU], [])


@pytest.mark.parametrize('entry,key', [
    ({'path': 'm.onnx'}, 'models[0]'),  # neither inputs nor input
    ({'path': 'm.onnx', 'inputs': ['a'], 'input': 'image', 'size': [8, 8]}, 'models[0]'),
    ({'inputs': ['a']}, 'models[0].path'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'providers': ['CUDA']}, 'models[0].providers[0]'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'providers': [CPU, CUDA]}, 'models[0].providers'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'providers': []}, 'models[0].providers'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'providers': 7}, 'models[0].providers'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'threads': -1}, 'models[0].threads'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'size': [8, 8]}, 'models[0]'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'mean': [0.5]}, 'models[0].mean'),
    ({'path': 'm.onnx', 'input': 'image', 'size': [8, 8], 'fill': 'zeros'}, 'models[0].fill'),
    ({'path': 'm.onnx', 'input': 'image'}, 'models[0].size'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'softmax': 'yes'}, 'models[0].softmax'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'device': 'cuda'}, 'models[0].device'),
    ({'path': 'm.onnx', 'inputs': ['a'], 'weights': 'w.pt'}, 'models[0].weights'),
])
def test_onnx_config_errors_name_the_key(entry, key):
    """Bad onnx entries are ModelConfigErrors starting with the offending key."""
    with pytest.raises(ModelConfigError) as err:
        validate_model_config(dict(entry, kind='onnx'), 'models[0]')
    assert str(err.value).startswith(key + ':'), str(err.value)


def test_onnx_load_errors_name_the_key(tmp_path, mlp, mlp_path):
    """Missing/garbage files and shape mismatches are ModelConfigErrors naming the key."""
    base = {'kind': 'onnx', 'inputs': ['a', 'b']}
    with pytest.raises(ModelConfigError, match=r'^m\.path: no such file'):
        load_model(dict(base, path=str(tmp_path / 'nope.onnx')), 'm')
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a model')
    with pytest.raises(ModelConfigError, match=r'^m\.path: onnxruntime cannot load'):
        load_model(dict(base, path=str(junk)), 'm')
    with pytest.raises(ModelConfigError, match=r'^m\.widths: add up to 4 features'):
        load_model(dict(base, path=mlp_path, widths={'a': 2, 'b': 2}), 'm')
    with pytest.raises(ModelConfigError, match=r'^m\.classes: 2 labels, output'):
        load_model(dict(base, path=mlp_path, classes=['p', 'q']), 'm')
    with pytest.raises(ModelConfigError, match=r'^m\.input: model input .* has shape'):
        load_model({'kind': 'onnx', 'path': mlp_path, 'input': 'image', 'size': [8, 8]}, 'm')
    image_path = _write(tmp_path, 'digits.onnx', DigitsCNN().eval(), ('batch', 1, 8, 8))
    with pytest.raises(ModelConfigError, match=r'^m\.inputs: model input .* has shape'):
        load_model(dict(base, path=image_path), 'm')
    with pytest.raises(ModelConfigError, match=r'^m\.size: \[28, 28\], the model input'):
        load_model({'kind': 'onnx', 'path': image_path, 'input': 'image', 'size': [28, 28],
                    'channels': 1}, 'm')
    model = load_model(dict(base, path=mlp_path), 'm')
    with pytest.raises(ValueError, match='4 features assembled, the model expects 5'):
        model.predict_batch([{'a': np.zeros(2), 'b': np.zeros(2)}])


def test_onnx_refuses_non_float_and_multi_input_models(tmp_path):
    """Only single float-input models are fed; others are refused at load, naming path."""
    w = onnx_write
    int_model = w.model([w.node('Identity', ['x'], ['y'])], [w.value_info('x', ['n', 3], w.INT64)],
                        [w.value_info('y', ['n', 3], w.INT64)])
    (tmp_path / 'int.onnx').write_bytes(int_model)
    two = w.model([w.node('Add', ['x', 'z'], ['y'])],
                  [w.value_info('x', ['n', 3]), w.value_info('z', ['n', 3])],
                  [w.value_info('y', ['n', 3])])
    (tmp_path / 'two.onnx').write_bytes(two)
    with pytest.raises(ModelConfigError, match=r"^m\.path: input 'x' is tensor\(int64\)"):
        load_model({'kind': 'onnx', 'path': str(tmp_path / 'int.onnx'), 'inputs': ['a']}, 'm')
    with pytest.raises(ModelConfigError, match=r"^m\.path: the model has 2 inputs \('x', 'z'\)"):
        load_model({'kind': 'onnx', 'path': str(tmp_path / 'two.onnx'), 'inputs': ['a']}, 'm')


def test_float64_input_model_is_fed_float64(tmp_path):
    """A double-precision graph gets float64 rows (dtype taken from the model)."""
    w = onnx_write
    weights = np.array([[1.0, -1.0], [0.5, 2.0]])
    data = w.model([w.node('MatMul', ['x', 'w'], ['y'])], [w.value_info('x', ['n', 2], w.DOUBLE)],
                   [w.value_info('y', ['n', 2], w.DOUBLE)], [w.tensor('w', weights)])
    (tmp_path / 'f64.onnx').write_bytes(data)
    model = load_model({'kind': 'onnx', 'path': str(tmp_path / 'f64.onnx'), 'inputs': ['a'],
                        'softmax': False})
    preds = model.predict_batch([{'a': np.array([1.0, 0.0])}, {'a': np.array([0.0, 1.0])}])
    assert model.dtype == np.float64
    assert np.allclose([p.proba for p in preds], weights) and [p.label for p in preds] == [0, 1]


# -- device ------------------------------------------------------------------------------

def _cuda(monkeypatch, available, count=1):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: count if available else 0)


def test_resolve_device_without_cuda(monkeypatch):
    """Without CUDA: auto -> cpu; cuda and cuda:N are errors naming the key."""
    _cuda(monkeypatch, False)
    assert resolve_device('cpu', 'm').type == 'cpu'
    assert resolve_device('auto', 'm').type == 'cpu'
    for spec in ('cuda', 'cuda:0'):
        with pytest.raises(ModelConfigError, match=rf"^models\[3\]\.device: '{spec}' but CUDA "
                                                   'is not available here'):
            resolve_device(spec, 'models[3]')


def test_resolve_device_with_cuda_monkeypatched(monkeypatch):
    """With CUDA reported (monkeypatched): auto -> cuda; an index past the count is an error."""
    _cuda(monkeypatch, True, count=2)
    assert resolve_device('auto') == torch.device('cuda')
    assert resolve_device('cuda') == torch.device('cuda')
    assert resolve_device('cuda:1') == torch.device('cuda', 1)
    assert resolve_device('cpu') == torch.device('cpu')
    with pytest.raises(ModelConfigError, match=r"^m\.device: 'cuda:2' but this machine has 2"):
        resolve_device('cuda:2', 'm')


@pytest.mark.parametrize('device', ['gpu', 'cuda:', 'cuda:x', 'CPU', 'mps', ''])
def test_device_spelling_is_checked_by_validation(device):
    """Unknown device names are config errors naming the key (for both torch kinds)."""
    for entry in ({'kind': 'torch', 'path': 'm.pt', 'inputs': ['a']},
                  {'kind': 'torch_image', 'path': 'm.pt', 'size': [8, 8]}):
        with pytest.raises(ModelConfigError, match=r'^models\[0\]\.device: unknown device'):
            validate_model_config(dict(entry, device=device), 'models[0]')
    assert validate_model_config({'kind': 'torch', 'path': 'm.pt', 'inputs': ['a']})[
        'device'] == 'cpu'  # the default: existing configs keep running on the CPU


def test_torch_kinds_load_on_device(tmp_path, mlp, monkeypatch):
    """device: auto/cpu run on the CPU here; cuda is refused at load, naming the key."""
    _cuda(monkeypatch, False)
    path = str(tmp_path / 'm.ts')
    torch.jit.script(mlp).save(path)
    x = np.random.default_rng(5).normal(size=(4, 5))
    with torch.no_grad():
        want = mlp(torch.tensor(x, dtype=torch.float32)).argmax(1).tolist()
    for device in ('auto', 'cpu'):
        model = load_model({'kind': 'torch', 'path': path, 'inputs': ['a', 'b'],
                            'device': device})
        assert model.device == torch.device('cpu')
        assert next(model.module.parameters()).device.type == 'cpu'
        assert [p.label for p in model.predict_batch(_rows(x))] == want
    with pytest.raises(ModelConfigError, match=r'^models\[0\]\.device:'):
        load_model({'kind': 'torch', 'path': path, 'inputs': ['a'], 'device': 'cuda:0'},
                   'models[0]')
    digits = tmp_path / 'd.pt'
    torch.save(DigitsCNN().state_dict(), digits)
    image_cfg = {'kind': 'torch_image', 'class': 'edgeserve_ros.models.digits.DigitsCNN',
                 'weights': str(digits), 'size': [8, 8], 'channels': 1}
    model = load_model(dict(image_cfg, device='auto'))
    assert model.device == torch.device('cpu')
    assert len(model.predict_batch([{'image': np.zeros((8, 8), np.uint8)}] * 3)) == 3
    with pytest.raises(ModelConfigError, match=r'^model\.device:'):
        load_model(dict(image_cfg, device='cuda'))
