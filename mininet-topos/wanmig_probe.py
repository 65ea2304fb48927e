#!/usr/bin/python3
"""
Service probes for the wanmig testbed (stdlib only). Run inside Mininet hosts.

    wanmig_probe.py server [--udp-port 7000] [--tcp-port 7001] [--duration 900]
        UDP echo (returns every datagram as is) and a TCP echo server (line by line).
    wanmig_probe.py client --server 10.2.0.10 [--rate 200] [--duration 30] [--out results.json]
        UDP probes at a fixed rate (sequence number + send time), and one TCP connection held
        for the whole run with a small message every 100 ms whose echo is checked. Writes JSON
        at the end or on SIGTERM/SIGINT: probes sent/lost, outages, TCP survival.
    wanmig_probe.py garp --iface vs1-eth0 --ip 10.2.0.10 --mac 00:00:00:00:02:10 [--on-signal]
        Gratuitous ARP (raw socket), as a hypervisor announces a moved server; with --on-signal
        it stays ready and announces on every SIGUSR1.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time

PROBE = struct.Struct('!Idd')          # sequence, wall-clock send time, monotonic send time
PROBE_SIZE = 64                        # bytes on the wire (payload), padded


# ---------------------------------------------------------------- server

def udp_echo(port, stop):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('0.0.0.0', port))
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            continue
        sock.sendto(data, peer)


def tcp_echo_connection(conn, stop):
    with conn:
        conn.settimeout(0.5)
        while not stop.is_set():
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            conn.sendall(data)


def tcp_echo(port, stop):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('0.0.0.0', port))
    listener.listen(16)
    listener.settimeout(0.5)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=tcp_echo_connection, args=(conn, stop), daemon=True).start()


def serve(args):
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for target, port in ((udp_echo, args.udp_port), (tcp_echo, args.tcp_port)):
        threading.Thread(target=target, args=(port, stop), daemon=True).start()
    print('probe server: udp %d, tcp %d' % (args.udp_port, args.tcp_port), flush=True)
    stop.wait(args.duration)   # bounded even if nobody stops us


# ---------------------------------------------------------------- client

class UdpProbes:
    """Fixed-rate UDP probes; remembers every send time and every answer's RTT."""

    def __init__(self, server, port, rate):
        self.address = (server, port)
        self.interval = 1.0 / rate
        self.sent = []          # index = sequence: wall-clock send time
        self.rtt_ms = {}        # sequence -> RTT of the first answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.2)

    def send_loop(self, stop):
        next_send = time.monotonic()
        padding = b'\0' * (PROBE_SIZE - PROBE.size)
        while not stop.is_set():
            seq = len(self.sent)
            wall, mono = time.time(), time.monotonic()
            self.sent.append(wall)
            try:
                self.sock.sendto(PROBE.pack(seq, wall, mono) + padding, self.address)
            except OSError:
                pass    # e.g. no route for a moment: counts as lost
            next_send += self.interval
            stop.wait(max(0.0, next_send - time.monotonic()))

    def receive_loop(self, done):
        while not done.is_set():
            try:
                data = self.sock.recv(2048)
            except (socket.timeout, OSError):
                continue
            if len(data) < PROBE.size:
                continue
            seq, _, mono = PROBE.unpack_from(data)
            if seq < len(self.sent) and seq not in self.rtt_ms:
                self.rtt_ms[seq] = round((time.monotonic() - mono) * 1000, 3)

    def outages(self):
        """Runs of consecutive lost probes: from the first lost send to the next answered send."""
        result, first = [], None
        for seq, wall in enumerate(self.sent):
            if seq not in self.rtt_ms:
                if first is None:
                    first = seq
            elif first is not None:
                result.append(self._outage(first, seq, wall))
                first = None
        if first is not None:
            result.append(self._outage(first, len(self.sent), self.sent[-1] + self.interval))
        return result

    def _outage(self, first, after_last, end):
        start = self.sent[first]
        return {'start': start, 'end': end, 'firstSeq': first, 'lostProbes': after_last - first,
                'durationMs': round((end - start) * 1000, 3)}

    def results(self):
        outages = self.outages()
        return {
            'rate': round(1 / self.interval, 3),
            'sent': len(self.sent), 'received': len(self.rtt_ms),
            'lost': len(self.sent) - len(self.rtt_ms),
            'outages': outages,
            'longestOutageMs': max((o['durationMs'] for o in outages), default=0.0),
            'totalOutageMs': round(sum(o['durationMs'] for o in outages), 3),
            # [sequence, wall-clock send time, RTT ms or null]
            'samples': [[seq, wall, self.rtt_ms.get(seq)] for seq, wall in enumerate(self.sent)],
        }


class TcpSession:
    """One TCP connection kept open the whole run; a numbered line every interval, echo checked."""

    def __init__(self, server, port, interval):
        self.address = (server, port)
        self.interval = interval
        self.sent_at = []       # message number -> monotonic send time
        self.echoed = 0
        self.bytes_sent = 0
        self.bytes_echoed = 0
        self.max_echo_delay_ms = 0.0
        self.connected = False
        self.error = None
        self.sock = None

    def run(self, stop):
        try:
            self.sock = socket.create_connection(self.address, timeout=5)
            self.connected = True
            self.sock.settimeout(0.2)
            threading.Thread(target=self.read_echoes, daemon=True).start()
            while not stop.is_set() and self.error is None:
                line = ('%08d %.6f\n' % (len(self.sent_at), time.time())).encode()
                self.sent_at.append(time.monotonic())
                self.sock.sendall(line)
                self.bytes_sent += len(line)
                stop.wait(self.interval)
        except OSError as e:
            self.error = self.error or repr(e)

    def read_echoes(self):
        buffered = b''
        while self.error is None:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError as e:
                self.error = repr(e)
                return
            if not data:
                self.error = 'connection closed by the server'
                return
            self.bytes_echoed += len(data)
            buffered += data
            while b'\n' in buffered:
                line, buffered = buffered.split(b'\n', 1)
                number = int(line.split()[0])
                if number != self.echoed:
                    self.error = 'echo out of order: got %d, expected %d' % (number, self.echoed)
                    return
                delay = (time.monotonic() - self.sent_at[number]) * 1000
                self.max_echo_delay_ms = max(self.max_echo_delay_ms, round(delay, 3))
                self.echoed += 1

    def wait_for_echoes(self, seconds):
        deadline = time.monotonic() + seconds
        while self.error is None and self.echoed < len(self.sent_at) and time.monotonic() < deadline:
            time.sleep(0.05)

    def results(self):
        complete = self.echoed == len(self.sent_at)
        return {'connected': self.connected, 'survived': self.connected and self.error is None and complete,
                'messages': len(self.sent_at), 'echoed': self.echoed, 'bytesSent': self.bytes_sent,
                'bytesEchoed': self.bytes_echoed, 'maxEchoDelayMs': self.max_echo_delay_ms,
                'error': self.error}


def client(args):
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    udp = UdpProbes(args.server, args.udp_port, args.rate)
    tcp = TcpSession(args.server, args.tcp_port, args.tcp_interval)
    receiving = threading.Event()
    threads = [threading.Thread(target=udp.receive_loop, args=(receiving,), daemon=True),
               threading.Thread(target=tcp.run, args=(stop,), daemon=True)]
    for t in threads:
        t.start()
    started = time.time()
    print('probe client: %s at %g/s for at most %g s' % (args.server, args.rate, args.duration),
          flush=True)
    timer = threading.Timer(args.duration, stop.set)
    timer.daemon = True
    timer.start()
    udp.send_loop(stop)
    stopped = time.time()
    time.sleep(args.grace)          # answers still in flight
    receiving.set()
    tcp.wait_for_echoes(args.tcp_grace)
    result = {'server': args.server, 'started': started, 'stopped': stopped,
              'udp': udp.results(), 'tcp': tcp.results()}
    with open(args.out, 'w') if args.out != '-' else sys.stdout as out:
        json.dump(result, out)
    summary = {k: result['udp'][k] for k in ('sent', 'lost', 'longestOutageMs', 'totalOutageMs')}
    print('probe client done:', summary, 'tcp survived:', result['tcp']['survived'],
          file=sys.stderr, flush=True)


# ---------------------------------------------------------------- gratuitous ARP

def garp(args):
    mac = bytes.fromhex(args.mac.replace(':', ''))
    ip = socket.inet_aton(args.ip)
    broadcast = b'\xff' * 6
    # Ethernet header, then an ARP request for our own address (sender = target = us).
    frame = broadcast + mac + struct.pack('!H', 0x0806) + struct.pack(
        '!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip, b'\0' * 6, ip)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((args.iface, 0))
        if not args.on_signal:
            return announce(sock, frame, args.count)
        # Stay ready and announce on every SIGUSR1: no process start-up in the way of the timing.
        stop, wanted = threading.Event(), threading.Event()
        signal.signal(signal.SIGUSR1, lambda *_: wanted.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        deadline = time.monotonic() + args.duration
        while not stop.is_set() and time.monotonic() < deadline:
            if wanted.wait(0.2):
                wanted.clear()
                announce(sock, frame, args.count)


def announce(sock, frame, count):
    for _ in range(count):
        try:
            sock.send(frame)
        except OSError:
            pass    # interface not attached yet
        time.sleep(0.005)


def main():
    parser = argparse.ArgumentParser(description='wanmig service probes')
    sub = parser.add_subparsers(dest='command', required=True)
    s = sub.add_parser('server')
    s.add_argument('--udp-port', type=int, default=7000)
    s.add_argument('--tcp-port', type=int, default=7001)
    s.add_argument('--duration', type=float, default=900, help='exit after this many seconds')
    c = sub.add_parser('client')
    c.add_argument('--server', required=True)
    c.add_argument('--udp-port', type=int, default=7000)
    c.add_argument('--tcp-port', type=int, default=7001)
    c.add_argument('--rate', type=float, default=200, help='UDP probes per second')
    c.add_argument('--duration', type=float, default=30, help='stop sending after this many seconds')
    c.add_argument('--tcp-interval', type=float, default=0.1)
    c.add_argument('--grace', type=float, default=1.0, help='wait for late UDP answers')
    c.add_argument('--tcp-grace', type=float, default=5.0, help='wait for outstanding TCP echoes')
    c.add_argument('--out', default='-')
    g = sub.add_parser('garp')
    g.add_argument('--iface', required=True)
    g.add_argument('--ip', required=True)
    g.add_argument('--mac', required=True)
    g.add_argument('--count', type=int, default=3)
    g.add_argument('--on-signal', action='store_true', help='wait, announce on every SIGUSR1')
    g.add_argument('--duration', type=float, default=900, help='with --on-signal: exit after')
    args = parser.parse_args()
    {'server': serve, 'client': client, 'garp': garp}[args.command](args)


if __name__ == '__main__':
    main()
