#!/usr/bin/env python3
"""Fault-injection soak for Parley (issue 7): three real parleyd processes, faults, invariants.

Starts three `parleyd` processes on loopback with a throw-away test PKI (Certs/make-test-pki.sh).
Each node reaches each other node through a TCP proxy run by this script (it passes the TLS bytes
through; it never terminates TLS). While notifications are submitted to the nodes' admin APIs (and
every tenth with `parley send`), it injects faults:

  kill      kill -9 of a random node at a random moment, restarted after 0-2 s
  stop      SIGSTOP of a random node (a hung peer) for 1-6 s, then SIGCONT
  proxy     per connection: pass, delay (50-800 ms per chunk), drop (refused at once), cut (closed
            after a few hundred bytes from the client), truncate (the request reaches the receiver,
            the response is cut short: the receipt is lost after the receiver committed), reset
            (a healthy connection closed after 0.5-5 s)
  skew      every (re)start of a node runs it under libfaketime with a random clock offset of
            0..+SKEW seconds, so the nodes' clocks differ by up to SKEW either way (SKEW below the
            nodes' clockSkewSeconds, 300)
  disk      one node's data directory is a small tmpfs; it is filled to the last byte for 3-8 s,
            then the filler is removed

Then the faults stop, every node runs, the queues drain, the daemons are stopped with SIGTERM and
the invariants are checked from the nodes' SQLite stores (opened read-only) and printed as a table.
Receipts are verified with `parley verify` (signature, chain, CRLs) and their binding (message id,
SHA-256 of the sender's stored bytes, signer, sender, status) is checked here. Any violation makes
the exit status 1; 2 means the harness itself could not run (missing binary, no tmpfs, ...).

Short version (CI):  python3 Tests/Soak/soak.py --kills 12 --stops 3 --disk-cycles 1 --min-messages 40 --drain-seconds 300
Long version:        python3 Tests/Soak/soak.py --kills 60 --min-seconds 300
See Tests/RELIABILITY.md, section "Fault injection", for every parameter and the latest figures.

Python standard library only (the CI virtual environment works, any python3 >= 3.9 does).
Root is needed for the tmpfs mount of the disk-full fault; without it, run with --no-disk.
"""

import argparse
import asyncio
import collections
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

PARTICIPANTS = ["US-NRRC", "RU-NRRC", "FR-CNRR"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKETIME_LIBRARIES = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
]
NODE_CLOCK_SKEW_SECONDS = 300


def say(line):
    print(line, flush=True)


# --------------------------------------------------------------------------------------------
# Minimal CBOR decoding (RFC 8949) for the receipts' payloads: enough for COSE_Sign1 and receipts.

class CBORError(Exception):
    pass


def cbor_decode(data):
    value, end = _cbor_item(data, 0, 0)
    if end != len(data):
        raise CBORError(f"{len(data) - end} trailing bytes")
    return value


def _cbor_item(data, i, depth):
    if depth > 16 or i >= len(data):
        raise CBORError("truncated or too deep")
    initial = data[i]
    major, info = initial >> 5, initial & 0x1F
    i += 1
    if info < 24:
        argument = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        if i + size > len(data):
            raise CBORError("truncated argument")
        argument = int.from_bytes(data[i:i + size], "big")
        i += size
    else:
        raise CBORError(f"unsupported additional information {info}")
    if major == 0:
        return argument, i
    if major == 1:
        return -1 - argument, i
    if major in (2, 3):
        if i + argument > len(data):
            raise CBORError("truncated string")
        chunk = bytes(data[i:i + argument])
        return (chunk if major == 2 else chunk.decode("utf-8")), i + argument
    if major == 4:
        items = []
        for _ in range(argument):
            item, i = _cbor_item(data, i, depth + 1)
            items.append(item)
        return items, i
    if major == 5:
        result = {}
        for _ in range(argument):
            key, i = _cbor_item(data, i, depth + 1)
            value, i = _cbor_item(data, i, depth + 1)
            result[key] = value
        return result, i
    if major == 6:
        item, i = _cbor_item(data, i, depth + 1)
        return ("tag", argument, item), i
    if major == 7 and info < 24:
        return {20: False, 21: True, 22: None}.get(argument, ("simple", argument)), i
    raise CBORError(f"unsupported major type {major}")


def receipt_payload(receipt_bytes):
    """The receipt map (SPEC.md §7) inside a COSE_Sign1 (tag 18) receipt."""
    item = cbor_decode(receipt_bytes)
    if isinstance(item, tuple) and item[0] == "tag" and item[1] == 18:
        item = item[2]
    if not (isinstance(item, list) and len(item) == 4 and isinstance(item[2], bytes)):
        raise CBORError("not a COSE_Sign1 array")
    payload = cbor_decode(item[2])
    if not isinstance(payload, dict):
        raise CBORError("payload is not a map")
    return payload


# --------------------------------------------------------------------------------------------
# The TCP proxy between nodes.

PROXY_KINDS = ["pass", "delay", "drop", "cut", "truncate", "reset"]


class LinkProxy:
    """Listens on a loopback port and forwards to one node's peer port, injecting faults per connection."""

    def __init__(self, name, upstream_port, rng, weights):
        self.name = name
        self.upstream_port = upstream_port
        self.rng = rng
        self.weights = weights
        self.faulty = False
        self.counts = collections.Counter()
        self.server = None
        self.port = None
        self.connections = set()

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self.server.close()
        for writer in list(self.connections):
            writer.close()
        await self.server.wait_closed()

    def choose(self):
        if not self.faulty:
            return "pass"
        kinds = list(self.weights)
        return self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]

    async def handle(self, client_reader, client_writer):
        kind = self.choose()
        self.counts[kind] += 1
        if kind == "drop":
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            self.counts["upstream-refused"] += 1
            client_writer.transport.abort()
            return
        self.connections.update([client_writer, upstream_writer])
        state = {"c2s_bursts": 0, "last": None, "closed": False}
        lifetime = self.rng.uniform(0.5, 5.0) if kind == "reset" else None
        cut_after = self.rng.randint(100, 3000) if kind == "cut" else None

        def close_both():
            if not state["closed"]:
                state["closed"] = True
                client_writer.transport.abort()
                upstream_writer.transport.abort()

        async def pump(reader, writer, direction):
            forwarded = 0
            try:
                while not state["closed"]:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    if direction == "c2s" and state["last"] != "c2s":
                        state["c2s_bursts"] += 1
                    state["last"] = direction
                    if kind == "delay":
                        await asyncio.sleep(self.rng.uniform(0.05, 0.8))
                    if kind == "cut" and direction == "c2s" and forwarded + len(chunk) >= cut_after:
                        writer.write(chunk[:max(0, cut_after - forwarded)])
                        await writer.drain()
                        close_both()
                        break
                    if kind == "truncate" and direction == "s2c" and state["c2s_bursts"] >= 2:
                        # The client's second flight (certificate, Finished) carries or precedes the
                        # request; the server has it. Cut its answer short.
                        writer.write(chunk[:self.rng.randint(0, len(chunk) - 1)])
                        await writer.drain()
                        self.counts["truncated-answers"] += 1
                        close_both()
                        break
                    writer.write(chunk)
                    await writer.drain()
                    forwarded += len(chunk)
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            finally:
                if not state["closed"]:
                    try:
                        writer.write_eof()
                    except (OSError, RuntimeError):
                        pass

        tasks = [asyncio.ensure_future(pump(client_reader, upstream_writer, "c2s")),
                 asyncio.ensure_future(pump(upstream_reader, client_writer, "s2c"))]
        try:
            if lifetime is not None:
                done, _ = await asyncio.wait(tasks, timeout=lifetime)
                if len(done) < 2:
                    close_both()
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # The proxy is stopping (also while a "reset" connection waits out its lifetime).
            close_both()
            return
        for writer in (client_writer, upstream_writer):
            self.connections.discard(writer)
            writer.close()


# --------------------------------------------------------------------------------------------
# The nodes.

class Node:
    def __init__(self, participant, directory, parleyd, faketime, log):
        self.id = participant
        self.directory = directory
        self.parleyd = parleyd
        self.faketime = faketime
        self.log = log
        self.config = os.path.join(directory, f"{participant}.json")
        self.data = os.path.join(directory, "data", participant)
        self.socket = os.path.join(directory, f"{participant}.sock")
        self.port = None
        self.process = None
        self.incarnation = 0
        self.expect_exit = False
        self.stopped = False
        self.starting = False
        self.exits = []          # (incarnation, returncode, expected)
        self.skews = []          # offset of each start, seconds
        self.log_files = []
        self.environment = {}

    @property
    def store(self):
        return os.path.join(self.data, "parley.sqlite")

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, skew):
        self.incarnation += 1
        log_path = os.path.join(self.directory, "logs", f"{self.id}.{self.incarnation:03d}.log")
        self.log_files.append(log_path)
        # The configuration goes in the environment as well as the file: under libfaketime's
        # LD_PRELOAD a Swift program sees no command-line arguments (CommandLine.arguments is empty),
        # so a skewed parleyd reads only PARLEY_* variables.
        environment = dict(os.environ, PARLEY_LOG_LEVEL="info", **self.environment)
        if skew:
            environment.update(LD_PRELOAD=self.faketime, FAKETIME=f"{skew:+d}s", FAKETIME_DONT_FAKE_MONOTONIC="1")
        self.skews.append(skew)
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([self.parleyd, "--config", self.config], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=environment, start_new_session=True)
        self.expect_exit = False
        self.stopped = False

    def signal(self, number):
        if self.running:
            os.kill(self.process.pid, number)

    def reap(self):
        """Records the exit of the current process, if it has exited. Returns True if it had."""
        if self.process is None or self.process.poll() is None:
            return False
        self.exits.append((self.incarnation, self.process.returncode, self.expect_exit))
        self.process = None
        self.stopped = False
        return True

    async def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            if os.path.exists(self.socket) and await port_open(self.port):
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.socket), 1)
                    writer.close()
                    return True
                except (OSError, asyncio.TimeoutError):
                    pass
            await asyncio.sleep(0.05)
        return False


def configuration_environment(configuration):
    """The PARLEY_* variables equivalent to a parleyd.json (Sources/ParleyNode/README.md)."""
    import re
    environment = {}

    def walk(prefix, value):
        if prefix == "PEERS":
            environment["PARLEY_PEERS"] = ",".join(f"{peer}={entry['url']}" for peer, entry in value.items())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk((prefix + "_" if prefix else "") + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper(), item)
        elif isinstance(value, list):
            environment["PARLEY_" + prefix] = ",".join(value)
        else:
            environment["PARLEY_" + prefix] = str(value)
    walk("", configuration)
    return environment


async def port_open(port):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        writer.close()
        return True
    except (OSError, asyncio.TimeoutError):
        return False


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def admin_post(socket_path, path, body, timeout):
    async def exchange():
        reader, writer = await asyncio.open_unix_connection(socket_path)
        try:
            head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            writer.write(head + body)
            await writer.drain()
            response = await reader.read()
        finally:
            writer.close()
        header, _, payload = response.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1]) if header.startswith(b"HTTP/") else 0
        if b"transfer-encoding: chunked" in header.lower():
            payload = dechunk(payload)
        return status, payload
    return await asyncio.wait_for(exchange(), timeout)


def dechunk(data):
    out, i = b"", 0
    while True:
        end = data.find(b"\r\n", i)
        if end < 0:
            return out
        size = int(data[i:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += data[end + 2:end + 2 + size]
        i = end + 2 + size + 2


# --------------------------------------------------------------------------------------------
# The run.

class Soak:
    def __init__(self, options):
        self.options = options
        self.rng = random.Random(options.seed)
        self.bin = os.path.abspath(options.bin_dir)
        self.parleyd = os.path.join(self.bin, "parleyd")
        self.parley = os.path.join(self.bin, "parley")
        self.directory = None
        self.nodes = {}
        self.proxies = {}
        self.faults = collections.Counter()
        self.submitted = {}          # message id hex -> (sender, recipients)
        self.submission_failures = collections.Counter()
        self.submissions_attempted = 0
        self.submitted_with_cli = 0
        self.faulting = False
        self.submitting = False
        self.disk_node = PARTICIPANTS[2] if options.disk else None
        self.disk_mount = None
        self.disk_full = False
        self.started = time.monotonic()
        self.fault_seconds = 0.0
        self.drain_seconds = 0.0
        self.violations = []
        self.rows = []
        self.background = set()

    # ---- setup

    def setup(self):
        for binary in (self.parleyd, self.parley):
            if not os.access(binary, os.X_OK):
                raise SystemExit(f"soak: {binary} is not an executable; build first with `swift build --build-tests` "
                                 f"(or give --bin-dir)")
        faketime = next((path for path in FAKETIME_LIBRARIES if os.path.exists(path)), None)
        if self.options.skew and faketime is None:
            raise SystemExit("soak: libfaketime is not installed (apt-get install faketime), needed for the clock-skew "
                             "fault; install it or run with --skew 0")
        if self.options.skew >= NODE_CLOCK_SKEW_SECONDS:
            raise SystemExit(f"soak: --skew must stay below the nodes' clockSkewSeconds ({NODE_CLOCK_SKEW_SECONDS})")
        self.directory = tempfile.mkdtemp(prefix="parley-soak-", dir=self.options.work_dir)
        os.makedirs(os.path.join(self.directory, "logs"))
        say(f"soak: seed {self.options.seed}, directory {self.directory}")
        pki = os.path.join(self.directory, "pki")
        result = subprocess.run(["bash", os.path.join(REPO, "Certs/make-test-pki.sh"), pki] + PARTICIPANTS,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            raise SystemExit("soak: Certs/make-test-pki.sh failed:\n" + result.stdout.decode(errors="replace")[-2000:])
        self.anchors = os.path.join(pki, "trust/anchors.pem")
        self.crls = os.path.join(pki, "trust/crls.pem")
        for participant in PARTICIPANTS:
            node = Node(participant, self.directory, self.parleyd, faketime, say)
            node.port = free_port()
            os.makedirs(node.data)
            self.nodes[participant] = node
        if self.disk_node:
            node = self.nodes[self.disk_node]
            result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.options.disk_mb}m,mode=0700", "tmpfs", node.data],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                raise SystemExit(f"soak: cannot mount a tmpfs on {node.data} for the disk-full fault "
                                 f"({result.stdout.decode(errors='replace').strip()}); run as root or with --no-disk")
            self.disk_mount = node.data

    async def start_proxies(self):
        weights = {"pass": 45, "delay": 15, "drop": 8, "cut": 10, "truncate": 14, "reset": 8}
        for sender in PARTICIPANTS:
            for recipient in PARTICIPANTS:
                if sender != recipient:
                    proxy = LinkProxy(f"{sender}->{recipient}", self.nodes[recipient].port, self.rng, weights)
                    await proxy.start()
                    self.proxies[(sender, recipient)] = proxy

    def write_configurations(self):
        pki = os.path.join(self.directory, "pki")
        for node in self.nodes.values():
            base = os.path.join(pki, "participants", node.id)
            configuration = {
                "participant": node.id,
                "signing": {"key": f"{base}/signing.key", "chain": f"{base}/signing-chain.pem"},
                "tls": {"key": f"{base}/tls.key", "chain": f"{base}/tls-chain.pem"},
                "trust": {"anchors": self.anchors, "crls": [self.crls]},
                "listen": {"host": "127.0.0.1", "port": node.port},
                "admin": {"socket": node.socket},
                "dataDirectory": node.data,
                "peers": {other: {"url": f"https://127.0.0.1:{self.proxies[(node.id, other)].port}"}
                          for other in PARTICIPANTS if other != node.id},
                "retry": {"initialSeconds": 0.2, "maximumIntervalSeconds": 2, "giveUpAfterSeconds": 86400},
                "limits": {"requestTimeoutSeconds": 5},
                "clockSkewSeconds": NODE_CLOCK_SKEW_SECONDS,
            }
            with open(node.config, "w") as file:
                json.dump(configuration, file, indent=2)
            node.environment = configuration_environment(configuration)

    # ---- node control

    def skew(self):
        if not self.options.skew or not self.faulting:
            return 0
        # Offsets 0..+SKEW: the pairwise differences, which are what the protocol tolerates, still
        # range over -SKEW..+SKEW (a node ahead of its peer and behind it). Under a negative
        # libfaketime offset parleyd stops only about that long after its start, whenever SIGTERM
        # comes; not seen with a real clock or a positive offset (see Tests/RELIABILITY.md).
        return self.rng.randint(0, self.options.skew)

    async def start_node(self, node):
        node.starting = True
        try:
            offset = self.skew()
            if offset:
                self.faults["skewed start"] += 1
            node.start(offset)
            if not await node.wait_ready(60):
                if node.running:
                    self.violation("daemon start", f"{node.id} (start {node.incarnation}) was not ready within 60 s; "
                                                   f"see {node.log_files[-1]}")
                return False
            return True
        finally:
            node.starting = False

    def watch(self):
        """Reaps exited daemons; an exit nobody caused is a crash."""
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is not None:
                expected = node.expect_exit
                code = node.process.returncode
                incarnation = node.incarnation
                node.reap()
                if not expected:
                    self.violation("no daemon crash", f"{node.id} (start {incarnation}) exited with status {code} without "
                                                      f"being killed; see {node.log_files[-1]}")

    def spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def kill(self, node):
        node.expect_exit = True
        node.signal(signal.SIGKILL)
        while node.running:
            await asyncio.sleep(0.01)
        node.reap()
        self.faults["kill -9"] += 1
        await asyncio.sleep(self.rng.uniform(0, 2))
        await self.start_node(node)

    async def hang(self, node):
        node.signal(signal.SIGSTOP)
        node.stopped = True
        self.faults["SIGSTOP/SIGCONT"] += 1
        await asyncio.sleep(self.rng.uniform(1, 6))
        if node.stopped:
            node.signal(signal.SIGCONT)
            node.stopped = False

    async def fill_disk(self):
        filler = os.path.join(self.disk_mount, "filler")
        self.disk_full = True
        self.faults["disk full"] += 1
        descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        os.write(descriptor, b"\0" * size)
                except OSError:
                    pass
            os.close(descriptor)
            descriptor = None
            await asyncio.sleep(self.rng.uniform(3, 8))
        finally:
            if descriptor is not None:
                os.close(descriptor)
            os.remove(filler)
            self.disk_full = False

    # ---- traffic

    def document(self, recipients, number):
        start = time.time() + 3 * 86400
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return {
            "type": "pre-launch", "recipients": recipients,
            "body": {
                "class": "space-launch-vehicle",
                "window-start": stamp(start), "window-end": stamp(start + 4 * 3600),
                "launch-area": {"circle": {"center": {"lat": 28.573469, "lon": -80.65107}, "radius-m": 5000}},
                "impact-areas": [{"polygon": [{"lat": 30.0, "lon": -60.0}, {"lat": 30.0, "lon": -58.0},
                                              {"lat": 28.0, "lon": -58.0}, {"lat": 28.0, "lon": -60.0}]}],
                "azimuth": round(self.rng.uniform(0, 359), 1), "designator": f"SOAK-{number}",
            },
            "remarks": {"lang": "en", "text": f"Soak notification {number}."},
        }

    async def submit_one(self, number):
        up = [n for n in self.nodes.values() if n.running and not n.stopped and not n.starting]
        if not up:
            self.submission_failures["no node up"] += 1
            return
        sender = self.rng.choice(up)
        others = [p for p in PARTICIPANTS if p != sender.id]
        recipients = self.rng.sample(others, self.rng.choice([1, 2]))
        body = json.dumps(self.document(recipients, number)).encode()
        self.submissions_attempted += 1
        try:
            if number % 10 == 0:
                path = os.path.join(self.directory, f"draft-{number}.json")
                with open(path, "wb") as file:
                    file.write(body)
                process = await asyncio.create_subprocess_exec(
                    self.parley, "send", "--socket", sender.socket, "--document", path, "--json",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                try:
                    out, err = await asyncio.wait_for(process.communicate(), 15)
                except asyncio.TimeoutError:
                    process.kill()
                    await process.wait()
                    raise
                if process.returncode != 0:
                    self.submission_failures[f"parley send exit {process.returncode}"] += 1
                    return
                answer = json.loads(out)
                self.submitted_with_cli += 1
            else:
                status, payload = await admin_post(sender.socket, "/v1/drafts", body, 5)
                if status != 201:
                    self.submission_failures[f"HTTP {status}"] += 1
                    return
                answer = json.loads(payload)
            self.submitted[answer["id"]] = (sender.id, recipients)
        except (OSError, asyncio.TimeoutError, ValueError, IndexError) as error:
            self.submission_failures[type(error).__name__] += 1

    async def traffic(self):
        number = 0
        pending = set()
        while self.submitting:
            await asyncio.sleep(self.rng.expovariate(self.options.rate))
            number += 1
            if len(pending) < 16:
                task = asyncio.ensure_future(self.submit_one(number))
                pending.add(task)
                task.add_done_callback(pending.discard)
            self.watch()
        await asyncio.gather(*pending, return_exceptions=True)

    # ---- faults

    def fault_phase_done(self):
        o = self.options
        return (self.faults["kill -9"] >= o.kills and time.monotonic() - self.fault_start >= o.min_seconds
                and self.faults["SIGSTOP/SIGCONT"] >= o.stops and (not self.disk_mount or self.faults["disk full"] >= o.disk_cycles))

    async def inject(self):
        self.fault_start = time.monotonic()
        busy = {}  # node id -> task
        disk_task = None
        while not self.fault_phase_done():
            if time.monotonic() - self.fault_start > self.options.max_seconds:
                self.violation("fault phase", f"the fault targets were not reached within --max-seconds {self.options.max_seconds:.0f}: "
                                              f"{dict(self.faults)}")
                break
            await asyncio.sleep(self.rng.uniform(0.2, self.options.fault_interval))
            self.watch()
            for name in [n for n, t in busy.items() if t.done()]:
                del busy[name]
            for node in self.nodes.values():
                if node.id not in busy and not node.running and not node.starting:
                    # Down after a crash or a failed start (already reported): start it again.
                    busy[node.id] = self.spawn(self.start_node(node))
            free = [n for n in self.nodes.values() if n.id not in busy and n.running and not n.starting]
            choices = []
            if free and len(busy) < 2:
                if self.faults["kill -9"] < self.options.kills or self.rng.random() < 0.5:
                    choices += ["kill"] * 6
                choices += ["stop"] * 3
            if self.disk_mount and (disk_task is None or disk_task.done()):
                choices += ["disk"]
            if not choices:
                continue
            kind = self.rng.choice(choices)
            if kind == "kill":
                victim = self.rng.choice(free)
                busy[victim.id] = self.spawn(self.kill(victim))
            elif kind == "stop":
                victim = self.rng.choice(free)
                busy[victim.id] = self.spawn(self.hang(victim))
            else:
                disk_task = self.spawn(self.fill_disk())
        await asyncio.gather(*busy.values(), *( [disk_task] if disk_task else []), return_exceptions=True)

    # ---- drain and checks

    def query(self, node, sql, arguments=()):
        connection = sqlite3.connect(f"file:{node.store}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, arguments).fetchall()
        finally:
            connection.close()

    async def drain(self):
        deadline = time.monotonic() + self.options.drain_seconds
        while True:
            self.watch()
            open_deliveries = {}
            for node in self.nodes.values():
                try:
                    open_deliveries[node.id] = self.query(node, "SELECT count(*) FROM delivery WHERE state IN ('pending', 'inflight')")[0][0]
                except sqlite3.Error as error:
                    open_deliveries[node.id] = f"store unreadable: {error}"
            if all(v == 0 for v in open_deliveries.values()):
                return
            if time.monotonic() > deadline:
                self.violation("queues drain", f"after {self.options.drain_seconds} s still open deliveries: {open_deliveries}")
                return
            await asyncio.sleep(0.5)

    def violation(self, invariant, detail):
        self.violations.append((invariant, detail))

    def stop_all(self):
        for node in self.nodes.values():
            if node.running:
                node.expect_exit = True
                node.signal(signal.SIGCONT)
                node.signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for node in self.nodes.values():
            if node.process is None:
                continue
            try:
                node.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.signal(signal.SIGKILL)
                node.process.wait()
                self.violation("clean shutdown", f"{node.id} did not stop within 30 s of SIGTERM; killed")
                node.reap()
                continue
            code = node.process.returncode
            node.reap()
            if code != 0:
                self.violation("clean shutdown", f"{node.id} exited with status {code} after SIGTERM; see {node.log_files[-1]}")

    def check(self):
        stores = {}
        for node in self.nodes.values():
            stores[node.id] = {
                "sent": {bytes(r[0]).hex(): (bytes(r[1]), bytes(r[2]), r[3]) for r in self.query(
                    node, "SELECT id, bytes, digest, sender FROM message WHERE direction = 0")},
                "received": {bytes(r[0]).hex(): (bytes(r[1]), bytes(r[2]), r[3]) for r in self.query(
                    node, "SELECT id, bytes, digest, sender FROM message WHERE direction = 1")},
                "deliveries": [(bytes(r[0]).hex(), r[1], r[2], r[3], r[4], r[5]) for r in self.query(node, """
                    SELECT m.id, d.recipient, d.seq, d.state, d.receipt, d.sender FROM delivery d JOIN message m ON m.rowid = d.message""")],
                "inbox": [(bytes(r[0]).hex(), r[1], r[2], r[3], r[4]) for r in self.query(node, """
                    SELECT m.id, i.sender, i.recipient, i.seq, i.receipt FROM inbox i JOIN message m ON m.rowid = i.message""")],
                "receipts": {r[0]: (bytes(r[1]).hex(), r[2], r[3], r[4], bytes(r[5])) for r in self.query(
                    node, "SELECT rowid, message_id, direction, signer, status, bytes FROM receipt")},
                "channel_out": {(r[0], r[1]): r[2] for r in self.query(node, "SELECT sender, recipient, next_seq FROM channel_out")},
                "channel_in": {(r[0], r[1]): (r[2], r[3]) for r in self.query(node, "SELECT sender, recipient, contiguous, highest FROM channel_in")},
                "gaps": self.query(node, "SELECT sender, recipient, first, last FROM channel_gap"),
                "audit": collections.Counter(dict(self.query(node, "SELECT kind, count(*) FROM audit GROUP BY kind"))),
                "arrivals": [(bytes(r[0]).hex(), r[1], r[2]) for r in self.query(node, """
                    SELECT m.id, i.sender, i.seq FROM inbox i JOIN message m ON m.rowid = i.message ORDER BY i.message""")],
                "gap_events": {(r[0], bytes(r[1]).hex(), r[2]) for r in self.query(node, """
                    SELECT kind, message_id, peer FROM audit WHERE kind IN ('gap-detected', 'gap-filled')""")},
            }
        table = collections.OrderedDict()

        def row(name, checked, failures):
            table[name] = (checked, len(failures))
            for failure in failures[:10]:
                self.violation(name, failure)
            if len(failures) > 10:
                self.violation(name, f"... and {len(failures) - 10} more")

        # 1. Acknowledged = stored.
        failures = [f"message {mid} acknowledged by {sender}'s admin API is not in its store"
                    for mid, (sender, _) in self.submitted.items() if mid not in stores[sender]["sent"]]
        if len(self.submitted) < self.options.min_messages:
            failures.append(f"only {len(self.submitted)} submissions were acknowledged, fewer than --min-messages "
                            f"{self.options.min_messages}: the run exercised too little traffic to count")
        row("acknowledged submission stored by its sender", len(self.submitted), failures)

        # 2. Every delivery settled with an accepted or duplicate receipt.
        deliveries = [(node_id, d) for node_id, s in stores.items() for d in s["deliveries"]]
        failures = [f"{node_id} -> {d[1]} message {d[0]} seq {d[2]}: state {d[3]}" for node_id, d in deliveries if d[3] != "delivered"]
        row("delivery settled (state delivered)", len(deliveries), failures)

        # 3./4. Exactly once in the recipient's inbox, identical bytes.
        once, same = [], []
        for node_id, (mid, recipient, seq, _, _, _) in deliveries:
            sent_bytes, sent_digest, _ = stores[node_id]["sent"][mid]
            entries = [e for e in stores[recipient]["inbox"] if e[0] == mid]
            if len(entries) != 1 or mid not in stores[recipient]["received"]:
                once.append(f"message {mid} from {node_id} is {len(entries)} times in {recipient}'s inbox")
                continue
            if entries[0][1] != node_id or entries[0][2] != recipient:
                once.append(f"message {mid} in {recipient}'s inbox is filed under channel {entries[0][1]}->{entries[0][2]}")
            received_bytes, received_digest, _ = stores[recipient]["received"][mid]
            digests = {hashlib.sha256(sent_bytes).digest(), hashlib.sha256(received_bytes).digest(), sent_digest, received_digest}
            if len(digests) != 1:
                same.append(f"message {mid} {node_id}->{recipient}: SHA-256 of stored bytes differ (sender "
                            f"{hashlib.sha256(sent_bytes).hexdigest()}, recipient {hashlib.sha256(received_bytes).hexdigest()})")
        row("in each recipient's inbox exactly once", len(deliveries), once)
        row("identical bytes (SHA-256 sender = recipient)", len(deliveries), same)

        # 5. Nothing in an inbox that its sender did not send to it.
        phantom, inbox_total = [], 0
        for node_id, s in stores.items():
            for mid, sender, recipient, seq, _ in s["inbox"]:
                inbox_total += 1
                if not any(d[0] == mid and d[1] == node_id for d in stores[sender]["deliveries"]):
                    phantom.append(f"{node_id}'s inbox holds {mid} from {sender}, which {sender} has no delivery of to {node_id}")
        row("no inbox entry without a matching delivery", inbox_total, phantom)

        # 6. Receipts: present, bound to the message, verifying.
        receipt_dir = os.path.join(self.directory, "receipts")
        os.makedirs(receipt_dir, exist_ok=True)
        bound, files = [], {}
        for node_id, (mid, recipient, seq, state, receipt_row, _) in deliveries:
            receipt = stores[node_id]["receipts"].get(receipt_row)
            if receipt is None:
                bound.append(f"message {mid} {node_id}->{recipient}: no receipt stored with the delivery")
                continue
            rid, direction, signer, status, data = receipt
            sent_digest = hashlib.sha256(stores[node_id]["sent"][mid][0]).digest()
            try:
                payload = receipt_payload(data)
            except (CBORError, UnicodeDecodeError) as error:
                bound.append(f"message {mid} {node_id}->{recipient}: receipt does not decode: {error}")
                continue
            expected = {2: bytes.fromhex(mid), 3: sent_digest, 4: recipient, 5: node_id}
            wrong = [key for key, value in expected.items() if payload.get(key) != value]
            if rid != mid or direction != 0 or signer != recipient or status not in (0, 1) or payload.get(7) not in (0, 1) or wrong:
                bound.append(f"message {mid} {node_id}->{recipient}: receipt does not answer it (keys {wrong}, status {status}, signer {signer})")
            path = os.path.join(receipt_dir, f"{mid}-{recipient}.cose")
            with open(path, "wb") as file:
                file.write(data)
            files[path] = (mid, node_id, recipient)
        row("receipt stored and bound to the message", len(deliveries), bound)
        verified = []
        paths = list(files)
        for start in range(0, len(paths), 500):
            batch = paths[start:start + 500]
            result = subprocess.run([self.parley, "verify", "--trust", self.anchors, "--crl", self.crls, "--json"] + batch,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            answers = {}
            for line in result.stdout.decode().splitlines():
                try:
                    answer = json.loads(line)
                    answers[answer["file"]] = answer
                except (ValueError, KeyError):
                    pass
            for path in batch:
                answer = answers.get(path)
                if answer is None or not answer.get("valid") or answer.get("kind") != "receipt" or answer.get("signer") != files[path][2]:
                    mid, sender, recipient = files[path]
                    verified.append(f"receipt of {mid} from {recipient} (held by {sender}) does not verify with parley verify: "
                                    f"{(answer or {}).get('error', result.stderr.decode()[-300:])}")
        row("receipt verifies (parley verify)", len(files), verified)

        # 7. Sequence numbers: each channel 1..n at the sender, the same numbers for the same ids at the recipient.
        sequence, channels = [], 0
        for sender in PARTICIPANTS:
            for recipient in PARTICIPANTS:
                if sender == recipient:
                    continue
                out = sorted((d[2], d[0]) for d in stores[sender]["deliveries"] if d[1] == recipient)
                numbers = [n for n, _ in out]
                if not out:
                    continue
                channels += 1
                if numbers != list(range(1, len(numbers) + 1)):
                    duplicates = [n for n, c in collections.Counter(numbers).items() if c > 1]
                    sequence.append(f"channel {sender}->{recipient}: sender's numbers are not 1..{len(numbers)} "
                                    f"(duplicates {duplicates[:5]}, missing {sorted(set(range(1, len(numbers) + 1)) - set(numbers))[:5]})")
                if stores[sender]["channel_out"].get((sender, recipient)) != len(numbers) + 1:
                    sequence.append(f"channel {sender}->{recipient}: next number {stores[sender]['channel_out'].get((sender, recipient))}, "
                                    f"expected {len(numbers) + 1}")
                inbound = sorted((e[3], e[0]) for e in stores[recipient]["inbox"] if e[1] == sender)
                if inbound != out:
                    sequence.append(f"channel {sender}->{recipient}: recipient's (seq, id) pairs differ from the sender's "
                                    f"({len(inbound)} vs {len(out)} entries)")
        row("no sequence number used twice or skipped", channels, sequence)

        # 8. Gaps: only those reported, all filled.
        gaps, detected, filled = [], 0, 0
        for node_id, s in stores.items():
            detected += s["audit"]["gap-detected"]
            filled += s["audit"]["gap-filled"]
            for gap in s["gaps"]:
                gaps.append(f"{node_id}: channel {gap[0]}->{gap[1]} still misses {gap[2]}..{gap[3]}")
            for (sender, recipient), (contiguous, highest) in s["channel_in"].items():
                if contiguous != highest:
                    gaps.append(f"{node_id}: channel {sender}->{recipient} contiguous {contiguous} < highest {highest}")
        row("gaps: none left open", sum(len(s["channel_in"]) for s in stores.values()), gaps)
        # Every out-of-order arrival (in inbox order, which is arrival order) was reported: an arrival
        # beyond highest + 1 by a gap-detected event, an arrival below the highest by gap-filled.
        unreported, arrivals = [], 0
        for node_id, s in stores.items():
            highest = collections.defaultdict(int)
            expected = set()
            for mid, sender, seq in s["arrivals"]:
                arrivals += 1
                if seq > highest[sender] + 1:
                    expected.add(("gap-detected", mid, sender))
                elif seq < highest[sender]:
                    expected.add(("gap-filled", mid, sender))
                highest[sender] = max(highest[sender], seq)
            for kind, mid, sender in sorted(expected - s["gap_events"]):
                unreported.append(f"{node_id}: message {mid} from {sender} arrived out of order without a {kind} event")
            for kind, mid, sender in sorted(s["gap_events"] - expected):
                unreported.append(f"{node_id}: {kind} event for message {mid} from {sender}, which arrived in order")
        row("gaps: exactly those reported in the audit log", arrivals, unreported)
        self.gap_counts = (detected, filled)

        # 9. Alerts: no equivocation, replay, rejection, expiry.
        alerts = []
        for node_id, s in stores.items():
            for kind in ("equivocation", "replay", "rejected", "expired", "cancelled"):
                if s["audit"][kind]:
                    alerts.append(f"{node_id}: {s['audit'][kind]} '{kind}' events in the audit log")
        row("no equivocation, replay, rejection or expiry", len(stores), alerts)

        # 10. Stores intact after every kill: SQLite's quick_check, FTS5's structural check, and a text
        # search finds exactly the stored messages with remarks (the index is filled once per write
        # transaction since schema 6).
        damaged = []
        for node in self.nodes.values():
            connection = sqlite3.connect(node.store, timeout=10)
            try:
                findings = [r[0] for r in connection.execute("PRAGMA quick_check").fetchall()]
                if findings != ["ok"]:
                    damaged.append(f"{node.id}: quick_check: {'; '.join(findings[:5])}")
                connection.execute("INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")
                with_remarks = {r[0] for r in connection.execute("SELECT rowid FROM message WHERE remarks_text IS NOT NULL")}
                found = {r[0] for r in connection.execute("SELECT rowid FROM message_fts WHERE message_fts MATCH 'soak'")}
                if with_remarks - found:
                    damaged.append(f"{node.id}: {len(with_remarks - found)} of {len(with_remarks)} stored messages with remarks are not found by a text search")
                if found - with_remarks:
                    damaged.append(f"{node.id}: a text search finds {len(found - with_remarks)} messages that are not stored with remarks")
            except sqlite3.Error as error:
                damaged.append(f"{node.id}: {error}")
            finally:
                connection.close()
        row("store and full-text index intact", len(self.nodes), damaged)

        # 11. Daemons: no crash (exits other than our kills and the final SIGTERM), no fatal log lines.
        crashes = [detail for name, detail in self.violations if name in ("no daemon crash", "clean shutdown", "daemon start")]
        self.violations = [(n, d) for n, d in self.violations if n not in ("no daemon crash", "clean shutdown", "daemon start")]
        starts = sum(n.incarnation for n in self.nodes.values())
        fatal = []
        for node in self.nodes.values():
            for path in node.log_files:
                with open(path, "rb") as file:
                    for number, line in enumerate(file, 1):
                        text = line.decode(errors="replace")
                        if " critical " in text or "Fatal error" in text or "EQUIVOCATION" in text or "Segmentation" in text:
                            fatal.append(f"{path}:{number}: {text.strip()[:300]}")
        row("no daemon crash except where killed", starts, crashes + fatal)

        self.stores = stores
        self.table = table

    def report(self):
        o = self.options
        total = time.monotonic() - self.started
        deliveries = sum(len(s["deliveries"]) for s in self.stores.values())
        duplicates = sum(1 for s in self.stores.values() for r in s["receipts"].values() if r[1] == 0 and r[3] == 1)
        proxy = collections.Counter()
        for p in self.proxies.values():
            proxy.update(p.counts)
        say("")
        say("faults injected")
        for kind in ("kill -9", "SIGSTOP/SIGCONT", "disk full", "skewed start"):
            say(f"  {kind:<28} {self.faults[kind]}")
        skews = [s for n in self.nodes.values() for s in n.skews if s]
        if skews:
            say(f"  {'clock offsets (s)':<28} {min(skews)} .. {max(skews)} (nodes tolerate {NODE_CLOCK_SKEW_SECONDS})")
        for kind in PROXY_KINDS:
            if kind != "pass":
                say(f"  {'proxy ' + kind:<28} {proxy[kind]}")
        say(f"  {'proxy pass (healthy)':<28} {proxy['pass']}")
        say(f"  {'proxy truncated answers':<28} {proxy['truncated-answers']}")
        say("")
        say("traffic")
        say(f"  {'submissions attempted':<28} {self.submissions_attempted}")
        say(f"  {'acknowledged (admin API)':<28} {len(self.submitted)} ({self.submitted_with_cli} via parley send)")
        say(f"  {'refused or unanswered':<28} {sum(self.submission_failures.values())} {dict(self.submission_failures)}")
        say(f"  {'messages in sender stores':<28} {sum(len(s['sent']) for s in self.stores.values())}")
        say(f"  {'deliveries (msg x recipient)':<28} {deliveries}")
        say(f"  {'duplicate receipts':<28} {duplicates} (deliveries repeated after a lost receipt)")
        say(f"  {'gaps detected / filled':<28} {self.gap_counts[0]} / {self.gap_counts[1]}")
        say("")
        say(f"{'invariant':<48} {'checked':>8} {'violations':>10}")
        for name, (checked, failures) in self.table.items():
            say(f"{name:<48} {checked:>8} {failures:>10}")
        extra = [v for v in self.violations if v[0] not in self.table]
        if extra:
            say(f"{'other (harness)':<48} {'':>8} {len(extra):>10}")
        say("")
        say(f"duration: {total:.0f} s (faults {self.fault_seconds:.0f} s, drain {self.drain_seconds:.0f} s); seed {o.seed}")
        if self.violations:
            say("")
            say("VIOLATIONS")
            for name, detail in self.violations:
                say(f"  [{name}] {detail}")
        return not self.violations

    async def run(self):
        self.setup()
        await self.start_proxies()
        self.write_configurations()
        for node in self.nodes.values():
            if not await self.start_node(node):
                raise SystemExit(f"soak: {node.id} did not start; see {node.log_files[-1]}")
        say(f"soak: 3 nodes running ({', '.join(f'{n.id} :{n.port}' for n in self.nodes.values())}); "
            f"faults until {self.options.kills} kills and {self.options.min_seconds} s")
        self.faulting = True
        for proxy in self.proxies.values():
            proxy.faulty = True
        self.submitting = True
        traffic = asyncio.ensure_future(self.traffic())
        progress = asyncio.ensure_future(self.progress())
        fault_start = time.monotonic()
        await self.inject()
        self.fault_seconds = time.monotonic() - fault_start
        self.faulting = False
        for proxy in self.proxies.values():
            proxy.faulty = False
        self.submitting = False
        await traffic
        await asyncio.gather(*self.background, return_exceptions=True)
        progress.cancel()
        say(f"soak: faults stopped after {self.fault_seconds:.0f} s; restarting any stopped node, draining")
        self.watch()
        for node in self.nodes.values():
            if node.stopped:
                node.signal(signal.SIGCONT)
                node.stopped = False
            if not node.running:
                await self.start_node(node)
        drain_start = time.monotonic()
        await self.drain()
        self.drain_seconds = time.monotonic() - drain_start
        self.watch()
        self.stop_all()
        for proxy in self.proxies.values():
            await proxy.stop()
        self.check()
        return self.report()

    async def progress(self):
        while True:
            await asyncio.sleep(15)
            say(f"soak: {time.monotonic() - self.fault_start:.0f} s: {dict(self.faults)}, {len(self.submitted)} messages acknowledged")

    def cleanup(self):
        for node in self.nodes.values():
            if node.running:
                node.signal(signal.SIGCONT)
                node.signal(signal.SIGKILL)
                node.process.wait()
        if self.disk_mount:
            subprocess.run(["umount", self.disk_mount])
        if self.directory and not self.options.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif self.directory:
            say(f"soak: kept {self.directory}")


def main():
    parser = argparse.ArgumentParser(description="Parley fault-injection soak: three parleyd, faults, invariants.",
                                     epilog="Exit status: 0 no invariant violated, 1 a violation, 2 the harness could not run.")
    parser.add_argument("--kills", type=int, default=60, help="kill -9 faults before the fault phase may end (default 60)")
    parser.add_argument("--stops", type=int, default=5, help="SIGSTOP/SIGCONT faults at least (default 5)")
    parser.add_argument("--disk-cycles", type=int, default=2, help="disk-full cycles at least (default 2)")
    parser.add_argument("--min-seconds", type=float, default=0, help="fault phase lasts at least this long (default 0)")
    parser.add_argument("--max-seconds", type=float, default=1800, help="give up (a violation) if the targets take longer (default 1800)")
    parser.add_argument("--fault-interval", type=float, default=2.0, help="at most this many seconds between faults (default 2)")
    parser.add_argument("--rate", type=float, default=4.0, help="submissions per second, all nodes (default 4)")
    parser.add_argument("--min-messages", type=int, default=50, help="fail unless at least this many submissions were acknowledged (default 50)")
    parser.add_argument("--skew", type=int, default=120, help="clock offset 0..+SKEW seconds per node start, 0 = none (default 120)")
    parser.add_argument("--no-disk", dest="disk", action="store_false", help="skip the disk-full fault (needs root for tmpfs)")
    parser.add_argument("--disk-mb", type=int, default=48, help="size of the disk-full node's tmpfs (default 48)")
    parser.add_argument("--drain-seconds", type=float, default=180, help="time allowed for the queues to drain (default 180)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    parser.add_argument("--bin-dir", default=os.path.join(REPO, ".build/debug"), help="where parleyd and parley are (default .build/debug)")
    parser.add_argument("--work-dir", default=None, help="parent of the run's temporary directory (default $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (PKI, stores, logs)")
    options = parser.parse_args()
    if options.seed is None:
        options.seed = int(time.time())
    soak = Soak(options)
    try:
        passed = asyncio.run(soak.run())
    except SystemExit as error:
        if isinstance(error.code, str):
            print(error.code, file=sys.stderr)
            soak.cleanup()
            sys.exit(2)
        raise
    except BaseException:
        soak.cleanup()
        raise
    if not passed:
        options.keep = True
    soak.cleanup()
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
