"""The rclpy-free helpers of the model nodes: playback, input binding, batches, ensembling."""

import numpy as np
import pytest

from edgeserve_ros.models.combine import align_proba, combine_tuple, load_stacker
from edgeserve_ros.models.ensemble import Ensemble
from edgeserve_ros.models.features import FeatureAssembler
from edgeserve_ros.models.prediction import InputBinding, model_inputs, predict_tuples
from edgeserve_ros.models.stacking import Stacker
from edgeserve_ros.models.types import Prediction
from edgeserve_ros.workloads.playback import default_stream, Part, part_name, Schedule


def test_schedule_plays_due_items_and_skips_late_ones():
    s = Schedule(start=10.0, period=0.1, natural_period=0.2, size=100, count=20, max_lag=0.25)
    assert s.due(9.9) == [] and s.due(10.0) == [0] and s.due(10.25) == [1, 2]
    assert s.stamp(2) == pytest.approx(10.2)
    assert s.due(11.0) == [8, 9, 10] and s.skipped == 5  # 3..7 were more than 0.25 s late
    assert s.due(20.0) == [] and s.done and s.skipped == 14
    lagged = Schedule(start=10.0, period=0.1, natural_period=0.2, size=5, lag=0.02)
    assert lagged.stamp(0) == pytest.approx(10.01)  # data-time lag scaled by the speed


def test_parts_of_the_workloads():
    har = Part('har', 1)
    item = har.item(5)
    assert item.value.shape == (39,) and item.value.dtype == np.float32
    assert isinstance(item.label, str) and har.size == int(120.0 / 0.033)
    assert Part('har', -1).item(0).value.shape == (134,)
    assert default_stream('har', 3) == 'har/imu_shoes' and part_name('qr', 1) == 'cam_b'
    assert default_stream('nids', 2) == 'nids/source2'
    assert Part('nids', 0).item(0).value.shape == (22,)
    with pytest.raises(ValueError, match='part'):
        part_name('nids', 4)


def test_input_binding():
    bind = InputBinding(['/har/accelerometers', 'imu_shoes'])
    assert bind('/har/accelerometers') == '/har/accelerometers'
    assert bind('har/accelerometers') == '/har/accelerometers'
    assert bind('/robot/imu_shoes') == 'imu_shoes' and bind('/har/other') is None
    assert InputBinding(['image'])('/cam_a', only=True) == 'image'
    assert InputBinding(['image'])('/cam_a') is None
    assert InputBinding(None)('/x') == '/x'


class _Model:
    def __init__(self):
        self.assembler = FeatureAssembler(['a', 'b'], fill='error', widths={'a': 1, 'b': 1})

    def predict_batch(self, inputs):
        x = self.assembler.matrix(inputs)
        return [Prediction(label=int(r.sum()), proba=np.array([0.25, 0.75]),
                           classes=np.array(['x', 'y'])) for r in x]


def test_predict_tuples_isolates_a_failing_input():
    model = _Model()
    assert model_inputs(model) == ['a', 'b']
    items = [{'a': np.array([1.0]), 'b': np.array([2.0])}, {'a': np.array([1.0]), 'b': None}]
    prov = [{'tick': 1.5, 'inputs': {'/a': {'seq': 3, 'stamp': 1.49, 'state': 'fresh'}}},
            {'tick': 1.6, 'inputs': {}}]
    ok, bad = predict_tuples(model, items, prov, name='m')
    assert ok['label'] == 3 and ok['classes'] == ['x', 'y'] and ok['proba'] == [0.25, 0.75]
    assert ok['tick'] == 1.5 and ok['inputs']['/a']['seq'] == 3 and ok['batch'] == 2
    assert ok['model'] == 'm' and ok['worker'] == '' and ok['processing_s'] >= 0
    assert 'missing' in bad['error'] and bad['label'] is None


def _member(label, stamp, seq=0, proba=None, classes=None):
    return ({'label': label, 'proba': proba, 'classes': classes}, 'fresh', stamp, seq)


def test_combine_drops_the_late_vote():
    keys = {f'/p{i}': f'/p{i}' for i in range(4)}
    ensemble = Ensemble(list(keys.values()), 'majority', max_skew=0.015)
    members = {'/p0': _member('Walk', 1.0), '/p1': _member('Walk', 1.0),
               '/p2': _member('Stand', 0.999), '/p3': _member('Stand', 0.975)}
    out = combine_tuple(ensemble, keys, 1.0, members)
    assert out['label'] == 'Walk' and out['dropped'] == ['/p3']
    assert out['used'] == ['/p0', '/p1', '/p2'] and out['inputs']['/p3']['stamp'] == 0.975
    assert combine_tuple(ensemble, keys, 1.0, dict.fromkeys(keys)) is None


def test_stacker_file_and_proba_alignment(tmp_path):
    import joblib
    assert align_proba([0.2, 0.8], ['b', 'a'], ['a', 'b', 'c']) == [0.8, 0.2, 0.0]
    rows = [{'s0': 'a', 's1': 'a'}, {'s0': 'b', 's1': 'b'}] * 10
    stacker = Stacker(['s0', 's1'], ['a', 'b'], use_proba=False).fit(rows, ['a', 'b'] * 10)
    joblib.dump(stacker, tmp_path / 'stacker.joblib')
    loaded = load_stacker(str(tmp_path / 'stacker.joblib'))
    keys = {'/robot/s0': 's0', '/robot/s1': 's1'}
    ensemble = Ensemble(['s0', 's1'], 'stacker', max_skew=0.05, stacker=loaded)
    out = combine_tuple(ensemble, keys, 2.0, {'/robot/s0': _member('b', 2.0),
                                              '/robot/s1': _member('b', 1.99)})
    assert out['label'] == 'b' and out['used'] == ['/robot/s0', '/robot/s1']
    joblib.dump({'not': 'a stacker'}, tmp_path / 'bad.joblib')
    with pytest.raises(ValueError, match='not a fitted Stacker'):
        load_stacker(str(tmp_path / 'bad.joblib'))
