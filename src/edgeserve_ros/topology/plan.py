"""
From a topology file to the nodes that run it: one plan for ``ros2 launch`` and the runner.

:func:`plan` turns a :class:`~.spec.TopologySpec` into :class:`NodeSpec` entries (module,
executable, node name, parameters, host); ``launch/topology_launch.py`` maps them onto
``launch_ros`` nodes and :mod:`edgeserve_ros.topology.run` onto processes (optionally one
network namespace per host), so both start exactly the same nodes.

- centralized: sources -> sync_node -> model_node (tuples) -> predictions
- parallel: sources -> sync_node -> shared_queue -> ``workers`` x queue_worker -> predictions
- decentralized: each source -> its local model_node (on the source's host) -> ensemble

Without synchronization (``synchronize: false``, e.g. NIDS flows, paper section 6.5) every
example stands alone: the model node or the shared queue reads every source's topic, and
decentralized local models publish straight to the prediction topic (no ensemble).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections import Counter
from typing import Any, Dict, List, Tuple

from edgeserve_ros.topology.spec import TopologySpec

LABELS_TOPIC = '/edgeserve/labels'
#: Module of the workload sources (the nodes a start barrier holds back).
SOURCE_MODULE = 'edgeserve_ros.workloads.source_node'


@dataclass(frozen=True)
class NodeSpec:
    """One node to start: ``python -m module`` (or ``executable``) with parameters, on host."""

    name: str
    module: str
    executable: str
    host: str
    params: Dict[str, Any]

    def ros_args(self) -> List[str]:
        """Return ``--ros-args`` arguments setting the node name and parameters."""
        args = ['--ros-args', '-r', f'__node:={self.name}']
        for key, value in self.params.items():
            args += ['-p', f'{key}:={_param_text(value)}']
        return args


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param_text(v) for v in value) + ']'
    if value == '':
        return "''"  # an empty string must be quoted for the ROS argument parser
    return str(value)


def predictions_topic(spec: TopologySpec) -> str:
    """Return the topic of the topology's final prediction stream."""
    return spec.topic('predictions')


def plan(spec: TopologySpec, models_file: str) -> List[NodeSpec]:
    """
    Return the nodes of ``spec``; ``models_file`` is the models YAML the model nodes load.

    Part 0 of the workload publishes the ground-truth labels on ``LABELS_TOPIC`` (every part,
    when examples are independent and each part labels its own).
    """
    nodes = [_source(spec, i) for i in range(len(spec.sources))]
    streams = [source_topic(spec, s.name) for s in spec.sources]
    if spec.topology == 'decentralized':
        local = []
        for src in spec.sources:
            out = (spec.topic(f'{src.name}_prediction') if spec.synchronize
                   else predictions_topic(spec))
            local.append(out)
            nodes.append(_model(spec, f'model_{src.name}', src.host, models_file,
                                spec.local_models[src.name], source_topic(spec, src.name),
                                'stream', out))
        if not spec.synchronize:
            return nodes
        nodes.append(NodeSpec('ensemble', 'edgeserve_ros.models.ensemble_node', 'ensemble_node',
                              spec.ensemble_host, {
                                  'inputs': local, 'rule': spec.ensemble_rule,
                                  'period': spec.period, 'max_skew': spec.max_skew,
                                  'max_age': spec.max_age, 'policy': spec.policy,
                                  'output_stream': predictions_topic(spec),
                                  **({'weights': list(spec.ensemble_weights)}
                                     if spec.ensemble_weights else {})}))
        return nodes
    if not spec.synchronize:
        central = _central(spec, models_file, streams[0], 'stream')
        central[0].params['more_inputs'] = streams[1:] or ['']
        return nodes + central
    synced = spec.topic('synced')
    nodes.append(NodeSpec('sync', 'edgeserve_ros.sync.sync_node', 'sync_node', spec.model_host, {
        'streams': streams, 'period': spec.period, 'max_skew': spec.max_skew,
        'max_age': spec.max_age, 'policy': spec.policy, 'output_topic': synced}))
    return nodes + _central(spec, models_file, synced, 'tuple')


def _central(spec: TopologySpec, models_file: str, topic: str, kind: str) -> List[NodeSpec]:
    """Return the centralized model node, or the shared queue and its workers."""
    if spec.topology == 'centralized':
        return [_model(spec, 'model', spec.model_host, models_file, spec.central_model, topic,
                       kind, predictions_topic(spec))]
    nodes = [NodeSpec('shared_queue', 'edgeserve_ros.models.shared_queue_node',
                      'shared_queue_node', spec.model_host, {
                          'input': topic, 'input_kind': kind,
                          'output_stream': predictions_topic(spec),
                          # models.max_pending: the queue keeps the newest items, counted drops
                          **({'capacity': spec.max_pending, 'drop': 'oldest'}
                             if spec.max_pending else {})})]
    for i in range(spec.workers):
        nodes.append(NodeSpec(f'worker_{i}', 'edgeserve_ros.models.queue_worker', 'queue_worker',
                              spec.model_host, {
                                  'queue': 'shared_queue', 'worker_name': f'worker_{i}',
                                  'model_file': models_file, 'model': spec.central_model,
                                  'max_items': spec.max_batch,
                                  'max_delay': spec.max_delay}))
    return nodes


def source_topic(spec: TopologySpec, source: str) -> str:
    """Return the topic a source publishes on."""
    return spec.topic(source)


def _source(spec: TopologySpec, index: int) -> NodeSpec:
    src = spec.sources[index]
    params: Dict[str, Any] = {
        'workload': spec.workload, 'part': src.part, 'stream': source_topic(spec, src.name),
        'speed': spec.speed, 'count': spec.count, 'seed': spec.seed, 'delivery': spec.delivery,
        'labels_topic': LABELS_TOPIC if index == 0 or not spec.synchronize else '',
        'header_delay': src.header_delay,
        # independent examples (NIDS flows) get distinct stamps: sources 1 ms apart
        'start_offset': 0.0 if spec.synchronize else index * 1e-3}
    return NodeSpec(f'source_{src.name}', SOURCE_MODULE,
                    'workload_source', src.host, params)


def _model(spec: TopologySpec, name: str, host: str, models_file: str, model: str,
           topic: str, kind: str, output: str) -> NodeSpec:
    return NodeSpec(name, 'edgeserve_ros.models.model_node', 'model_node', host, {
        'model_file': models_file, 'model': model, 'input': topic, 'input_kind': kind,
        'output_stream': output, 'max_batch': spec.max_batch, 'max_delay': spec.max_delay,
        'max_pending': spec.max_pending})


#: Parameters naming the topics a node subscribes to, and the one it publishes results on.
_INPUT_KEYS = ('streams', 'optional_streams', 'input', 'more_inputs', 'inputs')
_OUTPUT_KEYS = ('output_stream', 'output_topic', 'stream')


def readiness(nodes: List[NodeSpec]) -> Tuple[Dict[str, int], Dict[str, int]]:
    """
    Return ``(publishers, subscribers)`` every topic needs before the sources may start.

    A node publishes its output once it has loaded (a model node after its model; a queue
    worker's results publisher after its model), so waiting for these counts keeps the
    first examples from queueing behind nodes that are still starting.
    """
    pubs: Counter = Counter()
    subs: Counter = Counter()
    for node in nodes:
        for key in _INPUT_KEYS:
            value = node.params.get(key)
            for topic in ([value] if isinstance(value, str) else value or []):
                if topic:
                    subs[topic] += 1
        out = next((node.params[k] for k in _OUTPUT_KEYS if node.params.get(k)), None)
        if out:
            pubs[out] += 1
        if node.params.get('queue'):
            pubs[f'/{node.params["queue"].lstrip("/")}/results'] += 1
    return dict(pubs), dict(subs)
