"""The session's hygiene: busy DDS domains are skipped, its stray processes are found."""

import os
import socket
import subprocess

import ros_hygiene
from conftest import _DOMAINS, next_domain_id


def test_a_domain_with_a_bound_port_is_never_handed_out():
    ports = ros_hygiene.bound_udp_ports()
    busy = next(d for d in _DOMAINS if not ros_hygiene.domain_in_use(d, ports))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(('127.0.0.1', ros_hygiene.PORT_BASE + ros_hygiene.DOMAIN_GAIN * busy + 11))
        assert ros_hygiene.domain_in_use(busy, ros_hygiene.bound_udp_ports())
        handed = [next_domain_id() for _ in range(2 * len(_DOMAINS))]
    finally:
        sock.close()
    assert busy not in handed
    assert len(set(handed)) > 1


def test_processes_of_the_session_are_found_by_their_inherited_token():
    token = os.environ[ros_hygiene.SESSION_VAR]
    child = subprocess.Popen(['sleep', '60'])
    try:
        found = {pid: cmd for pid, cmd, _ in ros_hygiene.session_processes(token)}
        assert found.get(child.pid, '').startswith('sleep 60')
        others = ros_hygiene.session_processes('another-session')
        assert child.pid not in [pid for pid, _, _ in others]
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.pid not in [p for p, _, _ in ros_hygiene.session_processes(token)]
