"""config/*.yaml only sets parameters its nodes declare (launch files: test/launch)."""

import pathlib

import yaml

from edgeserve_ros.dataplane import consumer_node, source_node
from edgeserve_ros.gateway import topic_gateway_node

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODE_PARAMS = {
    'source_node': source_node.PARAMS,
    'consumer_node': consumer_node.PARAMS,
    'topic_gateway_node': topic_gateway_node.PARAMS,
}


def test_dataplane_yaml_keys_are_declared_and_valid():
    doc = yaml.safe_load((ROOT / 'config' / 'dataplane.yaml').read_text())
    for node, section in doc.items():
        specs = {spec.name: spec for spec in NODE_PARAMS[node]}
        for key, value in section['ros__parameters'].items():
            assert key in specs, f'{node}: unknown key {key}'
            if isinstance(specs[key].default, float) and isinstance(value, int):
                value = float(value)
            assert specs[key].check(value) is None, (node, key, value)
