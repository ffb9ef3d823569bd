"""
The nodes ``launch/web_launch.py`` starts, from ``config/web.yaml`` (rclpy- and launch-free).

One ``model_node`` per served model (``input_kind: stream`` on
``/<prefix>/<model>/images``, predictions on ``/<prefix>/<model>/predictions``, batching
from ``batching:``) and one ``web_gateway_node`` with the ``gateway:`` parameters. A model
listed under ``workers:`` is served instead by a ``shared_queue_node`` (``<model>_queue``)
and ``count`` ``queue_worker`` nodes (seed-001's manager and workers): each image goes to
one worker, is re-sent after ``lease_timeout`` when its worker fails, and duplicate results
are dropped; the workers micro-batch with the model's ``batching:`` values.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from edgeserve_ros.models.config import validate_models_config


#: ``workers.<model>`` keys: (types, lowest value)
WORKER_KEYS: Dict[str, Tuple[tuple, Any]] = {
    'count': ((int,), 1), 'lease_timeout': ((int, float), 0.001), 'prefetch': ((int,), 0),
    'inline_bytes': ((int,), 0)}


class NodePlan(NamedTuple):
    """One node to start: executable, node name, parameters."""

    executable: str
    name: str
    parameters: Dict[str, Any]


def web_plan(doc: Mapping[str, Any], config_path: str, models: str = '',
             gateway: Optional[Mapping[str, Any]] = None) -> List[NodePlan]:
    """
    Return the nodes of a web deployment.

    :param doc: the parsed config (``models``, ``batching``, ``gateway``)
    :param config_path: the config file (the model nodes' ``model_file``)
    :param models: comma-separated subset of the config's models ('' = all)
    :param gateway: gateway parameters overriding the config's
    :raises ValueError: an unknown model or a bad models list (naming it)
    """
    known = [e['name'] for e in validate_models_config(doc)]
    chosen = [m.strip() for m in models.split(',') if m.strip()] or known
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise ValueError(f'models={models!r}: {", ".join(unknown)} not in {config_path} '
                         f'(has {", ".join(known)})')
    params = dict(doc.get('gateway') or {})
    params.update(gateway or {})
    prefix = str(params.get('topic_prefix', 'web')).strip('/')
    params['models'] = chosen
    batching = doc.get('batching') or {}
    workers = _workers(doc.get('workers'), known)
    plan = []
    for model in chosen:
        batch = dict(batching.get(model) or {})
        io = {'input': f'/{prefix}/{model}/images', 'input_kind': 'stream',
              'output_stream': f'/{prefix}/{model}/predictions'}
        size, delay = int(batch.get('max_batch', 1)), float(batch.get('max_delay', 0.0))
        if model not in workers:
            plan.append(NodePlan('model_node', f'{model}_model', {
                'model_file': config_path, 'model': model, **io,
                'max_batch': size, 'max_delay': delay}))
            continue
        pool = workers[model]
        queue = {**io, 'lease_timeout': float(pool.get('lease_timeout', 1.0))}
        if 'inline_bytes' in pool:
            queue['inline_bytes'] = int(pool['inline_bytes'])
        plan.append(NodePlan('shared_queue_node', f'{model}_queue', queue))
        plan += [NodePlan('queue_worker', f'{model}_worker_{i}', {
            'queue': f'{model}_queue', 'model_file': config_path, 'model': model,
            'max_items': size, 'max_delay': delay, 'prefetch': int(pool.get('prefetch', 0))})
            for i in range(int(pool.get('count', 1)))]
    plan.append(NodePlan('web_gateway_node', 'web_gateway', params))
    return plan


def _workers(section: Any, known: List[str]) -> Dict[str, Mapping[str, Any]]:
    """Return ``workers:`` checked: known models, known keys of the right type and range."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise ValueError(f'workers: expected a mapping of model -> options, got {section!r}')
    for model, pool in section.items():
        if model not in known:
            raise ValueError(f'workers.{model}: not a model of the config ({", ".join(known)})')
        if not isinstance(pool, Mapping):
            raise ValueError(f'workers.{model}: expected a mapping, got {pool!r}')
        for key, value in pool.items():
            if key not in WORKER_KEYS:
                raise ValueError(f'workers.{model}.{key}: unknown key (known: '
                                 f'{", ".join(WORKER_KEYS)})')
            types, low = WORKER_KEYS[key]
            if isinstance(value, bool) != (bool in types) or not isinstance(value, types) or \
                    (bool not in types and value < low):
                raise ValueError(f'workers.{model}.{key}={value!r}: expected '
                                 f'{"/".join(t.__name__ for t in types)}'
                                 + ('' if bool in types else f' >= {low}'))
    return dict(section)
