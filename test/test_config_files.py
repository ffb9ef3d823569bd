"""config/*.yaml only sets parameters its nodes declare; launch files are valid Python."""

import ast
import pathlib

import pytest
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


@pytest.mark.parametrize('path', sorted((ROOT / 'launch').glob('*_launch.py')),
                         ids=lambda p: p.name)
def test_launch_files(path):
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in names
    launch_ros = pytest.importorskip('launch_ros', reason='launch_ros absent (pip machines)')
    assert launch_ros
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description().entities
