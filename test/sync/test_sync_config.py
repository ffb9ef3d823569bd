"""SyncConfig validation."""

import dataclasses
import math

import pytest

from edgeserve_ros.sync import StreamSpec, SyncConfig

BASE = dict(period=0.1, max_skew=0.02, max_age=0.5, streams=('a', 'b'))


@pytest.mark.parametrize('key, value', [
    ('period', 0.0), ('period', -1.0), ('period', math.nan), ('period', 'x'),
    ('period', True), ('max_skew', -0.001), ('max_skew', math.inf), ('max_age', -1.0),
    ('policy', 'drop'), ('queue_size', 0), ('queue_size', 2.5), ('late_factor', 0.0),
    ('clock', 'ntp'), ('clock_window', 0.0), ('reference', 'zzz'), ('streams', ()),
])
def test_bad_value_names_the_key(key, value):
    """Bad value names the key."""
    with pytest.raises(ValueError, match=f'^{key}'):
        SyncConfig(**{**BASE, key: value})


def test_valid_config_is_frozen_and_normalised():
    """Valid config is frozen and normalised."""
    cfg = SyncConfig(**{**BASE, 'period': 1, 'max_age': math.inf})
    assert cfg.period == 1.0 and isinstance(cfg.period, float)
    assert cfg.names == ('a', 'b')
    assert all(isinstance(s, StreamSpec) and s.required for s in cfg.streams)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.period = 2.0


def test_stream_rules():
    """Stream rules."""
    with pytest.raises(ValueError, match='^streams: duplicate'):
        SyncConfig(**{**BASE, 'streams': ('a', 'a')})
    with pytest.raises(ValueError, match='^streams: at least one'):
        SyncConfig(**{**BASE, 'streams': (StreamSpec('a', required=False),)})
    with pytest.raises(ValueError, match='^streams.a.queue_size'):
        StreamSpec('a', queue_size=0)
    with pytest.raises(ValueError, match='^streams: name'):
        StreamSpec('')
    cfg = SyncConfig(**{**BASE, 'streams': (StreamSpec('a', queue_size=3), 'b')})
    assert [cfg.queue_bound(s) for s in cfg.streams] == [3, 64]


def test_from_mapping():
    """From mapping."""
    cfg = SyncConfig.from_mapping({
        'period': 0.05, 'max_skew': 0.01, 'max_age': 1.0, 'policy': 'skip',
        'streams': ['cam', {'name': 'imu', 'required': False, 'queue_size': 200}]})
    assert cfg.policy == 'skip'
    assert cfg.streams[1] == StreamSpec('imu', False, 200)
    with pytest.raises(ValueError, match='^perod: unknown key'):
        SyncConfig.from_mapping({**BASE, 'perod': 1})
    with pytest.raises(ValueError, match='^max_age: missing'):
        SyncConfig.from_mapping({'period': 1, 'max_skew': 0, 'streams': ['a']})
    with pytest.raises(ValueError, match='^streams: unknown key'):
        SyncConfig.from_mapping({**BASE, 'streams': [{'name': 'a', 'rate': 3}]})
