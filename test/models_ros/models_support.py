"""Helpers for the model node tests: trained HAR models, node factories, metrics probe."""

from typing import List

import joblib
from rclpy.node import Node
from ros_probes import params

from edgeserve_ros.models.ensemble_node import EnsembleNode
from edgeserve_ros.models.model_node import ModelNode
from edgeserve_ros.msg import LatencyMetrics
from edgeserve_ros.ros.qos import METRICS_QOS
from edgeserve_ros.workloads.har import GROUPS
from edgeserve_ros.workloads.har_train import train_har_models
from edgeserve_ros.workloads.source_node import WorkloadSource

GROUP_TOPICS = [f'/har/{g[0]}' for g in GROUPS]
QR_TEXT = 'edgeserve-ros/qr/0'


def write_models(directory, seed):
    """Train the HAR forests, save them with joblib; return (models YAML path, stacker path)."""
    all_rf, group_rfs, stacker = train_har_models(seed=seed, n_estimators=10)
    lines = ['models:']
    joblib.dump(all_rf, directory / 'har_all.joblib')
    widths = ', '.join(f'{t}: {g[2] - g[1] + 1}' for t, g in zip(GROUP_TOPICS, GROUPS))
    lines.append(f'  - {{name: har_all, kind: sklearn, path: {directory}/har_all.joblib, '
                 f'inputs: [{", ".join(GROUP_TOPICS)}], fill: zeros, widths: {{{widths}}}}}')
    for i, rf in enumerate(group_rfs):
        joblib.dump(rf, directory / f'har_g{i}.joblib')
        # bare group names: bound to the /har/<group> streams by their last component
        lines.append(f'  - {{name: har_g{i}, kind: sklearn, path: {directory}/har_g{i}.joblib, '
                     f'inputs: [{GROUPS[i][0]}]}}')
    lines.append('  - {name: qr, kind: opencv_qr, input: image, scale: 0.5}')
    path = directory / 'models.yaml'
    path.write_text('\n'.join(lines) + '\n')
    joblib.dump(stacker, directory / 'stacker.joblib')
    return str(path), str(directory / 'stacker.joblib')


def named(name):
    """Return the cli_args that rename a node (several of one class in one process)."""
    return ['--ros-args', '-r', f'__node:={name}']


def source(context, name, **values):
    """Return a workload_source node named ``name`` (only part 0 publishes the labels)."""
    if values.get('part', 0) > 0:
        values.setdefault('labels_topic', '')
    return WorkloadSource(context=context, cli_args=named(name),
                          parameter_overrides=params(**values))


def model(context, name, **values):
    """Return a model_node named ``name``."""
    return ModelNode(context=context, cli_args=named(name), parameter_overrides=params(**values))


def ensemble(context, **values):
    """Return an ensemble node."""
    return EnsembleNode(context=context, parameter_overrides=params(**values))


class Metrics:
    """Records the LatencyMetrics of one role."""

    def __init__(self, node: Node, role: str = 'model') -> None:
        self.role = role
        self.items: List[LatencyMetrics] = []
        node.create_subscription(LatencyMetrics, '/edgeserve/metrics', self._on, METRICS_QOS)

    def _on(self, msg: LatencyMetrics) -> None:
        if msg.role == self.role:
            self.items.append(msg)

    def p50(self, field):
        """Return the median of ``field`` over the recorded messages (NaN if none)."""
        values = sorted(getattr(m, field) for m in list(self.items))
        return values[len(values) // 2] if values else float('nan')
