# SPDX-License-Identifier: Apache-2.0
"""A minimal client of the kubelet streaming protocol over WebSocket (RFC 6455,
subprotocol v4.channel.k8s.io), as containerd's CRI streaming server serves
Exec and Attach URLs: every message is one channel byte (0 stdin, 1 stdout,
2 stderr, 3 status, 4 resize) and the data."""
import base64
import json
import os
import socket
import struct
import time
import urllib.parse


class Stream:
    def __init__(self, url, timeout=60):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        req = (
            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n" % (path, u.netloc, key)
        )
        self.sock.sendall(req.encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError("websocket upgrade refused: %r" % head[:200])

    def _until(self, sep):
        while sep not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _read(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame (fragments are not used by the server)."""
        b0, b1 = self._read(2)
        op, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        mask = self._read(4) if b1 & 0x80 else None
        data = self._read(n)
        if mask:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return op, data

    def send(self, channel, data):
        payload = bytes([channel]) + data
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x82])  # FIN + binary
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def collect(self, deadline_s=60, until=None):
        """Read until the server closes (or until(out) is true): per-channel
        bytes and the exit code from the status channel (None if none)."""
        out = {1: b"", 2: b"", 3: b""}
        end = time.time() + deadline_s
        while time.time() < end:
            try:
                op, data = self.recv()
            except (EOFError, ConnectionResetError, socket.timeout):
                break
            if op == 0x8:
                break
            if op in (0x1, 0x2) and data:
                out[data[0]] = out.get(data[0], b"") + data[1:]
            if until and until(out):
                break
        self.sock.close()
        code = None
        if out[3]:
            st = json.loads(out[3])
            if st.get("status") == "Success":
                code = 0
            else:
                for c in st.get("details", {}).get("causes", []):
                    if c.get("reason") == "ExitCode":
                        code = int(c.get("message"))
        return out, code
