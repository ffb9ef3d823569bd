"""
CIC-IDS2017-like synthetic network flow records (paper §6.5).

Columns use CICFlowMeter's names as they appear in the CIC-IDS2017 CSVs (Sharafaldin
et al. 2018); ``Flow Duration`` and IATs are in microseconds, rates per second.  Each
label has its own distributions (log-normal packet counts/sizes/durations, typical
destination ports: DoS/DDoS/web attacks on 80, PortScan on random ports with tiny
flows, FTP-Patator on 21, SSH-Patator on 22); derived columns (totals, rates, means)
are computed consistently from the drawn ones.  Label shares roughly follow the
dataset (mostly BENIGN).  ``Source IP`` takes one of four hosts, so the data can be
partitioned horizontally across four data-source nodes as in the paper.
"""

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
from sklearn.ensemble import RandomForestClassifier

FEATURES = (
    'Destination Port', 'Flow Duration', 'Total Fwd Packets', 'Total Backward Packets',
    'Total Length of Fwd Packets', 'Total Length of Bwd Packets', 'Fwd Packet Length Max',
    'Fwd Packet Length Mean', 'Bwd Packet Length Max', 'Bwd Packet Length Mean',
    'Flow Bytes/s', 'Flow Packets/s', 'Flow IAT Mean', 'Flow IAT Max', 'Fwd IAT Mean',
    'Bwd IAT Mean', 'SYN Flag Count', 'ACK Flag Count', 'PSH Flag Count',
    'Average Packet Size', 'Init_Win_bytes_forward', 'Init_Win_bytes_backward')
SOURCE_IPS = ('192.168.10.5', '192.168.10.8', '192.168.10.14', '192.168.10.15')
#: label -> (share, ports, (fwd pkts mu, sigma), (bwd pkts mu, sigma),
#:           (fwd len mu, sigma), (bwd len mu, sigma), (duration us mu, sigma), syn prob)
_PROFILES: Dict[str, tuple] = {
    'BENIGN': (0.62, (80, 443, 53, 22, 123, 8080), (1.5, 1.0), (1.4, 1.1), (4.5, 1.2),
               (5.5, 1.6), (11.0, 3.0), 0.05),
    'DoS Hulk': (0.12, (80,), (1.8, 0.4), (1.6, 0.5), (5.8, 0.3), (7.5, 0.6),
                 (11.5, 2.0), 0.02),
    'PortScan': (0.09, None, (0.2, 0.3), (0.1, 0.3), (0.5, 0.8), (1.0, 1.0), (3.5, 1.0), 0.6),
    'DDoS': (0.09, (80,), (1.2, 0.4), (1.5, 0.6), (2.5, 0.5), (8.2, 0.4), (13.5, 1.5), 0.02),
    'DoS slowloris': (0.02, (80,), (1.6, 0.3), (0.9, 0.4), (5.6, 0.3), (0.5, 1.0),
                      (16.0, 0.8), 0.01),
    'FTP-Patator': (0.02, (21,), (2.2, 0.3), (2.4, 0.3), (4.0, 0.4), (5.0, 0.4),
                    (14.5, 1.0), 0.02),
    'SSH-Patator': (0.02, (22,), (2.9, 0.3), (2.9, 0.3), (7.5, 0.3), (7.9, 0.3),
                    (15.0, 0.8), 0.02),
    'Web Attack – Brute Force': (0.015, (80,), (1.9, 0.3), (1.6, 0.3), (6.2, 0.3),
                                 (7.0, 0.6), (15.5, 0.6), 0.02),
    'Web Attack – XSS': (0.005, (80,), (1.9, 0.3), (1.6, 0.3), (6.8, 0.3), (7.0, 0.6),
                         (15.5, 0.6), 0.02),
}
LABELS = tuple(_PROFILES)


@dataclass
class FlowRecords:
    """Flow records: ``x`` ``(n, len(FEATURES))`` float64, ``labels``, ``source_ip`` (str)."""

    x: np.ndarray
    labels: np.ndarray
    source_ip: np.ndarray
    columns: Tuple[str, ...] = FEATURES


def _lognormal(rng: np.random.Generator, mu_sigma: Tuple[float, float], n: int) -> np.ndarray:
    return rng.lognormal(mu_sigma[0], mu_sigma[1], n)


def _flows(rng: np.random.Generator, label: str, n: int) -> np.ndarray:
    _, ports, fwd, bwd, flen, blen, dur, syn = _PROFILES[label]
    port = (rng.integers(1, 65536, n) if ports is None else rng.choice(ports, n))
    n_fwd = np.maximum(1, np.round(_lognormal(rng, fwd, n)))
    n_bwd = np.round(_lognormal(rng, bwd, n) - 0.5).clip(0)
    len_fwd = np.round(_lognormal(rng, flen, n) * (n_fwd > 0))
    len_bwd = np.round(_lognormal(rng, blen, n) * (n_bwd > 0))
    duration = np.maximum(1.0, np.round(_lognormal(rng, dur, n)))
    pkts = n_fwd + n_bwd
    seconds = duration / 1e6
    fwd_mean = len_fwd / n_fwd
    bwd_mean = np.where(n_bwd > 0, len_bwd / np.maximum(n_bwd, 1), 0.0)
    iat = duration / np.maximum(pkts - 1, 1)
    cols = [port, duration, n_fwd, n_bwd, len_fwd, len_bwd,
            fwd_mean * rng.uniform(1.0, 2.0, n), fwd_mean,
            bwd_mean * rng.uniform(1.0, 2.0, n), bwd_mean,
            (len_fwd + len_bwd) / seconds, pkts / seconds, iat, iat * rng.uniform(1, 4, n),
            duration / np.maximum(n_fwd - 1, 1), duration / np.maximum(n_bwd - 1, 1),
            (rng.random(n) < syn).astype(float), (rng.random(n) < 0.5).astype(float),
            (rng.random(n) < 0.4).astype(float), (len_fwd + len_bwd) / pkts,
            rng.choice([-1, 229, 8192, 29200, 65535], n),
            rng.choice([-1, 0, 235, 28960, 65160], n)]
    return np.stack(cols, axis=1).astype(np.float64)


def generate_flows(n: int = 20000, seed: int = 0) -> FlowRecords:
    """
    Generate ``n`` shuffled flow records.

    :param n: number of records.
    :param seed: RNG seed.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([p[0] for p in _PROFILES.values()])
    counts = rng.multinomial(n, shares / shares.sum())
    parts = [_flows(rng, label, c) for label, c in zip(LABELS, counts)]
    labels = np.repeat(np.array(LABELS, dtype=object), counts)
    order = rng.permutation(n)
    x = np.concatenate(parts)[order]
    ips = np.array(SOURCE_IPS, dtype=object)[rng.choice(4, n, p=[0.4, 0.25, 0.2, 0.15])]
    return FlowRecords(x=x, labels=labels[order], source_ip=ips)


def split_by_source(records: FlowRecords) -> Dict[str, FlowRecords]:
    """Partition records horizontally by ``Source IP`` (one part per data-source node)."""
    return {ip: FlowRecords(records.x[m], records.labels[m], records.source_ip[m])
            for ip in SOURCE_IPS for m in [records.source_ip == ip]}


def train_nids_classifier(records: FlowRecords, seed: int = 0,
                          n_estimators: int = 30) -> RandomForestClassifier:
    """Fit a random forest on the flow features (``Source IP`` is not a feature)."""
    return RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=2,
                                  n_jobs=1, random_state=seed).fit(records.x, records.labels)
