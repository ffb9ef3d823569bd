"""Model config validation and loaders round-trip (no ROS)."""

import operator

import joblib
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from edgeserve_ros.models.allowlist import NotAllowedError
from edgeserve_ros.models.config import ModelConfigError, validate_models_config
from edgeserve_ros.models.loaders import load_model, load_models
from edgeserve_ros.models.sklearn_model import UntrustedTypesError
from edgeserve_ros.models.types import Model
from edgeserve_ros.models.zoo import MLPClassifier


@pytest.fixture(scope='module')
def data():
    """Return a tiny two-class dataset."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    y = np.where(x[:, 0] + x[:, 3] > 0, 'up', 'down')
    return x, y


def _batch(x):
    return [{'a': row[:2], 'b': row[2:]} for row in x]


def test_sklearn_joblib_and_skops_roundtrip(tmp_path, data):
    """Sklearn joblib and skops roundtrip."""
    import skops.io as sio
    x, y = data
    est = LogisticRegression().fit(x, y)
    joblib.dump(est, tmp_path / 'm.joblib')
    sio.dump(est, tmp_path / 'm.skops')
    models = load_models({'models': [
        {'name': 'j', 'kind': 'sklearn', 'path': str(tmp_path / 'm.joblib'), 'inputs': ['a', 'b']},
        {'name': 's', 'kind': 'sklearn', 'path': str(tmp_path / 'm.skops'), 'inputs': ['a', 'b']},
    ]})
    expected = list(est.predict(x[:10]))
    for model in models.values():
        assert isinstance(model, Model)
        preds = model.predict_batch(_batch(x[:10]))
        assert [p.label for p in preds] == expected
        assert preds[0].proba.shape == (2,) and list(preds[0].classes) == ['down', 'up']


def test_skops_refuses_untrusted_types_unless_listed(tmp_path, data):
    """Skops refuses untrusted types unless listed."""
    import skops.io as sio
    x, y = data
    est = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression()).fit(x, y)
    path = str(tmp_path / 'p.skops')
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted
    cfg = {'kind': 'sklearn', 'path': path, 'inputs': ['a', 'b']}
    with pytest.raises(UntrustedTypesError, match='untrusted types'):
        load_model(cfg)
    model = load_model(dict(cfg, trusted_types=list(untrusted)))
    assert model.predict_batch(_batch(x[:3]))[0].label in ('up', 'down')


def test_torchscript_roundtrip(tmp_path):
    """Torchscript roundtrip."""
    torch.manual_seed(0)
    net = MLPClassifier(4, 3).eval()
    path = str(tmp_path / 'm.pt')
    torch.jit.script(net).save(path)
    model = load_model({'kind': 'torch', 'path': path, 'inputs': ['a', 'b'],
                        'classes': ['x', 'y', 'z']})
    batch = [{'a': np.ones(2), 'b': np.arange(2.0)}, {'a': np.zeros(2), 'b': -np.ones(2)}]
    preds = model.predict_batch(batch)
    with torch.no_grad():
        logits = net(torch.tensor([[1, 1, 0, 1], [0, 0, -1, -1]], dtype=torch.float32))
    assert [p.label for p in preds] == [['x', 'y', 'z'][i] for i in logits.argmax(1)]
    assert np.allclose(preds[0].proba.sum(), 1.0)


def test_state_dict_with_allow_listed_class(tmp_path):
    """State dict with allow listed class."""
    torch.manual_seed(1)
    net = MLPClassifier(4, 2, hidden=[8])
    torch.save(net.state_dict(), tmp_path / 'w.pt')
    model = load_model({'kind': 'torch', 'class': 'edgeserve_ros.models.zoo.MLPClassifier',
                        'kwargs': {'in_features': 4, 'n_classes': 2, 'hidden': [8]},
                        'weights': str(tmp_path / 'w.pt'), 'inputs': ['a', 'b']})
    x = np.array([[0.5, -1.0, 2.0, 0.1]])
    with torch.no_grad():
        want = int(net(torch.tensor(x, dtype=torch.float32)).argmax())
    assert model.predict_batch([{'a': x[0, :2], 'b': x[0, 2:]}])[0].label == want


@pytest.mark.parametrize('dotted', ['torch.nn.Linear', 'os.system',
                                    'edgeserve_ros.models.zoo.nn',
                                    'edgeserve_ros.models.zoo_evil.Thing'])
def test_refuses_class_outside_allow_list(tmp_path, dotted):
    """Refuses class outside allow list."""
    torch.save({}, tmp_path / 'w.pt')
    with pytest.raises(NotAllowedError):
        load_model({'kind': 'torch', 'class': dotted, 'weights': str(tmp_path / 'w.pt'),
                    'inputs': ['a']}, where='models[0]')


def test_refuses_reexported_function():
    """Refuses reexported function."""
    # zoo imports the time module; its sleep function is defined outside the prefix.
    with pytest.raises(NotAllowedError):
        load_model({'kind': 'function', 'target': 'edgeserve_ros.models.zoo.time',
                    'inputs': ['a']})


def test_unknown_kind_names_the_key():
    """Unknown kind names the key."""
    doc = {'models': [
        {'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay', 'inputs': ['a']},
        {'name': 'b', 'kind': 'opencv_qr'},
        {'name': 'c', 'kind': 'tf', 'path': 'x'}]}
    want = r"^models\[2\]\.kind: unknown kind 'tf'; expected one of 'function'"
    with pytest.raises(ModelConfigError, match=want):
        validate_models_config(doc)


@pytest.mark.parametrize('entry,key', [
    ({'kind': 'sklearn', 'inputs': ['a']}, 'models[0].path'),
    ({'kind': 'sklearn', 'path': 'm.joblib', 'inputs': ['a'], 'fill': 'mean'}, 'models[0].fill'),
    ({'kind': 'sklearn', 'path': 'm.joblib', 'inputs': ['a'], 'typo': 1}, 'models[0].typo'),
    ({'kind': 'torch', 'inputs': ['a']}, 'models[0]'),
    ({'kind': 'opencv_qr', 'backends': ['zxing']}, 'models[0].backends[0]'),
    ({'kind': 'sklearn', 'path': 'm', 'inputs': ['a'], 'widths': {'b': 3}}, 'models[0].widths.b'),
])
def test_config_errors_name_the_key(entry, key):
    """Config errors name the key."""
    with pytest.raises(ModelConfigError) as err:
        validate_models_config([entry])
    assert str(err.value).startswith(key + ':')


def test_function_kind_fixed_delay():
    """Function kind fixed delay."""
    model = load_model({'kind': 'function', 'target': 'edgeserve_ros.models.zoo.fixed_delay',
                        'params': {'delay_ms': 5, 'n_classes': 3}, 'inputs': ['a']})
    preds = model.predict_batch([{'a': np.array([1.0, 1.0])}, {'a': np.array([2.5])}])
    assert [p.label for p in preds] == [2, 2]
