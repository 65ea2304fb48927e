#!/usr/bin/python3
"""
The virtual server's disk writes, for the testbed: runs inside the VS's namespace and writes
sequence-numbered 4 KiB blocks over NBD (stdlib only) to its DC's replication agent.

    wanmig_nbd_writer.py --targets 10.3.1.10:10809,10.3.2.10:10809 --export vs1 \
        --size-mb 64 --rate 50 --duration 120 --out writes.json

Block `seq` goes to offset (seq mod blocks) * 4096 and holds the 8-byte header b'WMSEQ' + seq
(u64, big-endian) followed by the byte pattern(seq) repeated, so any copy of the image can be
checked block by block (see expected_block). A write counts only when the server acknowledged
it (NBD simple reply with error 0). On an error reply (a replica or a fenced, demoted primary
answers EPERM), a timeout or a closed connection, the same block is retried on the next target
in --targets, so after the roles reverse the writer follows the new primary. SIGSTOP/SIGCONT
(the emulated hypervisor's pause) simply freeze it. SIGTERM/SIGINT: writes the JSON and exits.

Output JSON: acked ([seq, offset, target index, wall time of the ack, latency ms]), attempts, errors (by kind),
switches (target changes, with time), targets, blockSize.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import time

BLOCK = 4096
NBD_MAGIC = b'NBDMAGIC'
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3e889045565a9
NBD_OPT_GO = 7
NBD_REP_ACK = 1
REQUEST_MAGIC = 0x25609513
REPLY_MAGIC = 0x67446698
CMD_WRITE, CMD_DISC = 1, 2
FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2


def expected_block(seq):
    """The content of block `seq`: header + a pattern byte that changes with seq."""
    header = b'WMSEQ\0\0\0' + struct.pack('>Q', seq)
    pattern = bytes([(seq % 251) + 1])
    return header + pattern * (BLOCK - len(header))


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError('connection closed by the server')
        data += chunk
    return bytes(data)


class NbdConnection:
    """Fixed-newstyle handshake with NBD_OPT_GO, then simple WRITE requests."""

    def __init__(self, host, port, export, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.handle = 0
        if recv_exact(self.sock, 8) != NBD_MAGIC:
            raise ConnectionError('not an NBD server')
        if struct.unpack('>Q', recv_exact(self.sock, 8))[0] != IHAVEOPT:
            raise ConnectionError('NBD server is not newstyle')
        server_flags = struct.unpack('>H', recv_exact(self.sock, 2))[0]
        client_flags = FLAG_FIXED_NEWSTYLE | (FLAG_NO_ZEROES if server_flags & FLAG_NO_ZEROES else 0)
        self.sock.sendall(struct.pack('>I', client_flags))
        name = export.encode()
        data = struct.pack('>I', len(name)) + name + struct.pack('>H', 0)
        self.sock.sendall(struct.pack('>QII', IHAVEOPT, NBD_OPT_GO, len(data)) + data)
        while True:
            magic, _option, kind, length = struct.unpack('>QIII', recv_exact(self.sock, 20))
            payload = recv_exact(self.sock, length)
            if magic != OPT_REPLY_MAGIC:
                raise ConnectionError('bad option reply magic')
            if kind == NBD_REP_ACK:
                return
            if kind & 0x80000000:
                raise ConnectionError('NBD_OPT_GO refused (0x%x): %r' % (kind, payload))

    def write(self, offset, data):
        """Returns the NBD error code of the reply (0 = acknowledged)."""
        self.handle += 1
        self.sock.sendall(struct.pack('>IHHQQI', REQUEST_MAGIC, 0, CMD_WRITE, self.handle, offset, len(data)) + data)
        magic, error, handle = struct.unpack('>IIQ', recv_exact(self.sock, 16))
        if magic != REPLY_MAGIC or handle != self.handle:
            raise ConnectionError('bad reply (magic 0x%x, handle %d)' % (magic, handle))
        return error

    def close(self):
        try:
            self.sock.sendall(struct.pack('>IHHQQI', REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
        except OSError:
            pass
        self.sock.close()


class Stop(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--targets', required=True, help='host:port,host:port (first = current primary)')
    parser.add_argument('--export', default='vs1')
    parser.add_argument('--size-mb', type=int, default=64)
    parser.add_argument('--rate', type=float, default=50, help='writes per second (at most)')
    parser.add_argument('--duration', type=float, default=120)
    parser.add_argument('--timeout', type=float, default=5, help='socket timeout, s')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()

    targets = [(t.rsplit(':', 1)[0], int(t.rsplit(':', 1)[1])) for t in args.targets.split(',')]
    blocks = args.size_mb * 1024 * 1024 // BLOCK
    result = {'targets': args.targets.split(','), 'blockSize': BLOCK, 'acked': [], 'attempts': 0,
              'errors': {}, 'switches': [], 'started': time.time()}

    def stop(signum, _frame):
        raise Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def error(kind):
        result['errors'][kind] = result['errors'].get(kind, 0) + 1

    current, conn, seq = 0, None, 0
    deadline = time.monotonic() + args.duration
    try:
        while time.monotonic() < deadline:
            if conn is None:
                try:
                    conn = NbdConnection(*targets[current], args.export, args.timeout)
                except (OSError, ConnectionError) as e:
                    error('connect %s' % type(e).__name__)
                    conn = None
            ok = False
            if conn is not None:
                result['attempts'] += 1
                try:
                    sent = time.monotonic()
                    code = conn.write((seq % blocks) * BLOCK, expected_block(seq))
                    if code == 0:
                        result['acked'].append([seq, (seq % blocks) * BLOCK, current, time.time(),
                                                round((time.monotonic() - sent) * 1000, 3)])
                        ok = True
                    else:
                        error('nbd error %d' % code)
                except (OSError, ConnectionError) as e:
                    error('io %s' % type(e).__name__)
            if ok:
                seq += 1
                time.sleep(1.0 / args.rate)
            else:
                if conn is not None:
                    conn.close()
                    conn = None
                current = (current + 1) % len(targets)
                result['switches'].append([time.time(), current])
                time.sleep(0.1)
    except Stop:
        pass
    finally:
        if conn is not None:
            conn.close()
        result['ended'] = time.time()
        with open(args.out, 'w') as f:
            json.dump(result, f)


if __name__ == '__main__':
    sys.exit(main())
