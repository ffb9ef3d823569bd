"""
Topology files: one YAML declares a whole deployment (paper section 3).

Sources, models, placement (which host runs what), timing hints and the topology kind
(centralized | parallel | decentralized). Example (``config/topologies/har.yaml``)::

    name: har
    workload: har              # har | nids | qr (built-in workloads) or synthetic
    topology: decentralized    # centralized | parallel | decentralized
    speed: 2.0                 # playback speed of the workload
    count: 0                   # examples per source (0: whole run)
    synchronize: true          # default: false for nids (independent flows), else true
    timing: {period: 0.03, max_skew: 0.02, max_age: 0.5, policy: impute}
    hosts: [leader, s0, s1, s2, s3]
    sources:
      - {name: accelerometers, part: 0, host: s0}
      - {name: imu_back_right_arm, part: 1, host: s1, header_delay: 0.025}
    models:
      central: har_all                                  # centralized and parallel
      local: {accelerometers: har_accelerometers}       # decentralized, per source
      host: leader
      workers: 4                                        # parallel
      max_pending: 0                                    # > 0: skip to the newest input
    ensemble: {rule: majority, host: leader}

Errors are :class:`TopologyError` naming the key, e.g. ``sources[1].part: expected int``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Dict, List, Mapping, Tuple

TOPOLOGIES = ('centralized', 'parallel', 'decentralized')
WORKLOADS = ('har', 'nids', 'qr')
POLICIES = ('impute', 'partial', 'skip')
RULES = ('majority', 'weighted', 'stacker')
#: Most queue workers one topology may start.
MAX_WORKERS = 256
_TOP_KEYS = {'name', 'workload', 'topology', 'speed', 'count', 'seed', 'timing', 'hosts',
             'sources', 'models', 'ensemble', 'delivery', 'synchronize'}
_SOURCE_KEYS = {'name', 'part', 'host', 'header_delay'}
_MODEL_KEYS = {'central', 'local', 'host', 'workers', 'max_batch', 'max_delay', 'file',
               'max_pending'}
_TIMING_KEYS = {'period', 'max_skew', 'max_age', 'policy'}
_ENSEMBLE_KEYS = {'rule', 'host', 'weights'}


class TopologyError(ValueError):
    """An invalid topology file; the message starts with the offending key."""


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
    period: float
    max_skew: float
    max_age: float
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

    def topic(self, stream: str) -> str:
        """Return the topic of a stream of this topology (``/<name>/<stream>``)."""
        return f'/{self.name}/{stream}'


def _get(doc: Mapping, key: str, where: str, types: tuple, default: Any = None) -> Any:
    if key not in doc:
        if default is None:
            raise TopologyError(f'{where}{key}: missing required key')
        return default
    value = doc[key]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        names = '/'.join(t.__name__ for t in types)
        raise TopologyError(f'{where}{key}: expected {names}, got {value!r}')
    return value


def _section(doc: Mapping, key: str, allowed: set) -> Mapping:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise TopologyError(f'{key}: expected a mapping')
    _unknown(value, allowed, f'{key}.')
    return value


def _unknown(doc: Mapping, allowed: set, where: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise TopologyError(f'{where}{extra[0]}: unknown key; expected one of '
                            f'{", ".join(sorted(allowed))}')


def _choice(value: str, choices: Tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise TopologyError(f'{key}: {value!r} is not one of {", ".join(choices)}')
    return value


def parse_topology(doc: Any) -> TopologySpec:
    """Validate a topology document (parsed YAML); raise :class:`TopologyError`."""
    if not isinstance(doc, Mapping):
        raise TopologyError('top level: expected a mapping')
    _unknown(doc, _TOP_KEYS, '')
    name = _get(doc, 'name', '', (str,))
    if not name.isidentifier():
        raise TopologyError(f'name: {name!r} must be an identifier (it prefixes topics)')
    hosts = _names(_get(doc, 'hosts', '', (list,), ['localhost']), 'hosts')
    if not hosts:
        raise TopologyError('hosts: at least one host is required')
    timing = _section(doc, 'timing', _TIMING_KEYS)
    models = _section(doc, 'models', _MODEL_KEYS)
    ensemble = _section(doc, 'ensemble', _ENSEMBLE_KEYS)
    sources = _sources(_get(doc, 'sources', '', (list,)), hosts)
    spec = TopologySpec(
        name=name, workload=_choice(_get(doc, 'workload', '', (str,)), WORKLOADS, 'workload'),
        topology=_choice(_get(doc, 'topology', '', (str,)), TOPOLOGIES, 'topology'),
        sources=sources, hosts=hosts,
        synchronize=_get(doc, 'synchronize', '', (bool,), doc.get('workload') != 'nids'),
        period=float(_get(timing, 'period', 'timing.', (int, float))),
        max_skew=float(_get(timing, 'max_skew', 'timing.', (int, float))),
        max_age=float(_get(timing, 'max_age', 'timing.', (int, float), 1.0)),
        policy=_choice(_get(timing, 'policy', 'timing.', (str,), 'impute'), POLICIES,
                       'timing.policy'),
        speed=float(_get(doc, 'speed', '', (int, float), 2.0)),
        count=_get(doc, 'count', '', (int,), 0), seed=_get(doc, 'seed', '', (int,), 0),
        delivery=_choice(_get(doc, 'delivery', '', (str,), 'auto'), ('lazy', 'eager', 'auto'),
                         'delivery'),
        central_model=_get(models, 'central', 'models.', (str,), ''),
        local_models=_local_models(_get(models, 'local', 'models.', (dict,), {})),
        model_host=_host(_get(models, 'host', 'models.', (str,), hosts[0]), hosts, 'models.host'),
        workers=_get(models, 'workers', 'models.', (int,), 4),
        max_batch=_get(models, 'max_batch', 'models.', (int,), 1),
        max_delay=float(_get(models, 'max_delay', 'models.', (int, float), 0.0)),
        max_pending=_get(models, 'max_pending', 'models.', (int,), 0),
        models_file=_get(models, 'file', 'models.', (str,), ''),
        ensemble_rule=_choice(_get(ensemble, 'rule', 'ensemble.', (str,), 'majority'), RULES,
                              'ensemble.rule'),
        ensemble_host=_host(_get(ensemble, 'host', 'ensemble.', (str,), hosts[0]), hosts,
                            'ensemble.host'),
        ensemble_weights=_weights(_get(ensemble, 'weights', 'ensemble.', (list,), [])))
    _check(spec)
    return spec


def _names(items: List[Any], key: str) -> Tuple[str, ...]:
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise TopologyError(f'{key}[{i}]: expected a non-empty string, got {item!r}')
    if len(set(items)) != len(items):
        raise TopologyError(f'{key}: duplicate entries')
    return tuple(items)


def _local_models(doc: Mapping) -> Dict[str, str]:
    for source, model in doc.items():
        if not isinstance(source, str) or not isinstance(model, str) or not model:
            raise TopologyError(f'models.local.{source}: expected a model name, got {model!r}')
    return dict(doc)


def _weights(items: List[Any]) -> Tuple[float, ...]:
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (int, float)) \
                or not math.isfinite(item) or item < 0:
            raise TopologyError(f'ensemble.weights[{i}]: expected a number >= 0, got {item!r}')
    return tuple(float(w) for w in items)


def _host(host: str, hosts: Tuple[str, ...], key: str) -> str:
    if host not in hosts:
        raise TopologyError(f'{key}: unknown host {host!r}; hosts are {", ".join(hosts)}')
    return host


def _sources(items: List[Any], hosts: Tuple[str, ...]) -> Tuple[SourceSpec, ...]:
    out = []
    for i, item in enumerate(items):
        where = f'sources[{i}].'
        if not isinstance(item, Mapping):
            raise TopologyError(f'sources[{i}]: expected a mapping')
        _unknown(item, _SOURCE_KEYS, where)
        out.append(SourceSpec(
            name=_get(item, 'name', where, (str,)), part=_get(item, 'part', where, (int,)),
            host=_host(_get(item, 'host', where, (str,), hosts[0]), hosts, f'{where}host'),
            header_delay=float(_get(item, 'header_delay', where, (int, float), 0.0))))
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
              'models.workers': (spec.workers, 1, MAX_WORKERS),
              'models.max_batch': (spec.max_batch, 1, 4096),
              'models.max_pending': (spec.max_pending, 0, 1 << 20)}
    counts.update({f'sources[{i}].part': (s.part, -1, 1 << 20)
                   for i, s in enumerate(spec.sources)})
    for key, (value, low, high) in counts.items():
        if not low <= value <= high:
            raise TopologyError(f'{key}: {value} is outside {low}..{high}')
    if spec.period <= 0 or spec.max_skew < 0 or spec.max_age <= 0:
        raise TopologyError('timing: period and max_age must be > 0, max_skew >= 0')
    if spec.speed <= 0 or spec.workers < 1 or spec.max_batch < 1:
        raise TopologyError('speed must be > 0, models.workers and models.max_batch >= 1')
    if spec.max_pending and spec.max_pending < spec.max_batch:
        raise TopologyError(f'models.max_pending: {spec.max_pending} must be 0 or >= '
                            f'models.max_batch ({spec.max_batch})')
    if spec.topology == 'decentralized':
        missing = [s.name for s in spec.sources if s.name not in spec.local_models]
        if missing:
            raise TopologyError(f'models.local: no local model for source {missing[0]!r}')
    elif not spec.central_model:
        raise TopologyError(f'models.central: required for a {spec.topology} topology')
