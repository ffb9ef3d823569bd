"""Fuzz every node's parameters: a node starts or refuses with ParameterError, nothing else."""

import importlib
import itertools
import os

from hypothesis import given, HealthCheck, settings, strategies as st
import pytest
from rclpy.parameter import Parameter

from conftest import fuzz_case

pytestmark = pytest.mark.ros

#: module -> node class of every node whose parameters come from one PARAMS table
NODES = {
    'edgeserve_ros.dataplane.source_node': 'SourceNode',
    'edgeserve_ros.dataplane.consumer_node': 'ConsumerNode',
    'edgeserve_ros.gateway.topic_gateway_node': 'TopicGatewayNode',
    'edgeserve_ros.sync.sync_node': 'SyncNode',
    'edgeserve_ros.models.model_node': 'ModelNode',
    'edgeserve_ros.models.queue_worker': 'QueueWorker',
    'edgeserve_ros.models.shared_queue_node': 'SharedQueueNode',
    'edgeserve_ros.models.ensemble_node': 'EnsembleNode',
    'edgeserve_ros.workloads.source_node': 'WorkloadSource',
}
EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '200'))
_NAMES = itertools.count()

texts = st.one_of(st.text(max_size=20), st.sampled_from(['', '/a', 'a b', '~/x', '/' * 3,
                                                        'x' * 300, '/nonexistent/dir/f']))
scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), texts)
values = st.one_of(scalars, st.lists(texts, min_size=1, max_size=3),
                   st.lists(st.floats(allow_nan=True), min_size=1, max_size=3))


@pytest.fixture(scope='module')
def context():
    import rclpy
    from conftest import next_domain_id
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=next_domain_id())
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.fixture(scope='module', autouse=True)
def in_scratch_dir(tmp_path_factory):
    """Run in a scratch folder: drawn file parameters (mcap_path 'a b') are relative paths."""
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp('fuzz_cwd'))
    yield
    os.chdir(old)


def _node_class(module):
    return getattr(importlib.import_module(module), NODES[module])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), module=st.sampled_from(sorted(NODES)))
def test_any_parameter_value_starts_the_node_or_names_the_culprit(context, data, module):
    from edgeserve_ros.ros.params import ParameterError
    cls = _node_class(module)
    names = [spec.name for spec in importlib.import_module(module).PARAMS]
    chosen = data.draw(st.lists(st.sampled_from(names + ['no_such_key']), min_size=1,
                                max_size=3, unique=True))
    overrides = [Parameter(name, value=data.draw(values)) for name in chosen]
    namespace = f'/fuzz{next(_NAMES)}'
    if fuzz_case():
        # control: rclpy's own cost of a node under a new name (about 4 KB per name that
        # rcl/rclpy keep after destroy_node), so the bench's growth beyond the control is
        # the cost of our node classes
        from rclpy.node import Node
        Node('fuzz_control', context=context, namespace=namespace).destroy_node()
        return
    try:
        node = cls(context=context, parameter_overrides=overrides, namespace=namespace)
    except ParameterError as exc:  # names a culprit: a value given, or a required one left out
        assert any(name in str(exc) for name in chosen + names), (str(exc), chosen)
        return
    node.destroy_node()
