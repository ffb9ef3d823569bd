"""
Topology files: one YAML declares a whole deployment (paper section 3).

Sources, models, placement (which host runs what), timing and the topology kind. Every key
sits where it takes effect, so a file can hold the settings of all three topologies and
``topology:`` (or ``topology:=`` on the command line) picks one. Example
(``config/topologies/har.yaml``)::

    name: har
    workload: har              # har | nids | qr (built-in workloads)
    topology: decentralized    # centralized | parallel | decentralized: picks a section below
    speed: 2.0                 # playback speed of the workload
    count: 0                   # examples per source (0: whole run)
    synchronize: true          # default: false for nids (independent flows), else true
    timing: {period: 0.03, max_skew: 0.02, max_age: 0.5, policy: impute}  # synchronize only
    discovery: {mode: simple}  # or {mode: server, host: leader, port: 11811, address: ''}
    hosts: [leader, s0, s1, s2, s3]
    sources:
      - {name: accelerometers, part: 0, host: s0}
      - {name: imu_back_right_arm, part: 1, host: s1, header_delay: 0.025}
    models: {max_batch: 8, max_delay: 0.005, max_pending: 0}   # every model node
    centralized: {model: har_all, host: leader}
    parallel: {model: har_all, host: leader, workers: 4}
    decentralized:
      local: {accelerometers: har_part0, imu_back_right_arm: har_part1}
      ensemble: {rule: weighted, host: leader}                   # synchronize only

A key the topology cannot use is an error naming it (``timing`` without synchronization,
``parallel.workers`` under ``centralized``, the keys of the older flat ``models`` section).
Errors are :class:`TopologyError` naming the key, e.g. ``sources[1].part: expected int``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Dict, List, Mapping, Tuple

from edgeserve_ros.topology.keys import (choice, get_key, get_section, known_host, name_list,
                                         reject_unknown, TopologyError)

TOPOLOGIES = ('centralized', 'parallel', 'decentralized')
WORKLOADS = ('har', 'nids', 'qr')
POLICIES = ('impute', 'partial', 'skip')
RULES = ('majority', 'weighted', 'stacker')
#: Most queue workers one topology may start.
MAX_WORKERS = 256
DISCOVERY = ('simple', 'server')
#: Default port of a Fast DDS discovery server (``fastdds discovery -p``).
DISCOVERY_PORT = 11811
_TOP_KEYS = {'name', 'workload', 'topology', 'speed', 'count', 'seed', 'timing', 'hosts',
             'sources', 'models', 'delivery', 'synchronize', 'discovery', *TOPOLOGIES}
_SOURCE_KEYS = {'name', 'part', 'host', 'header_delay'}
_MODEL_KEYS = {'max_batch', 'max_delay', 'file', 'max_pending'}
_TIMING_KEYS = {'period', 'max_skew', 'max_age', 'policy'}
_SECTION_KEYS = {'centralized': {'model', 'host'}, 'parallel': {'model', 'host', 'workers'},
                 'decentralized': {'local', 'ensemble'}}
_ENSEMBLE_KEYS = {'rule', 'host', 'weights'}
_DISCOVERY_KEYS = {'mode', 'host', 'port', 'address'}
#: keys of the older flat layout -> where they live now
_MOVED = {'models.central': 'centralized.model and parallel.model',
          'models.local': 'decentralized.local', 'models.workers': 'parallel.workers',
          'models.host': 'centralized.host and parallel.host',
          'ensemble': 'decentralized.ensemble'}


@dataclass(frozen=True)
class SourceSpec:
    """One workload source: its stream name, workload part and host."""

    name: str
    part: int
    host: str
    header_delay: float = 0.0


@dataclass(frozen=True)
class TopologySpec:
    """A validated topology file."""

    name: str
    workload: str
    topology: str
    sources: Tuple[SourceSpec, ...]
    #: timing of the synchronizer (and ensemble); 0 when ``synchronize`` is false
    period: float = 0.0
    max_skew: float = 0.0
    max_age: float = 0.0
    policy: str = 'impute'
    speed: float = 2.0
    count: int = 0
    seed: int = 0
    delivery: str = 'auto'
    #: False: examples are independent (NIDS flows): no synchronization, no ensemble
    synchronize: bool = True
    hosts: Tuple[str, ...] = ('localhost',)
    central_model: str = ''
    local_models: Dict[str, str] = field(default_factory=dict)
    model_host: str = 'localhost'
    workers: int = 4
    max_batch: int = 1
    max_delay: float = 0.0
    #: inputs a model node works on at once; past it the newest waits, older are skipped
    max_pending: int = 0
    models_file: str = ''
    ensemble_rule: str = 'majority'
    ensemble_host: str = 'localhost'
    ensemble_weights: Tuple[float, ...] = ()
    #: ``simple`` (DDS multicast discovery) or ``server`` (a Fast DDS discovery server)
    discovery: str = 'simple'
    discovery_host: str = 'localhost'
    discovery_port: int = DISCOVERY_PORT
    #: where the other hosts reach ``discovery_host`` ('' : 127.0.0.1, or the netns address)
    discovery_address: str = ''

    def topic(self, stream: str) -> str:
        """Return the topic of a stream of this topology (``/<name>/<stream>``)."""
        return f'/{self.name}/{stream}'


def parse_topology(doc: Any) -> TopologySpec:
    """Validate a topology document (parsed YAML); raise :class:`TopologyError`."""
    if not isinstance(doc, Mapping):
        raise TopologyError('top level: expected a mapping')
    _moved(doc)
    reject_unknown(doc, _TOP_KEYS, '')
    name = get_key(doc, 'name', '', (str,))
    if not name.isidentifier():
        raise TopologyError(f'name: {name!r} must be an identifier (it prefixes topics)')
    hosts = name_list(get_key(doc, 'hosts', '', (list,), ['localhost']), 'hosts')
    if not hosts:
        raise TopologyError('hosts: at least one host is required')
    topology = choice(get_key(doc, 'topology', '', (str,)), TOPOLOGIES, 'topology')
    synchronize = get_key(doc, 'synchronize', '', (bool,), doc.get('workload') != 'nids')
    models = get_section(doc, 'models', _MODEL_KEYS)
    sections = {kind: get_section(doc, kind, _SECTION_KEYS[kind]) for kind in TOPOLOGIES}
    chosen = _model_section(sections, topology, hosts, synchronize)
    sources = _sources(get_key(doc, 'sources', '', (list,)), hosts)
    _local_sources(sections['decentralized'], sources)
    spec = TopologySpec(
        name=name, workload=choice(get_key(doc, 'workload', '', (str,)), WORKLOADS, 'workload'),
        topology=topology, sources=sources, hosts=hosts, synchronize=synchronize,
        **_timing(doc, synchronize), **_discovery(doc, hosts), **chosen,
        speed=float(get_key(doc, 'speed', '', (int, float), 2.0)),
        count=get_key(doc, 'count', '', (int,), 0), seed=get_key(doc, 'seed', '', (int,), 0),
        delivery=choice(get_key(doc, 'delivery', '', (str,), 'auto'),
                        ('lazy', 'eager', 'auto'), 'delivery'),
        max_batch=get_key(models, 'max_batch', 'models.', (int,), 1),
        max_delay=float(get_key(models, 'max_delay', 'models.', (int, float), 0.0)),
        max_pending=get_key(models, 'max_pending', 'models.', (int,), 0),
        models_file=get_key(models, 'file', 'models.', (str,), ''))
    _check(spec)
    return spec


def _moved(doc: Mapping) -> None:
    """Reject the keys of the older flat layout, saying where each lives now."""
    models = doc.get('models')
    present = [k for k in _MOVED if k in doc or isinstance(models, Mapping)
               and k.startswith('models.') and k[len('models.'):] in models]
    if present:
        raise TopologyError(f'{present[0]}: moved to {_MOVED[present[0]]} (every key sits in '
                            'the section of the topology that uses it)')


def _timing(doc: Mapping, synchronize: bool) -> Dict[str, Any]:
    if not synchronize:
        if 'timing' in doc:
            raise TopologyError('timing: not used when synchronize is false (every example '
                                'is predicted on its own, no synchronizer runs)')
        return {}
    timing = get_section(doc, 'timing', _TIMING_KEYS)
    return {'period': float(get_key(timing, 'period', 'timing.', (int, float))),
            'max_skew': float(get_key(timing, 'max_skew', 'timing.', (int, float))),
            'max_age': float(get_key(timing, 'max_age', 'timing.', (int, float), 1.0)),
            'policy': choice(get_key(timing, 'policy', 'timing.', (str,), 'impute'), POLICIES,
                             'timing.policy')}


def _discovery(doc: Mapping, hosts: Tuple[str, ...]) -> Dict[str, Any]:
    section = doc.get('discovery', {'mode': 'simple'})
    if isinstance(section, str):
        section = {'mode': section}
    if not isinstance(section, Mapping):
        raise TopologyError('discovery: expected simple, server or a mapping')
    reject_unknown(section, _DISCOVERY_KEYS, 'discovery.')
    mode = choice(get_key(section, 'mode', 'discovery.', (str,), 'simple'), DISCOVERY,
                  'discovery.mode')
    if mode == 'simple':
        extra = sorted(set(section) - {'mode'})
        if extra:
            raise TopologyError(f'discovery.{extra[0]}: only used with mode: server')
        return {'discovery_host': hosts[0]}
    port = get_key(section, 'port', 'discovery.', (int,), DISCOVERY_PORT)
    if not 1024 <= port <= 65535:
        raise TopologyError(f'discovery.port: {port} is outside 1024..65535')
    address = get_key(section, 'address', 'discovery.', (str,), '')
    if address and not all(c.isalnum() or c in '.-:' for c in address):
        raise TopologyError(f'discovery.address: {address!r} is not an IP address or host name')
    return {'discovery': mode, 'discovery_port': port, 'discovery_address': address,
            'discovery_host': known_host(get_key(section, 'host', 'discovery.', (str,),
                                                 hosts[0]), hosts, 'discovery.host')}


def _model_section(sections: Mapping[str, Mapping], topology: str, hosts: Tuple[str, ...],
                   synchronize: bool) -> Dict[str, Any]:
    """Validate the three topology sections; return the chosen one's TopologySpec fields."""
    out: Dict[str, Dict[str, Any]] = {}
    for kind in ('centralized', 'parallel'):
        section, where = sections[kind], f'{kind}.'
        out[kind] = {
            'central_model': get_key(section, 'model', where, (str,), ''),
            'model_host': known_host(get_key(section, 'host', where, (str,), hosts[0]),
                                     hosts, f'{where}host')}
        if kind == 'parallel':
            workers = get_key(section, 'workers', where, (int,), 4)
            if not 1 <= workers <= MAX_WORKERS:
                raise TopologyError(f'parallel.workers: {workers} is outside 1..{MAX_WORKERS}')
            out[kind]['workers'] = workers
    section = sections['decentralized']
    ensemble = get_section(section, 'ensemble', _ENSEMBLE_KEYS, 'decentralized.')
    if ensemble and not synchronize:
        raise TopologyError('decentralized.ensemble: not used when synchronize is false (the '
                            'local models publish the predictions)')
    where = 'decentralized.ensemble.'
    out['decentralized'] = {
        'local_models': _local_models(get_key(section, 'local', 'decentralized.', (dict,), {})),
        'ensemble_rule': choice(get_key(ensemble, 'rule', where, (str,), 'majority'), RULES,
                                f'{where}rule'),
        'ensemble_host': known_host(get_key(ensemble, 'host', where, (str,), hosts[0]), hosts,
                                    f'{where}host'),
        'ensemble_weights': _weights(get_key(ensemble, 'weights', where, (list,), []))}
    return out[topology]


def _local_models(doc: Mapping) -> Dict[str, str]:
    for source, model in doc.items():
        if not isinstance(source, str) or not isinstance(model, str) or not model:
            raise TopologyError(f'decentralized.local.{source}: expected a model name, '
                                f'got {model!r}')
    return dict(doc)


def _local_sources(section: Mapping, sources: Tuple[SourceSpec, ...]) -> None:
    names = {s.name for s in sources}
    local = section.get('local') or {}
    extra = sorted(str(k) for k in local if k not in names)
    if extra:
        raise TopologyError(f'decentralized.local.{extra[0]}: not a source of this file; '
                            f'sources are {", ".join(sorted(names))}')


def _weights(items: List[Any]) -> Tuple[float, ...]:
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (int, float)) \
                or not math.isfinite(item) or item < 0:
            raise TopologyError(f'decentralized.ensemble.weights[{i}]: expected a number '
                                f'>= 0, got {item!r}')
    return tuple(float(w) for w in items)


def _sources(items: List[Any], hosts: Tuple[str, ...]) -> Tuple[SourceSpec, ...]:
    out = []
    for i, item in enumerate(items):
        where = f'sources[{i}].'
        if not isinstance(item, Mapping):
            raise TopologyError(f'sources[{i}]: expected a mapping')
        reject_unknown(item, _SOURCE_KEYS, where)
        out.append(SourceSpec(
            name=get_key(item, 'name', where, (str,)), part=get_key(item, 'part', where, (int,)),
            host=known_host(get_key(item, 'host', where, (str,), hosts[0]), hosts, f'{where}host'),
            header_delay=float(get_key(item, 'header_delay', where, (int, float), 0.0))))
    if not out:
        raise TopologyError('sources: at least one source is required')
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise TopologyError('sources: duplicate source names')
    return tuple(out)


def _check(spec: TopologySpec) -> None:
    numbers = {'timing.period': spec.period, 'timing.max_skew': spec.max_skew,
               'timing.max_age': spec.max_age, 'speed': spec.speed,
               'models.max_delay': spec.max_delay}
    numbers.update({f'sources[{i}].header_delay': s.header_delay
                    for i, s in enumerate(spec.sources)})
    for key, value in numbers.items():
        if not math.isfinite(value) or value < 0:
            raise TopologyError(f'{key}: expected a finite number >= 0, got {value!r}')
    counts = {'count': (spec.count, 0, 1 << 40), 'seed': (spec.seed, 0, 1 << 31),
              'models.max_batch': (spec.max_batch, 1, 4096),
              'models.max_pending': (spec.max_pending, 0, 1 << 20)}
    counts.update({f'sources[{i}].part': (s.part, -1, 1 << 20)
                   for i, s in enumerate(spec.sources)})
    for key, (value, low, high) in counts.items():
        if not low <= value <= high:
            raise TopologyError(f'{key}: {value} is outside {low}..{high}')
    if spec.synchronize and (spec.period <= 0 or spec.max_age <= 0):
        raise TopologyError('timing: period and max_age must be > 0, max_skew >= 0')
    if spec.speed <= 0:
        raise TopologyError('speed: must be > 0')
    if spec.max_pending and spec.max_pending < spec.max_batch:
        raise TopologyError(f'models.max_pending: {spec.max_pending} must be 0 or >= '
                            f'models.max_batch ({spec.max_batch})')
    if spec.topology == 'decentralized':
        missing = [s.name for s in spec.sources if s.name not in spec.local_models]
        if missing:
            raise TopologyError(f'decentralized.local: no local model for source '
                                f'{missing[0]!r}')
    elif not spec.central_model:
        raise TopologyError(f'{spec.topology}.model: required for a {spec.topology} topology')
