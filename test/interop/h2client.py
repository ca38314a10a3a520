#!/usr/bin/python3
"""A small HTTP/2 client on Python's hyper-h2 (Debian python3-h2), driven by test/interop/python-h2.test.ts.

Usage: h2client.py PORT SCENARIO [ARGS...]; prints one JSON object on stdout.
TLS with ALPN h2 (certificate not verified: the tests use a throwaway self-signed one), or h2c prior knowledge
with --cleartext.
"""
import hashlib
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def pattern(size, seed=1):
    # A 64 KiB xorshift block (as in test/helpers/server.ts patternBytes()), repeated: fast in pure Python.
    block_size = min(size, 65536)
    out = bytearray(block_size)
    x = seed or 1
    for i in range(block_size):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    block = bytes(out)
    return (block * (size // max(block_size, 1) + 1))[:size]


class Client:
    def __init__(self, port, cleartext=False, window=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        if cleartext:
            self.sock = raw
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.streams = {}
        self.auto_ack = True
        self.terminated = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", body=None, headers=()):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "https"), (":authority", "localhost")] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=body is None)
        self.streams[sid] = {"status": None, "headers": {}, "body": bytearray(), "trailers": {}, "done": False, "reset": None}
        self.flush()
        if body is not None:
            self.send_body(sid, body)
        return sid

    def send_body(self, sid, body, end=True):
        offset = 0
        while offset < len(body):
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.pump_once()
                continue
            chunk = body[offset:offset + window]
            self.conn.send_data(sid, chunk)
            offset += len(chunk)
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def pump_once(self, timeout=20):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        for event in self.conn.receive_data(data):
            self.handle(event)
        self.flush()

    def handle(self, event):
        if isinstance(event, h2.events.ResponseReceived):
            s = self.streams[event.stream_id]
            s["headers"] = dict(event.headers)
            s["status"] = int(s["headers"][":status"])
        elif isinstance(event, h2.events.InformationalResponseReceived):
            s = self.streams[event.stream_id]
            s.setdefault("informational", []).append(dict(event.headers))
        elif isinstance(event, h2.events.DataReceived):
            s = self.streams[event.stream_id]
            s["body"] += event.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            self.streams[event.stream_id]["trailers"] = dict(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            self.streams[event.stream_id]["done"] = True
        elif isinstance(event, h2.events.StreamReset):
            if event.stream_id in self.streams:
                self.streams[event.stream_id]["reset"] = event.error_code
                self.streams[event.stream_id]["done"] = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated = event.error_code

    def wait(self, *sids):
        while not all(self.streams[s]["done"] for s in sids):
            self.pump_once()

    def result(self, sid):
        s = self.streams[sid]
        return {
            "status": s["status"],
            "headers": {k: v for k, v in s["headers"].items() if not k.startswith(":")},
            "length": len(s["body"]),
            "sha256": hashlib.sha256(bytes(s["body"])).hexdigest(),
            "text": bytes(s["body"][:200]).decode("utf-8", "replace"),
            "trailers": s["trailers"],
            "informational": s.get("informational", []),
            "reset": s["reset"],
        }


def main():
    port = int(sys.argv[1])
    scenario = sys.argv[2]
    args = sys.argv[3:]
    cleartext = "--cleartext" in args
    args = [a for a in args if a != "--cleartext"]
    out = {}
    if scenario in ("get", "head"):
        c = Client(port, cleartext)
        sid = c.request(args[0] if args else "/", "HEAD" if scenario == "head" else "GET")
        c.wait(sid)
        out = c.result(sid)
    elif scenario == "post":
        size = int(args[1])
        body = pattern(size, 5)
        c = Client(port, cleartext)
        sid = c.request(args[0], "POST", body)
        c.wait(sid)
        out = c.result(sid)
        out["sent_sha256"] = hashlib.sha256(body).hexdigest()
    elif scenario == "concurrent":
        n = int(args[1])
        c = Client(port, cleartext)
        sids = [c.request(args[0]) for _ in range(n)]
        c.wait(*sids)
        results = [c.result(s) for s in sids]
        out = {"count": len(results), "statuses": sorted({r["status"] for r in results}), "texts": sorted({r["text"] for r in results})}
    elif scenario == "slowread":
        # Small window and manual acknowledgement: the server may only send as fast as we consume.
        c = Client(port, cleartext, window=16384)
        c.auto_ack = False
        sid = c.request(args[0])
        received = 0
        while not c.streams[sid]["done"]:
            c.pump_once()
            body = c.streams[sid]["body"]
            new = len(body) - received
            if new > 0:
                received = len(body)
                time.sleep(0.002)
                c.conn.acknowledge_received_data(new, sid)
                c.flush()
        out = c.result(sid)
    elif scenario == "abort":
        # Headers + part of the body, then RST_STREAM(CANCEL) mid-upload; then prove the connection still works.
        c = Client(port, cleartext)
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", args[0]), (":scheme", "https"), (":authority", "localhost")])
        c.streams[sid] = {"status": None, "headers": {}, "body": bytearray(), "trailers": {}, "done": False, "reset": None}
        c.flush()
        c.send_body(sid, pattern(30000), end=False)
        time.sleep(float(args[1]) if len(args) > 1 else 0.3)
        c.conn.reset_stream(sid, 8)
        c.flush()
        follow = c.request("/")
        c.wait(follow)
        out = {"after": c.result(follow)}
    elif scenario == "trailers":
        c = Client(port, cleartext)
        sid = c.request(args[0])
        c.wait(sid)
        out = c.result(sid)
    else:
        raise SystemExit("unknown scenario " + scenario)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
