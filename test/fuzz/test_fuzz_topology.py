"""Fuzz: any mutation of a shipped topology file is planned or rejected with TopologyError."""

import copy
import os
import pathlib

from hypothesis import given, HealthCheck, settings, strategies as st
import yaml

from conftest import fuzz_case
from edgeserve_ros.topology.plan import plan, readiness
from edgeserve_ros.topology.spec import parse_topology, TopologyError

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies'
DOCS = [yaml.safe_load(p.read_text()) for p in sorted(CONFIGS.glob('*.yaml'))]
#: examples per test; the bench (bench/fuzz.py) raises it to 10,000
EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '200'))

leaves = (st.none() | st.booleans() | st.integers(-10**12, 10**12)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
          | st.sampled_from(['leader', 's0', 'heavy', 'centralized', 'weighted', 'impute', '']))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _paths(node, prefix=()):
    """Every (path, value) inside a parsed YAML document."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _mutate(doc, data):
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p, _ in _paths(doc) if p]
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(['replace', 'delete', 'add']))
        if action == 'replace':
            parent[path[-1]] = data.draw(values)
        elif action == 'delete':
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(values)
        else:
            parent.append(data.draw(values))
    return doc


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_topology_is_planned_or_rejected_naming_a_key(data):
    doc = _mutate(data.draw(st.sampled_from(DOCS)), data)
    if fuzz_case():
        return
    try:
        spec = parse_topology(doc)
    except TopologyError as exc:
        assert str(exc) and len(str(exc)) < 2000
        return
    nodes = plan(spec, '/tmp/models.yaml')
    assert nodes and readiness(nodes)
