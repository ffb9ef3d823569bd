"""
Token-bucket (``tc tbf``) shaping commands for the links of a :class:`NetnsLab`.

The kernel of the development machines has no ``netem`` (no delay, no loss), but ``tbf``
works: it caps the egress rate of one interface. A lab shapes a host's link in both
directions by putting one ``tbf`` on the host side of the veth (host egress) and one on
the switch side (host ingress).

The functions here only build argument vectors; :mod:`edgeserve_ros.topology.netns`
runs them. They need neither root nor rclpy.
"""

from typing import List, Optional

#: Smallest bucket: a few full-size frames, so a shaped link never stalls on one packet.
MIN_BURST_BYTES = 16 * 1024


def burst_bytes(rate_mbit: float, burst_kbyte: Optional[float] = None) -> int:
    """
    Return the token-bucket size in bytes for ``rate_mbit``.

    :param rate_mbit: egress rate in Mbit/s (> 0).
    :param burst_kbyte: explicit bucket size in KiB; ``None`` picks 10 ms worth of
        traffic, at least :data:`MIN_BURST_BYTES`.
    :returns: the bucket size in bytes.
    """
    if burst_kbyte is not None:
        return max(int(burst_kbyte * 1024), 2048)
    return max(int(rate_mbit * 1e6 / 8 / 100), MIN_BURST_BYTES)


def tbf_argv(netns: str, dev: str, rate_mbit: float, burst_kbyte: Optional[float] = None,
             latency_ms: float = 100.0) -> List[str]:
    """
    Build the ``tc`` command that (re)places a ``tbf`` root qdisc on ``dev``.

    :param netns: name of the network namespace that holds ``dev``.
    :param dev: interface name inside ``netns``.
    :param rate_mbit: egress rate in Mbit/s (> 0).
    :param burst_kbyte: bucket size in KiB, see :func:`burst_bytes`.
    :param latency_ms: longest time a packet may wait in the queue before it is dropped.
    :returns: an argument vector for :func:`subprocess.run`.
    :raises ValueError: if ``rate_mbit`` or ``latency_ms`` is not positive.
    """
    if not rate_mbit or rate_mbit <= 0:
        raise ValueError(f'rate_mbit must be > 0, got {rate_mbit!r}')
    if latency_ms <= 0:
        raise ValueError(f'latency_ms must be > 0, got {latency_ms!r}')
    rate_kbit = max(int(round(rate_mbit * 1000)), 1)
    return ['tc', '-n', netns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf',
            'rate', f'{rate_kbit}kbit', 'burst', str(burst_bytes(rate_mbit, burst_kbyte)),
            'latency', f'{latency_ms:g}ms']


def clear_argv(netns: str, dev: str) -> List[str]:
    """
    Build the ``tc`` command that removes the root qdisc of ``dev`` (back to default).

    :param netns: name of the network namespace that holds ``dev``.
    :param dev: interface name inside ``netns``.
    :returns: an argument vector for :func:`subprocess.run`; it fails harmlessly when
        ``dev`` has no shaping.
    """
    return ['tc', '-n', netns, 'qdisc', 'del', 'dev', dev, 'root']
