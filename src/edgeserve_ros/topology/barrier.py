"""
The start barrier of a topology, shared by ``topology.run`` and ``topology_launch.py``.

The workload sources of a topology wait for one ``std_msgs/Header`` on the topology's start
topic (latched) and stamp their items from its time, so every part starts together and no
header is published before its consumers are there. A ``topology_monitor`` publishes it once
:func:`~edgeserve_ros.topology.plan.readiness` holds (every node loaded, every input
subscribed), then prints live predictions and accuracy.
"""

from __future__ import annotations

from collections import Counter
import dataclasses
import json
from typing import Dict, List, Sequence, Tuple

from edgeserve_ros.topology.plan import (LABELS_TOPIC, NodeSpec, predictions_topic, readiness,
                                         SOURCE_MODULE)
from edgeserve_ros.topology.spec import TopologySpec

#: ``ros2 run`` name and module of the monitor that holds the barrier.
MONITOR_EXECUTABLE = 'topology_monitor'
MONITOR_MODULE = 'edgeserve_ros.topology.monitor'


def start_topic(spec: TopologySpec) -> str:
    """Return the topic of the topology's start time."""
    return spec.topic('start')


def needs(spec: TopologySpec, nodes: List[NodeSpec], observers: Sequence[str] = (),
          ) -> Tuple[Dict[str, int], Dict[str, int]]:
    """
    Return ``(publishers, subscribers)`` per topic that the start barrier waits for.

    :func:`~.plan.readiness` of the nodes, plus one subscriber per entry of ``observers``
    (topics that processes beside the nodes read from the start, e.g. a benchmark's
    recorder); a topic the monitor reads itself counts its subscription too.
    """
    pubs, subs = readiness(nodes)
    extra = Counter(observers)
    own = {predictions_topic(spec), LABELS_TOPIC}
    for topic, count in extra.items():
        subs[topic] = subs.get(topic, 0) + count + (topic in own)
    return pubs, subs


def gated(spec: TopologySpec, nodes: List[NodeSpec],
          observers: Sequence[str] = ()) -> List[NodeSpec]:
    """
    Return ``nodes`` with every workload source set to wait for the start topic.

    Each source also waits until its own header writer has matched every planned
    subscriber of its stream (and of ``observers``, see :func:`needs`): the monitor's view
    of the graph says a subscription exists, not that the source's writer has matched it
    yet (a header published before that match is lost to that reader).
    """
    subscribers = needs(spec, nodes, observers)[1]
    return [dataclasses.replace(n, params={
        **n.params, 'start_topic': start_topic(spec),
        'wait_subscribers': subscribers.get(str(n.params.get('stream')), 0)})
        if n.module == SOURCE_MODULE else n for n in nodes]


def monitor_arguments(spec: TopologySpec, nodes: List[NodeSpec], seconds: float,
                      idle: float = 5.0, startup: float = 90.0, expect: int = 0,
                      drain: float = 0.0, observers: Sequence[str] = ()) -> List[str]:
    """
    Return the monitor's command-line arguments for the topology ``nodes``.

    :param seconds: how long to watch after the first prediction
    :param idle: stop after this long without a prediction
    :param startup: give up when no prediction came within this long
    :param expect: stop after this many predictions (0: no such bound)
    :param drain: once every source finished, stop after this long without a prediction
        (0: off)
    :param observers: topics read by processes beside the nodes, see :func:`needs`
    """
    return ['--predictions', predictions_topic(spec), '--labels', LABELS_TOPIC,
            '--seconds', str(seconds), '--idle', str(idle), '--startup', str(startup),
            '--expect', str(expect), '--drain', str(drain),
            '--start-topic', start_topic(spec),
            '--need', json.dumps(needs(spec, nodes, observers)),
            '--sources', str(sum(n.module == SOURCE_MODULE for n in nodes))] + (
                ['--one-per-item'] if one_per_item(spec) else [])


def one_per_item(spec: TopologySpec) -> bool:
    """Whether each produced item yields one prediction (no synchronizer, no ensemble)."""
    return not spec.synchronize and spec.topology != 'decentralized'
