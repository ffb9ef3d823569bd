"""
Reading one key of a parsed YAML document: type, choice and host checks whose errors name the key.

Shared by the topology parser (:mod:`.spec`); rclpy-free.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple


class TopologyError(ValueError):
    """An invalid topology file; the message starts with the offending key."""


def get_key(doc: Mapping, key: str, where: str, types: tuple, default: Any = None) -> Any:
    """Return ``doc[key]`` checked against ``types``, or ``default`` (``None``: required)."""
    if key not in doc:
        if default is None:
            raise TopologyError(f'{where}{key}: missing required key')
        return default
    value = doc[key]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        kinds = '/'.join(t.__name__ for t in types)
        raise TopologyError(f'{where}{key}: expected {kinds}, got {value!r}')
    return value


def get_section(doc: Mapping, key: str, allowed: set, where: str = '') -> Mapping:
    """Return the mapping ``doc[key]`` (empty when absent), rejecting unknown keys."""
    value = doc.get(key, {})
    if value is None:
        value = {}  # an empty YAML section (``parallel:``)
    if not isinstance(value, Mapping):
        raise TopologyError(f'{where}{key}: expected a mapping')
    reject_unknown(value, allowed, f'{where}{key}.')
    return value


def reject_unknown(doc: Mapping, allowed: set, where: str) -> None:
    """Raise naming the first key of ``doc`` outside ``allowed``."""
    extra = sorted(set(doc) - allowed)
    if extra:
        raise TopologyError(f'{where}{extra[0]}: unknown key; expected one of '
                            f'{", ".join(sorted(allowed))}')


def choice(value: str, choices: Tuple[str, ...], key: str) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise TopologyError(f'{key}: {value!r} is not one of {", ".join(choices)}')
    return value


def name_list(items: List[Any], key: str) -> Tuple[str, ...]:
    """Return ``items`` as a tuple of distinct non-empty strings."""
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise TopologyError(f'{key}[{i}]: expected a non-empty string, got {item!r}')
    if len(set(items)) != len(items):
        raise TopologyError(f'{key}: duplicate entries')
    return tuple(items)


def known_host(name: str, hosts: Tuple[str, ...], key: str) -> str:
    """Return ``name`` if it is one of ``hosts``."""
    if name not in hosts:
        raise TopologyError(f'{key}: unknown host {name!r}; hosts are {", ".join(hosts)}')
    return name
