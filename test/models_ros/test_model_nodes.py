"""
Model nodes with real rclpy: centralized HAR, decentralized ensemble, QR, bad parameters.

HAR pipelines run as node processes (as deployed) on the test's own ROS domain, probed from
this process; HAR sources share a ``start_time`` so the four column groups of one example
carry the same stamp. QR and parameter checks run the nodes in this process.
"""

import time

from conftest import wait_for
from models_support import (ensemble, GROUP_TOPICS, Metrics, model, QR_TEXT,
                            source, write_models)
import pytest
from rclpy.node import Node
from ros_probes import JsonStream
from std_msgs.msg import Header

from edgeserve_ros.models.metrics import real_time_accuracy
from edgeserve_ros.ros.params import ParameterError
from edgeserve_ros.ros.qos import START_QOS
from edgeserve_ros.ros.timeconv import from_sec

pytestmark = pytest.mark.ros

SPEED = 2.0  # as in the paper
SECONDS = 4.0
COUNT = int(SECONDS * SPEED / 0.033)
SEED = 16  # its test run starts with two activities (Stand, Walk) within 8 s
MODEL = 'edgeserve_ros.models.model_node'
START_TOPIC = '/har_test/start'


@pytest.fixture(scope='module')
def har_files(tmp_path_factory):
    """Return (models YAML, stacker file) with forests trained on the HAR training runs."""
    return write_models(tmp_path_factory.mktemp('har_models'), SEED)


def _play_har(spinner, ros_context, probe, ready, delays=(0.0, 0.0, 0.0, 0.0)):
    """Once ``ready()``, play the four HAR group sources in lockstep; wait until done.

    The sources wait for a start stamp (a launcher's barrier) that is sent only once every
    header writer and the labels writer have matched their readers: a label published
    before the probe's reader matched would be lost (22 of 231 were, beside the suite).
    """
    # a readiness deadline, not a timing claim: five node processes import sklearn and join
    # DDS discovery; beside the whole suite and two CPU burners that took over 30 s
    assert wait_for(ready, 120.0), 'downstream node processes did not come up'
    sources = [spinner.add(source(ros_context, f'har_src{i}', workload='har', part=i,
                                  stream=GROUP_TOPICS[i], speed=SPEED, count=COUNT, seed=SEED,
                                  start_topic=START_TOPIC, header_delay=delays[i]))
               for i in range(4)]
    assert wait_for(lambda: all(s.stream.matched() >= 1 for s in sources)
                    and sources[0].labels.matched() >= 1, 60.0), 'sources did not match'
    start = probe.create_publisher(Header, START_TOPIC, START_QOS)
    stamp = Header()
    stamp.stamp = from_sec(time.time() + 0.5)  # the node clock is the system clock
    start.publish(stamp)
    assert wait_for(lambda: all(s.finished.done() for s in sources), SECONDS + 10.0)
    # items due over 0.5 s ago are skipped, as by a real sensor: on a starved host (32% beside
    # two CPU burners) the run still has enough data for the checks that follow
    # one suite run beside two burners (2026-12-05) skipped 843 of 968; run alone beside them
    # 0 of 968 (6 runs). Whether the start reached the sources late or their timers starved
    # is not known: the message says (start handled after its stamp, s; skipped)
    late = [(round(s._began - s.schedule.start, 3), s.schedule.skipped) for s in sources]
    assert sum(s.schedule.skipped for s in sources) < 0.5 * 4 * COUNT, late
    time.sleep(0.3)
    return [s.published for s in sources]


def test_har_centralized_tuples_predict_the_activity(spinner, ros_context, procs, har_files):
    models, _ = har_files
    probe = spinner.add(Node('probe', context=ros_context))
    predictions, labels = JsonStream(probe, '/predictions'), JsonStream(probe, '/edgeserve/labels')
    metrics = Metrics(probe)
    procs.start('edgeserve_ros.sync.sync_node', 'sync_node', streams=GROUP_TOPICS,
                period=0.02, max_skew=0.01, max_age=0.5, output_topic='/synced')
    procs.start(MODEL, 'har_all', model_file=models, model='har_all', input='/synced',
                input_kind='tuple', output_stream='/predictions', max_batch=4, max_delay=0.005)
    published = _play_har(spinner, ros_context, probe, lambda: probe.count_subscribers(
        '/synced') >= 1 and all(probe.count_subscribers(t) >= 1 for t in GROUP_TOPICS))
    items = predictions.items
    # judged at the newest member of each tuple: what the model made of the data it was given
    by_data = real_time_accuracy([(max(m['stamp'] for m in p['inputs'].values()), p['label'])
                                  for p in items], labels.stamped())
    # judged at arrival (the paper's real-time accuracy) it also measures this host's backlog:
    # a figure of bench/har_paper, reported here
    accuracy = real_time_accuracy(predictions.issued(), labels.stamped())
    e2e = metrics.p50('end_to_end')
    print(f'\ncentralized: {len(predictions)} predictions, {len(labels)} labels, accuracy '
          f'{by_data:.3f} at the data time, {accuracy:.3f} real-time, end-to-end p50 '
          f'{e2e * 1e3:.1f} ms, processing p50 {metrics.p50("processing") * 1e3:.2f} ms')
    assert len(labels) == published[0]
    assert len(predictions) >= 0.7 * SECONDS / 0.02
    assert by_data >= 0.8
    for p in items:  # the tuple contract, held on what real processes delivered
        assert p['inputs'] and set(p['inputs']) <= set(GROUP_TOPICS) and p['model'] == 'har_all'
        assert {m['state'] for m in p['inputs'].values()} <= {'fresh', 'reused', 'imputed'}
        fresh = [m['stamp'] for m in p['inputs'].values() if m['state'] == 'fresh']
        assert not fresh or max(fresh) - min(fresh) <= 0.01 + 1e-6  # max_skew
    assert sorted(items[len(items) // 2]['inputs']) == sorted(GROUP_TOPICS)  # all streams up
    assert len(metrics.items) >= 0.5 * len(predictions)


def test_decentralized_ensemble_tolerates_a_late_stream(spinner, ros_context, procs,
                                                        har_files):
    models, _ = har_files
    probe = spinner.add(Node('probe', context=ros_context))
    combined, labels = JsonStream(probe, '/ensemble'), JsonStream(probe, '/edgeserve/labels')
    local = [JsonStream(probe, f'/pred/g{i}') for i in range(4)]
    late_local = local[3]
    for i in range(4):
        procs.start(MODEL, f'har_g{i}', model_file=models, model=f'har_g{i}',
                    input=GROUP_TOPICS[i], input_kind='stream', output_stream=f'/pred/g{i}',
                    max_batch=4, max_delay=0.02)
    procs.start('edgeserve_ros.models.ensemble_node', 'ensemble',
                inputs=[f'/pred/g{i}' for i in range(4)], rule='majority', period=0.03,
                max_skew=0.1, max_age=1.0, output_stream='/ensemble')
    published = _play_har(spinner, ros_context, probe, lambda: all(
        probe.count_subscribers(t) >= 1 for t in GROUP_TOPICS) and all(
        probe.count_subscribers(f'/pred/g{i}') >= 1 + (i == 3) for i in range(4)),
        delays=(0.0, 0.0, 0.0, 0.025))
    wait_for(lambda: len(late_local) >= 0.8 * published[3], 5.0)  # a loaded host lags
    items = combined.items
    late = [p for p in items if '/pred/g3' in p['dropped']]
    # judged at the newest data used: the ensemble's quality, whatever the host's backlog
    by_data = real_time_accuracy([(max(p['inputs'][s]['stamp'] for s in p['used']), p['label'])
                                  for p in items], labels.stamped())
    # judged at arrival: the paper's real-time accuracy, which also measures how far this host
    # lets the model processes fall behind (0.42 at a 1.3 s lag beside two CPU burners); it is
    # a figure of bench/har_paper, reported here and not asserted
    accuracy = real_time_accuracy(combined.issued(), labels.stamped())
    lag = sorted(t - s for t, s in zip(combined.arrivals, combined.stamps))
    print(f'\ndecentralized: {len(combined)} predictions, real-time accuracy {accuracy:.3f} '
          f'({by_data:.3f} at the data time, lag p50 {lag[len(lag) // 2] * 1e3:.0f} ms), late '
          f'stream dropped in {len(late)}, late local predictions {len(late_local)}')
    assert len(late_local) >= 0.8 * published[3]  # the late source's model still predicts
    assert len(combined) >= 0.25 * SECONDS / 0.03  # fewer when the host is starved
    # the local models judged the same way: the ensemble is no worse than its weakest member
    # (members that lag on a starved host leave fewer votes: 0.80 at a 2.2 s lag, 0.96 quiet)
    weakest = min(real_time_accuracy(list(zip(s.stamps, [i['label'] for i in s.items])),
                                     labels.stamped()) for s in local)
    print(f'weakest local model at the data time: {weakest:.3f}')
    assert by_data >= min(0.8, weakest)
    ticks = [p['tick'] for p in items]
    assert all(round((b - a) / 0.03) >= 1 for a, b in zip(ticks, ticks[1:]))  # one per period
    for p in items:  # the skew rule, held on what real processes delivered
        assert p['used'] and p['label'] is not None
        stamps = {s: m['stamp'] for s, m in p['inputs'].items()}
        newest = max(stamps[s] for s in p['used'])
        assert all(newest - stamps[s] <= 0.1 + 1e-6 for s in p['used'])
        assert all(newest - stamps[s] > 0.1 for s in p['dropped'])
        assert all(p['tick'] - 1.0 - 1e-6 <= t for t in stamps.values())  # max_age
        parts = [p['used'], p['dropped'], p['missing']]  # each input accounted for once
        assert sorted(sum(parts, [])) == sorted(f'/pred/g{i}' for i in range(4))
    # the late stream is voted with, not only dropped (how often depends on when its
    # predictions reach the ensemble on this host: 28% to all of them, measured)
    assert any('/pred/g3' in p['used'] for p in items)


def test_qr_camera_stream_decodes_the_text(spinner, ros_context, har_files):
    models, _ = har_files
    probe = spinner.add(Node('probe', context=ros_context))
    predictions = JsonStream(probe, '/qr/predictions')
    spinner.add(model(ros_context, 'qr_model', model_file=models, model='qr',
                      input='/qr/cam_a', input_kind='stream', output_stream='/qr/predictions'))
    assert wait_for(lambda: probe.count_subscribers('/qr/cam_a') >= 1, 10.0)
    cam = spinner.add(source(ros_context, 'qr_src', workload='qr', part=0, stream='/qr/cam_a',
                             speed=0.5, count=5))
    assert wait_for(lambda: cam.finished.done() and len(predictions) >= cam.published, 20.0)
    assert cam.published >= 3  # frames due while the host is starved are skipped
    assert [p['label'] for p in predictions.items] == [QR_TEXT] * cam.published
    detection = predictions.items[0]['extra']['detections'][0]
    assert len(detection['points']) == 4 and detection['text'] == QR_TEXT


def test_bad_parameters_name_the_key(ros_context, har_files, tmp_path):
    models, _ = har_files
    with pytest.raises(ParameterError, match="model='nope'"):
        model(ros_context, 'm1', model_file=models, model='nope')
    with pytest.raises(ParameterError, match='model_file'):
        model(ros_context, 'm2', model='har_all')
    with pytest.raises(ParameterError, match='model_file'):
        model(ros_context, 'm3', model_file=str(tmp_path / 'missing.yaml'), model='har_all')
    with pytest.raises(ParameterError, match='input_kind'):
        model(ros_context, 'm4', model_file=models, model='har_all', input_kind='image')
    with pytest.raises(ParameterError, match='max_pending'):
        model(ros_context, 'm5', model_file=models, model='har_all', max_batch=4, max_pending=2)
    with pytest.raises(ParameterError, match='part'):
        source(ros_context, 's1', workload='qr', part=3)
    with pytest.raises(ParameterError, match='stacker_file'):
        ensemble(ros_context, inputs=['/a', '/b'], rule='stacker')
    with pytest.raises(ParameterError, match='weights'):
        ensemble(ros_context, inputs=['/a', '/b', '/c'], rule='weighted', weights=[1.0, 2.0])


def test_main_exits_2_on_bad_parameters(procs):
    proc = procs.start(MODEL, 'bad_model', model_file='', model='har_all')
    assert proc.wait(timeout=20) == 2
    assert 'model_file' in procs.log('bad_model')
