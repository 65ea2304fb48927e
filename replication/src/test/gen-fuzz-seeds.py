# Writes the seed corpus of the Jazzer targets (regression inputs) under src/test/resources.
# Usage: python3 replication/src/test/gen-fuzz-seeds.py replication/src/test/resources
import struct, os, sys
base = sys.argv[1]
def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff
MAGIC = 0x574d5250
def frame(t, payload=b'', flags=0, seq=0, off=0):
    h = struct.pack('>IBBHQQI', MAGIC, t, flags, 0, seq, off, len(payload))
    return h + payload + struct.pack('>I', crc32c(h + payload))
def w(rel, name, data):
    d = os.path.join(base, rel)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(data)
IHAVEOPT = 0x49484156454F5054
def opt(code, data=b''):
    return struct.pack('>QII', IHAVEOPT, code, len(data)) + data
def go(name, infos=()):
    n = name.encode()
    return struct.pack('>I', len(n)) + n + struct.pack('>H', len(infos)) + b''.join(struct.pack('>H', i) for i in infos)
nbd = 'org/wanmig/replication/nbd/NbdFuzzTestInputs/handshake'
w(nbd, 'go', struct.pack('>I', 3) + opt(7, go('vs1', (3, 1))))
w(nbd, 'go-default', struct.pack('>I', 1) + opt(7, go('')))
w(nbd, 'list-info-abort', struct.pack('>I', 3) + opt(3) + opt(6, go('vs1', (0,))) + opt(2))
w(nbd, 'export-name', struct.pack('>I', 1) + opt(1, b'vs1'))
w(nbd, 'unknown-option', struct.pack('>I', 3) + opt(99, b'abc') + opt(7, go('nope')) + opt(7, struct.pack('>IH', 1000, 0)))
w(nbd, 'bad-flags', struct.pack('>I', 0xfff0))
REQ = 0x25609513
def req(t, off, ln, flags=0, handle=1, payload=b''):
    return struct.pack('>IHHQQI', REQ, flags, t, handle, off, ln) + payload
cmd = 'org/wanmig/replication/nbd/NbdFuzzTestInputs/commands'
w(cmd, 'rw', b'\0' + req(1, 0, 512, payload=b'\x55' * 512) + req(0, 0, 512, handle=2) + req(3, 0, 0) + req(2, 0, 0))
w(cmd, 'fua-trim-zeroes', b'\0' + req(1, 4096, 16, flags=1, payload=b'x' * 16) + req(4, 0, 8192) + req(6, 8192, 4096, flags=2))
w(cmd, 'out-of-range', b'\0' + req(0, (1 << 20) - 100, 4096) + req(1, (1 << 20) - 10, 16, payload=b'y' * 16) + req(0, 0, 64 << 20) + req(77, 0, 0))
w(cmd, 'replica-writes', b'\1' + req(1, 0, 8, payload=b'z' * 8) + req(6, 0, 8) + req(3, 0, 0))
w(cmd, 'bad-flags-write', b'\0' + req(1, 0, 8, flags=0x8000, payload=b'q' * 8) + req(0, (1 << 64) - 4096, 512))
w(cmd, 'garbage', b'\0' + b'\xde\xad\xbe\xef' * 7)
peer = 'org/wanmig/replication/peer/PeerFuzzTestInputs'
hello = frame(1, os.urandom(32) + struct.pack('>I', 32 * 1024 * 1024 + 4096))
w(peer + '/codec', 'pre-auth', b'\0' + hello + frame(3, b'p' * 32) + frame(5, b'nope'))
w(peer + '/codec', 'post-auth', b'\1' + frame(6, b'{"disk":"vs1","sizeBytes":1048576,"syncId":"x"}') + frame(8, b'w' * 4096, seq=1)
  + frame(9, struct.pack('>Q', 65536), seq=2, off=65536) + frame(10, flags=1, seq=3) + frame(11, struct.pack('>I', 64), seq=4)
  + frame(12, b'h' * 64, seq=4) + frame(13, flags=1, seq=3) + frame(14, b'{"mode":"SYNC"}'))
w(peer + '/codec', 'over-limit', b'\0' + struct.pack('>IBBHQQI', MAGIC, 8, 0, 0, 1, 0, 32 << 20))
w(peer + '/codec', 'bad-crc', b'\1' + frame(8, b'abc', seq=1)[:-1] + b'\0')
w(peer + '/authenticatorServer', 'hello-proof', hello + frame(3, b'p' * 32))
w(peer + '/authenticatorServer', 'short-hello', frame(1, b'n' * 32))
w(peer + '/authenticatorServerTls', 'hello', hello)
w(peer + '/authenticatorServerTls', 'hello-bad-limit', frame(1, b'n' * 32 + struct.pack('>I', 10)))
w(peer + '/authenticatorServerTls', 'hello-zero-limit', frame(1, b'n' * 32 + struct.pack('>I', 0)))
w(peer + '/authenticatorServerTls', 'hello-huge-limit', frame(1, b'n' * 32 + struct.pack('>I', 0x7fffffff)))
w(peer + '/authenticatorServerTls', 'hello-min-limit', frame(1, b'n' * 32 + struct.pack('>I', (1 << 20) + 4096)))
w(peer + '/authenticatorClient', 'challenge', frame(2, b'c' * 64 + struct.pack('>I', 32 * 1024 * 1024 + 4096)) + frame(4))
w(peer + '/authenticatorClient', 'error', frame(5, b'authentication failed\nSEVERE forged'))
w(peer + '/authenticatorClient', 'auth-ok', frame(4, struct.pack('>I', 2 << 20)))
w(peer + '/openMessage', 'ok', b'{"disk":"vs1","sizeBytes":4194304,"syncId":"abc"}')
w(peer + '/openMessage', 'trailing', b'{"disk":"vs1","sizeBytes":1,"syncId":""} {}')
w(peer + '/openMessage', 'deep', b'{"disk":' + b'[' * 100 + b']' * 100 + b'}')
ctl = 'org/wanmig/replication/control/ControlJsonFuzzTestInputs/body'
w(ctl, 'mode', b'{"mode":"SYNC"}')
w(ctl, 'wait', b'{"timeoutMs":30000}')
w(ctl, 'force', b'{"force":true}')
w(ctl, 'deep', b'[' * 2000)
w(ctl, 'trailing', b'{"mode":"SYNC"}{"mode":"ASYNC"}')
w(ctl, 'empty', b'  \n')
w(ctl, 'big-number', b'{"timeoutMs":' + b'9' * 200 + b'}')
# take-over channel: the first byte picks the chunk size (1 + b & 0x3f), then frames (0x57, type, u16 length, payload)
def tf(t, payload=b''):
    return struct.pack('>BBH', 0x57, t, len(payload)) + payload
def tk(disk, tid=b''):
    return bytes([len(disk)]) + disk + bytes([len(tid)]) + tid
tko = 'org/wanmig/replication/control/takeover/TakeOverFuzzTestInputs/frames'
session = tf(1, b'wanmig-testbed-agent-token') + tf(3) + tf(2, tk(b'vs1', b'migration-7')) + tf(2, tk(b'vs1'))
w(tko, 'session-bytewise', b'\0' + session)
w(tko, 'session-chunks', b'\x0b' + session)
w(tko, 'malformed-takeovers', b'\x3f' + tf(2, tk(b'-vs1')) + tf(2, tk(b'vs1', b'id with space')) + tf(2, b'\x05vs1')
  + tf(2, tk(b'vs1', b'x' * 128) + b'trailing') + tf(2, tk(b'v' * 64, b'y' * 128)) + tf(2))
w(tko, 'over-limit', b'\x07' + tf(3) + struct.pack('>BBH', 0x57, 2, 1025) + b'z' * 1025)
w(tko, 'bad-magic', b'\x01' + tf(3) + b'\x58\x03\x00\x00')
w(tko, 'unknown-type', b'\x02' + tf(1, b't') + struct.pack('>BBH', 0x57, 0x81, 8) + b'\0' * 8)
