"""Topology files: validation with errors naming the key, and the node plan per topology."""

import pathlib

import pytest
import yaml

from edgeserve_ros.topology.barrier import gated
from edgeserve_ros.topology.plan import plan, predictions_topic, readiness
from edgeserve_ros.topology.run import load
from edgeserve_ros.topology.spec import parse_topology, TopologyError

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / 'config' / 'topologies'


def _doc(name='har'):
    return yaml.safe_load((CONFIGS / f'{name}.yaml').read_text())


@pytest.mark.parametrize('path', sorted(CONFIGS.glob('*.yaml')), ids=lambda p: p.stem)
@pytest.mark.parametrize('topology', ['centralized', 'parallel', 'decentralized'])
def test_every_shipped_file_plans_every_topology(path, topology):
    spec = load(str(path), [f'topology={topology}'])
    nodes = plan(spec, '/tmp/models.yaml')
    names = [n.name for n in nodes]
    assert len(names) == len(set(names))
    assert sum(n.module.endswith('workloads.source_node') for n in nodes) == len(spec.sources)
    assert {n.host for n in nodes} <= set(spec.hosts)
    outputs = [n.params.get('output_stream') for n in nodes]
    assert predictions_topic(spec) in outputs
    labels = [n for n in nodes if n.params.get('labels_topic')]
    assert len(labels) == (1 if spec.synchronize else len(spec.sources))


def test_plans_follow_the_paper_topologies():
    doc = _doc()
    by_kind = {}
    for kind in ('centralized', 'parallel', 'decentralized'):
        nodes = plan(parse_topology({**doc, 'topology': kind}), 'm.yaml')
        by_kind[kind] = [n.module.rsplit('.', 1)[1] for n in nodes]
    assert by_kind['centralized'].count('model_node') == 1
    assert 'sync_node' in by_kind['centralized']
    assert by_kind['parallel'].count('queue_worker') == 4
    assert 'shared_queue_node' in by_kind['parallel']
    assert by_kind['decentralized'].count('model_node') == 4
    assert 'ensemble_node' in by_kind['decentralized']
    local = [n for n in plan(parse_topology(doc), 'm.yaml') if n.name.startswith('model_')]
    assert [n.host for n in local] == ['s0', 's1', 's2', 's3']  # local models at the sources


def test_nids_flows_are_not_synchronized():
    nodes = plan(parse_topology(_doc('nids')), 'm.yaml')
    assert not any(n.module.endswith('sync_node') for n in nodes)
    sources = [n for n in nodes if n.module.endswith('source_node')]
    queue = next(n for n in nodes if n.name == 'shared_queue')
    topics = [queue.params['input']] + queue.params['more_inputs']
    assert topics == [n.params['stream'] for n in sources]  # one queue reads every source


def test_ros_args_render_parameters():
    node = plan(parse_topology(_doc()), 'm.yaml')[-1]
    args = node.ros_args()
    assert args[:3] == ['--ros-args', '-r', '__node:=ensemble']
    assert any(a.startswith('inputs:=[/har/') for a in args)


@pytest.mark.parametrize('change, key', [
    ({'topology': 'ring'}, 'topology'),
    ({'colour': 'red'}, 'colour'),
    ({'timing': {'period': 'fast', 'max_skew': 0.1}}, 'timing.period'),
    ({'timing': {'period': 0.1}}, 'timing.max_skew'),
    ({'sources': [{'name': 'a', 'part': 'x'}]}, 'sources[0].part'),
    ({'sources': [{'name': 'a', 'part': 0, 'host': 'mars'}]}, 'sources[0].host'),
    ({'decentralized': {'local': {}}}, 'decentralized.local'),
    ({'name': 'has space'}, 'name'),
    ({'models': {'max_batch': 4, 'max_pending': 2}}, 'models.max_pending'),
    ({'parallel': {'model': 'm', 'workers': 0}}, 'parallel.workers'),
    ({'discovery': {'mode': 'server', 'port': 80}}, 'discovery.port'),
    ({'discovery': {'mode': 'simple', 'host': 'leader'}}, 'discovery.host'),
    ({'discovery': {'mode': 'server', 'host': 'mars'}}, 'discovery.host'),
])
def test_bad_files_name_the_key(change, key):
    with pytest.raises(TopologyError, match=f'^{key}'.replace('[', r'\[').replace(']', r'\]')):
        parse_topology({**_doc(), **change})


def test_runner_reports_bad_file_and_missing_file(tmp_path, capsys):
    from edgeserve_ros.topology.run import main
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump({**_doc(), 'topology': 'ring'}))
    assert main([str(bad)]) == 2
    assert 'topology' in capsys.readouterr().err
    assert main([str(tmp_path / 'missing.yaml')]) == 2


def test_planned_parameters_are_declared_by_their_nodes():
    import importlib
    for name in ('har', 'nids', 'qr'):
        for kind in ('centralized', 'parallel', 'decentralized'):
            spec = load(str(CONFIGS / f'{name}.yaml'), [f'topology={kind}'])
            for node in gated(spec, plan(spec, 'm')):
                declared = {p.name for p in importlib.import_module(node.module).PARAMS}
                unknown = set(node.params) - declared
                assert not unknown, f'{node.module}: {unknown}'


@pytest.mark.parametrize('topology', ['centralized', 'parallel', 'decentralized'])
def test_readiness_waits_for_every_consumer_and_loaded_model(topology):
    spec = load(str(CONFIGS / 'har.yaml'), [f'topology={topology}'])
    pubs, subs = readiness(plan(spec, 'm.yaml'))
    sources = [f'/har/{s.name}' for s in spec.sources]
    assert all(pubs[t] == 1 for t in sources)
    if topology == 'parallel':  # the queue publishes predictions; each loaded worker results
        assert pubs['/har/predictions'] == 1 and pubs['/shared_queue/results'] == spec.workers
    if topology == 'decentralized':  # a local model per source, then the ensemble
        assert all(subs[t] == 1 for t in sources) and subs['/har/accelerometers_prediction'] == 1
    else:
        assert all(subs[t] == 1 for t in sources) and subs['/har/synced'] == 1


def test_topology_keys_reach_the_nodes_of_every_topology():
    # issue 9: a parallel topology dropped models.max_pending; a decentralized one timing.policy
    sets = ['models.max_pending=16', 'timing.policy=partial']  # max_batch 8 in har.yaml
    queue = {n.name: n for n in plan(load(str(CONFIGS / 'har.yaml'),
                                          ['topology=parallel', *sets]), 'm')}['shared_queue']
    assert queue.params['capacity'] == 16 and queue.params['drop'] == 'oldest'
    workers = [n for n in plan(load(str(CONFIGS / 'har.yaml'),
                                    ['topology=parallel', 'models.max_delay=0.007']), 'm')
               if n.name.startswith('worker_')]
    assert workers and all(w.params['max_delay'] == 0.007 for w in workers)  # models.max_delay
    ensemble = {n.name: n for n in plan(load(str(CONFIGS / 'har.yaml'),
                                             ['topology=decentralized', *sets]), 'm')}['ensemble']
    assert ensemble.params['policy'] == 'partial'


@pytest.mark.parametrize('name, change, key', [
    # a key the chosen topology cannot use is an error naming it, never silently dropped
    ('har', {'centralized': {'model': 'm', 'workers': 4}}, 'centralized.workers'),
    ('har', {'parallel': {'model': 'm', 'local': {}}}, 'parallel.local'),
    ('har', {'decentralized': {'local': {'accelerometers': 'x', 'gps': 'y'}}},
     'decentralized.local.gps'),
    ('nids', {'timing': {'period': 0.02, 'max_skew': 0.01}}, 'timing'),
    ('nids', {'decentralized': {'local': {}, 'ensemble': {'rule': 'majority'}}},
     'decentralized.ensemble'),
    # the older flat layout says where each key lives now
    ('har', {'models': {'central': 'har_all'}}, 'models.central'),
    ('har', {'models': {'workers': 2}}, 'models.workers'),
    ('har', {'ensemble': {'rule': 'majority'}}, 'ensemble'),
])
def test_keys_a_topology_does_not_use_are_errors(name, change, key):
    with pytest.raises(TopologyError, match=f'^{key}:'):
        parse_topology({**_doc(name), **change})


def test_each_section_applies_only_to_its_topology():
    doc = {**_doc(), 'centralized': {'model': 'c', 'host': 's0'},
           'parallel': {'model': 'p', 'host': 's1', 'workers': 3}}
    central = parse_topology({**doc, 'topology': 'centralized'})
    parallel = parse_topology({**doc, 'topology': 'parallel'})
    assert (central.central_model, central.model_host) == ('c', 's0')
    assert (parallel.central_model, parallel.model_host, parallel.workers) == ('p', 's1', 3)
    with pytest.raises(TopologyError, match='^parallel.model: required'):
        parse_topology({**doc, 'topology': 'parallel', 'parallel': {'workers': 2}})


def test_discovery_server_is_selected_by_the_file():
    spec = parse_topology({**_doc(), 'discovery': {'mode': 'server', 'host': 's0'}})
    assert (spec.discovery, spec.discovery_host, spec.discovery_port) == ('server', 's0', 11811)
    assert parse_topology({**_doc(), 'discovery': 'simple'}).discovery == 'simple'


def test_overrides_fill_empty_sections_and_reject_what_they_cannot_set(tmp_path):
    doc = {**_doc(), 'parallel': None}
    path = tmp_path / 'har.yaml'
    path.write_text(yaml.safe_dump(doc))
    spec = load(str(path), ['topology=parallel', 'parallel.model=har_all', 'parallel.workers=2'])
    assert (spec.central_model, spec.workers) == ('har_all', 2)
    for bad, key in [('parallel.workers', 'parallel.workers='), ('count.x=1', 'count.x'),
                     ('parallel.workers=[1', 'parallel.workers')]:
        with pytest.raises(TopologyError, match=key.replace('[', r'\[')):
            load(str(path), [bad])
