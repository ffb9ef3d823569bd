"""The model kinds the gateway serves, loaded through the model config (real models)."""

import numpy as np
import pytest
from web_support import digit_images, text_image

from edgeserve_ros.models.config import ModelConfigError, validate_model_config
from edgeserve_ros.models.digits import ensure_digits_weights
from edgeserve_ros.models.loaders import load_model

DIGITS = {'name': 'digits', 'kind': 'torch_image',
          'class': 'edgeserve_ros.models.digits.DigitsCNN', 'train': 'digits',
          'size': [8, 8], 'channels': 1, 'invert': 'auto', 'crop': True}


def test_image_kind_configs_name_the_bad_key():
    bad = [({'kind': 'ocr', 'min_score': 2}, 'model.min_score'),
           ({'kind': 'ocr', 'inputs': ['x']}, 'model.inputs: unknown key'),
           ({**DIGITS, 'weights': 'w.pt', 'size': [8]}, 'model.size'),
           ({**DIGITS, 'weights': 'w.pt', 'channels': 2}, 'model.channels'),
           ({**DIGITS, 'weights': 'w.pt', 'invert': 'maybe'}, 'model.invert'),
           ({**DIGITS, 'weights': 'w.pt', 'train': 'imagenet'}, 'model.train'),
           ({**DIGITS, 'weights': 'w.pt', 'std': [0.0]}, 'model.std')]
    for cfg, message in bad:
        with pytest.raises(ModelConfigError, match=message):
            validate_model_config(cfg)
    assert validate_model_config({'kind': 'ocr'})['input'] == 'image'


def test_digits_trained_at_first_use_then_cached(tmp_path):
    path = ensure_digits_weights(str(tmp_path / 'd.pt'), epochs=1)
    stamp = path.stat().st_mtime_ns
    assert ensure_digits_weights(str(path)).stat().st_mtime_ns == stamp  # not retrained
    assert not list(tmp_path.glob('*.part'))


def test_digits_classifier_reads_upscaled_digits():
    model = load_model({**DIGITS, 'weights': str(ensure_digits_weights()), 'threads': 1})
    digits = digit_images(60)
    preds = model.predict_batch([{'image': img} for img, _ in digits])
    accuracy = np.mean([p.label == y for p, (_, y) in zip(preds, digits)])
    assert accuracy >= 0.85, accuracy
    assert preds[0].proba.shape == (10,) and abs(preds[0].proba.sum() - 1) < 1e-5
    with pytest.raises(ValueError, match='missing'):
        model.predict_batch([{'image': None}])


def test_ocr_reads_rendered_text():
    pytest.importorskip('rapidocr_onnxruntime')
    model = load_model({'name': 'ocr', 'kind': 'ocr', 'threads': 1})
    text, blank = model.predict_batch([{'image': text_image('EDGE 42')},
                                       {'image': np.full((40, 40, 3), 255, np.uint8)}])
    assert 'EDGE' in text.label and text.extra['lines'][0]['score'] > 0.5
    assert blank.label is None and blank.extra['lines'] == []
