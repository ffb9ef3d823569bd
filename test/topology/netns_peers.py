"""Small programs the netns tests run inside lab hosts (``python netns_peers.py MODE ...``).

Modes:
  ping ADDR [COUNT]               ICMP echo with a raw socket (no ``ping`` binary needed)
  tcp_sink ADDR PORT              accept one TCP connection, read to EOF, send back the count
  tcp_send ADDR PORT NBYTES       send NBYTES, wait for the count, print elapsed seconds
  ros_pub TOPIC HZ MAX_S          publish std_msgs/String "<seq>" at HZ until SIGINT or MAX_S
  ros_sub TOPIC COUNT TIMEOUT_S   print "recv <seq>" per message; exit 0 after COUNT, 1 on timeout
All modes are bounded in time.
"""

import os
import socket
import struct
import sys
import time


def _checksum(data: bytes) -> int:
    """Return the internet checksum of ``data``."""
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack(f'!{len(data) // 2}H', data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(addr: str, count: str = '3') -> int:
    """Send COUNT ICMP echo requests to ADDR; exit 0 when all are answered."""
    ident = os.getpid() & 0xFFFF
    ok = 0
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(1.0)
        for seq in range(int(count)):
            body = struct.pack('!HH', ident, seq) + b'edgeserve'
            csum = _checksum(struct.pack('!BBH', 8, 0, 0) + body)
            sock.sendto(struct.pack('!BBH', 8, 0, csum) + body, (addr, 0))
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    packet, (src, _) = sock.recvfrom(2048)
                except socket.timeout:
                    break
                icmp = packet[(packet[0] & 0x0F) * 4:]
                if src == addr and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (
                        ident, seq):
                    ok += 1
                    break
    print(f'{ok}/{count} replies', flush=True)
    return 0 if ok == int(count) else 1


def tcp_sink(addr: str, port: str) -> int:
    """Accept one connection on ADDR:PORT, read it to EOF and send back the byte count."""
    with socket.create_server((addr, int(port))) as server:
        server.settimeout(30.0)
        print('ready', flush=True)
        conn, _ = server.accept()
        with conn:
            conn.settimeout(30.0)
            total = 0
            while chunk := conn.recv(1 << 16):
                total += len(chunk)
            conn.sendall(struct.pack('!Q', total))
    print(f'received {total}', flush=True)
    return 0


def tcp_send(addr: str, port: str, nbytes: str) -> int:
    """Send NBYTES to ADDR:PORT, wait for the count and print ``<seconds> <count>``."""
    payload = b'x' * int(nbytes)
    with socket.create_connection((addr, int(port)), timeout=30.0) as conn:
        start = time.monotonic()
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        ack = b''
        while len(ack) < 8 and (chunk := conn.recv(8 - len(ack))):
            ack += chunk
        elapsed = time.monotonic() - start
    got = struct.unpack('!Q', ack)[0] if len(ack) == 8 else -1
    print(f'{elapsed:.6f} {got}', flush=True)
    return 0 if got == len(payload) else 1


def ros_pub(topic: str, hz: str, max_s: str) -> int:
    """Publish ``std_msgs/String`` sequence numbers on TOPIC at HZ for at most MAX_S."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node('netns_pub')
    pub = node.create_publisher(String, topic, 10)
    seq = [0]

    def tick() -> None:
        pub.publish(String(data=str(seq[0])))
        seq[0] += 1

    node.create_timer(1.0 / float(hz), tick)
    deadline = time.monotonic() + float(max_s)
    try:
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _teardown(node, 0)
    return 0


def _teardown(node, status: int) -> None:
    """Destroy ``node`` and shut down; a teardown stuck in Fast DDS exits with ``status``."""
    from edgeserve_ros.ros.spin import teardown
    teardown(node, 'netns peer: teardown stuck in the ROS 2 middleware; errno', status)


def ros_sub(topic: str, count: str, timeout_s: str) -> int:
    """Print ``recv <seq>`` per message on TOPIC; exit 0 after COUNT, 1 on timeout."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from std_msgs.msg import String

    rclpy.init()
    node = rclpy.create_node('netns_sub')
    got = [0]

    def on_msg(msg: String) -> None:
        got[0] += 1
        print(f'recv {msg.data}', flush=True)

    node.create_subscription(String, topic, on_msg, 10)
    print('ready', flush=True)
    deadline = time.monotonic() + float(timeout_s)
    try:
        while rclpy.ok() and got[0] < int(count) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        code = 0 if got[0] >= int(count) else 1
        _teardown(node, code)
    return code


if __name__ == '__main__':
    modes = {'ping': ping, 'tcp_sink': tcp_sink, 'tcp_send': tcp_send, 'ros_pub': ros_pub,
             'ros_sub': ros_sub}
    sys.exit(modes[sys.argv[1]](*sys.argv[2:]))
