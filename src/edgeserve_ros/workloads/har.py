"""
Opportunity-like synthetic human activity recognition data (paper §6.4).

Modelled on the Opportunity ADL runs (Roggen et al. 2010; Chavarriaga et al. 2013):

* 134 columns named as in Opportunity's ``column_names.txt``: column 1 ``MILLISEC``,
  2-37 twelve 3-axis body-worn accelerometers, 38-76 the IMUs on the back, right upper
  and right lower arm (13 channels each: acc, gyro, magnetic xyz, quaternion 1-4),
  77-102 the IMUs on the left upper/lower arm, 103-134 the two IMU shoes (16 channels
  each).  :data:`GROUPS` splits them exactly as the paper: 1-37, 38-76, 77-102, 103-134.
* sampled every 33 ms (~30 Hz); one run is a sequence of activity segments of random
  duration (seconds), labelled with Opportunity's locomotion classes
  (:data:`CLASSES`: Null, Stand, Walk, Sit, Lie).
* each class has, per column, its own mean (posture/gravity direction), oscillation
  amplitude at the class's cadence (walking ~1.8 Hz) and noise; each segment adds a
  random offset (the same activity is never performed twice identically) and
  segments blend into each other over ~0.5 s, so single rows near boundaries are
  ambiguous.  Groups differ in how informative they are: shoes separate Walk/Stand
  well but Sit/Lie poorly, arms the reverse, accelerometers are good throughout -- so
  each group's forest is decent, the all-columns forest better, and a vote of the four
  groups comparable to it (the paper's qualitative result).

Like the paper, train on the first runs and test on the last (:func:`make_har_runs`).
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import numpy as np

CLASSES = ('Null', 'Stand', 'Walk', 'Sit', 'Lie')
PERIOD_S = 0.033
N_COLUMNS = 134
INFORMATIVE = 0.3
SEGMENT_OFFSET = 0.5
#: (stream name, first column, last column), 1-based inclusive as in the paper.
GROUPS = (('accelerometers', 1, 37), ('imu_back_right_arm', 38, 76),
          ('imu_left_arm', 77, 102), ('imu_shoes', 103, 134))
_ACC = ('RKN^', 'HIP', 'LUA^', 'RUA_', 'LH', 'BACK', 'RKN_', 'RWR', 'RUA^', 'LUA_', 'LWR', 'RH')
_IMU = ['acc', 'gyro', 'magnetic']
_SHOE = ['Eu', 'Nav_A', 'Body_A', 'AngVelBodyFrame', 'AngVelNavFrame']
#: per group: how well it separates (Null, Stand, Walk, Sit, Lie).
_SEPARATION = np.array([[1.0, 1.0, 1.0, 1.0, 1.0],
                        [1.0, 0.8, 1.0, 1.0, 1.0],
                        [1.0, 0.8, 0.9, 1.0, 1.0],
                        [0.9, 1.0, 1.3, 0.5, 0.5]])
_CADENCE_HZ = (0.7, 0.3, 1.8, 0.2, 0.1)
_OSC_AMP = (0.8, 0.2, 2.0, 0.15, 0.1)


def column_names() -> List[str]:
    """Return the 134 Opportunity-style column names."""
    names = ['MILLISEC']
    names += [f'Accelerometer {pos} acc{ax}' for pos in _ACC for ax in 'XYZ']
    for unit in ('BACK', 'RUA', 'RLA', 'LUA', 'LLA'):
        names += [f'InertialMeasurementUnit {unit} {q}{ax}' for q in _IMU for ax in 'XYZ']
        names += [f'InertialMeasurementUnit {unit} Quaternion{i}' for i in range(1, 5)]
    for shoe in ('L-SHOE', 'R-SHOE'):
        names += [f'InertialMeasurementUnit {shoe} {q}{ax}' for q in _SHOE for ax in 'XYZ']
        names += [f'InertialMeasurementUnit {shoe} Compass']
    assert len(names) == N_COLUMNS
    return names


def group_slices() -> Dict[str, slice]:
    """Return stream name -> 0-based column slice of the 134-column matrix."""
    return {name: slice(first - 1, last) for name, first, last in GROUPS}


def split_groups(x: np.ndarray) -> Dict[str, np.ndarray]:
    """Split rows ``(..., 134)`` into the paper's four per-source column groups."""
    return {name: x[..., s] for name, s in group_slices().items()}


@dataclass
class HarRun:
    """One ADL run: ``x`` ``(n, 134)``, labels ``y`` (class names), times ``t`` (seconds)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray


@dataclass
class _Profile:
    mean: np.ndarray   # (classes, columns)
    amp: np.ndarray    # (classes, columns)
    phase: np.ndarray  # (columns,)
    scale: np.ndarray  # (columns,) physical units
    noise: float


def _profile(seed: int, noise: float) -> _Profile:
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    sep = np.ones((k, N_COLUMNS))
    for g, (_, first, last) in enumerate(GROUPS):
        sep[:, first - 1:last] = _SEPARATION[g][:, None]
    informative = rng.random((k, N_COLUMNS)) < INFORMATIVE
    mean = rng.normal(0, 1.0, (k, N_COLUMNS)) * sep * informative
    amp = np.array(_OSC_AMP)[:, None] * rng.uniform(0.3, 1.0, (k, N_COLUMNS)) * sep
    scale = rng.choice([1000.0, 100.0, 1.0], N_COLUMNS)
    mean[:, 0] = amp[:, 0] = 0.0
    return _Profile(mean, amp, rng.uniform(0, 2 * np.pi, N_COLUMNS), scale, noise)


def _segments(rng: np.random.Generator, duration_s: float,
              seg_s: Tuple[float, float]) -> List[Tuple[int, float]]:
    """Shuffled rounds of all classes (every class occurs in every long enough run)."""
    out: List[Tuple[int, float]] = []
    total = 0.0
    while total < duration_s:
        order = [int(c) for c in rng.permutation(len(CLASSES))]
        if out and order[0] == out[-1][0]:
            order.append(order.pop(0))
        for c in order:
            d = float(rng.uniform(*seg_s))
            out.append((c, d))
            total += d
    return out


def generate_run(profile_seed: int = 0, run_seed: int = 1, duration_s: float = 120.0,
                 seg_s: Tuple[float, float] = (3.0, 15.0), noise: float = 1.0,
                 blend_s: float = 0.5) -> HarRun:
    """
    Generate one run; runs sharing ``profile_seed`` come from the same "subject".

    :param profile_seed: seeds the per-class signal profiles (the subject).
    :param run_seed: seeds the activity sequence, offsets and noise of this run.
    :param duration_s: run length in seconds (rows = duration / 33 ms).
    :param seg_s: uniform range of segment durations, seconds.
    :param noise: per-row Gaussian noise relative to the class separation.
    :param blend_s: transition time between consecutive segments.
    """
    prof = _profile(profile_seed, noise)
    rng = np.random.default_rng([profile_seed, run_seed])
    n = int(duration_s / PERIOD_S)
    t = np.arange(n) * PERIOD_S
    cls = np.empty(n, dtype=int)
    offset = np.empty((n, N_COLUMNS))
    start = 0
    for c, d in _segments(rng, duration_s, seg_s):
        stop = min(n, start + int(round(d / PERIOD_S)))
        cls[start:stop] = c
        offset[start:stop] = rng.normal(0, SEGMENT_OFFSET, N_COLUMNS)
        start = stop
        if start >= n:
            break
    w = max(1, int(blend_s / PERIOD_S))
    kernel = np.ones(w) / w
    base = prof.mean[cls] + offset
    base = np.apply_along_axis(lambda col: np.convolve(col, kernel, mode='same'), 0, base)
    cadence = np.array(_CADENCE_HZ)[cls][:, None]
    osc = prof.amp[cls] * np.sin(2 * np.pi * cadence * t[:, None] + prof.phase[None, :])
    x = (base + osc + rng.normal(0, noise, (n, N_COLUMNS))) * prof.scale
    x[:, 0] = np.round(t * 1000.0)
    return HarRun(x=x, y=np.array(CLASSES, dtype=object)[cls], t=t)


def make_har_runs(seed: int = 0, n_runs: int = 5, duration_s: float = 120.0,
                  **kwargs: Any) -> List[HarRun]:
    """Generate ``n_runs`` runs of one subject (train on ``[:-1]``, test on ``[-1]``)."""
    return [generate_run(seed, r + 1, duration_s, **kwargs) for r in range(n_runs)]
