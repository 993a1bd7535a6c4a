#!/usr/bin/env python3
"""Mechanical checks of Protocol/parley.cddl, of the examples in NOTIFICATIONS.md and of the
committed test vectors under Protocol/vectors/.

    pip install pycddl "cbor2<6" cbor-diag      # cbor-diag only for the NOTIFICATIONS.md check
    python3 Protocol/tools/check_cddl.py [-v]

Exits 0 when everything passed, 1 on any failure, 2 when a required package is missing.

What it does:
  1. Parses parley.cddl with pycddl (the schema as written, unchanged).
  2. Self-test: builds small CBOR instances that MUST validate and instances that MUST NOT,
     and checks that the schema accepts / refuses each of them.
  3. NOTIFICATIONS.md: every ```json composition example is composed with the reference composer
     (tools/parley_compose.py) and must give exactly the bytes of the ```cbor-diag example that
     follows it; that envelope must validate against `envelope`.
  4. Vectors: every *.cbor file under Protocol/vectors/ is checked for strict deterministic
     encoding (RFC 8949 §4.2.1, SPEC.md §4) and validated against the rule chosen by the file
     name's prefix:
         envelope-*        envelope
         receipt-*         receipt
         message-*         parley-message     (also parley-message-*)
         signed-receipt-*  parley-receipt     (also parley-receipt-*)
         message-batch-*   message-batch
         batch-answer-*    batch-answer
     A file named schema-invalid-<one of those prefixes>... MUST fail the check instead.
     Files under a directory named `negative` or `invalid`, and files with no known prefix, are
     listed as skipped (they may violate the rules on purpose, in ways the schema cannot see).

pycddl 0.6.4 (the cddl-rs validator) deviates from RFC 8610 in ways that matter here; this
script therefore validates with a *compatibility copy* of the schema and adds the missing
checks itself (each is listed with the code that compensates it):
  a. .regexp is matched as a search, not against the whole string: patterns are anchored.
  b. `bstr .cbor R` inside an array is applied to every element of the array: it is replaced by
     `bstr`, and the embedded item is decoded and validated against R separately.
  c. ranges with a negative lower bound (-90000000..90000000) are refused: they are replaced by
     `int` and positions are range-checked here (check_positions).
  d. maps with only optional entries, and `{}`, accept unknown keys: the empty map
     (acknowledgement body) and the optional-only map are checked here (check_closed).
  e. `&(name: value, ...)` used inside an array matches only its first value: rewritten as a
     plain choice `value / value / ...`.
  f. `.and` used inside an array is applied to the array: the language-tag length bound is
     dropped from the copy and checked here (check_lang).
  g. a type choice of arrays whose first alternative nests an array never tries the next one:
     `area` lists the circle alternative first in the copy.
  h. occurrence bounds (`1*256`, `3*64`, ...) are not enforced for arrays whose elements are
     arrays, nor for x5chain: those bounds are checked here (check_counts).
  i. only the first element of an array whose elements are arrays is validated: each element
     of those arrays is validated separately (check_elements).
  j. `bstr .size (...)` also accepts a text string of that length: the certificates of an
     x5chain and the elements of a message-batch are checked to be byte strings here
     (check_elements).
Beyond the schema, x5chain-sha256 (protected header label -65537) is checked to be the SHA-256
of the x5chain value's encoding (SPEC.md §5.2).
"""
from __future__ import annotations

import hashlib

import hashlib
import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOCOL = HERE.parent
sys.path.insert(0, str(HERE))

try:
    import pycddl
    import cbor2
    from cbor2 import CBORTag
except ImportError as e:  # pragma: no cover
    print(f"check_cddl: missing package ({e}); run: pip install pycddl 'cbor2<6' cbor-diag", file=sys.stderr)
    sys.exit(2)

VERBOSE = "-v" in sys.argv
failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL  {msg}")


def ok(msg: str) -> None:
    if VERBOSE:
        print(f"ok    {msg}")


# ---------------------------------------------------------------------------------------------
# Strict deterministic CBOR decoder (SPEC.md §4.2, §4.3). Returns Python values; tags as CBORTag.

class NotDeterministic(ValueError):
    pass


MAX_SIZE, MAX_DEPTH, MAX_ITEMS = 262_144, 16, 16_384


def strict_decode(data: bytes):
    if len(data) > MAX_SIZE:
        raise NotDeterministic(f"{len(data)} bytes exceed {MAX_SIZE}")
    pos = 0
    items = 0

    def head():
        nonlocal pos, items
        if pos >= len(data):
            raise NotDeterministic("truncated")
        ib = data[pos]
        start = pos
        pos += 1
        items += 1
        if items > MAX_ITEMS:
            raise NotDeterministic("more than 16384 items")
        major, info = ib >> 5, ib & 0x1F
        if info < 24:
            return major, info, info
        if info in (24, 25, 26, 27):
            n = 1 << (info - 24)
            if pos + n > len(data):
                raise NotDeterministic("truncated head")
            val = int.from_bytes(data[pos:pos + n], "big")
            pos += n
            if major != 7:
                minimum = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}[info]
                if val < minimum:
                    raise NotDeterministic(f"non-shortest head at byte {start}")
            return major, info, val
        if info == 31:
            raise NotDeterministic(f"indefinite length at byte {start}")
        raise NotDeterministic(f"reserved additional information at byte {start}")

    def item(depth):
        nonlocal pos
        start = pos
        major, info, val = head()
        if major == 0:
            return val
        if major == 1:
            return -1 - val
        if major in (2, 3):
            if pos + val > len(data):
                raise NotDeterministic("string longer than input")
            raw = data[pos:pos + val]
            pos += val
            if major == 2:
                return bytes(raw)
            try:
                return raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise NotDeterministic(f"invalid UTF-8 at byte {start}")
        if depth > MAX_DEPTH:
            raise NotDeterministic(f"nesting deeper than {MAX_DEPTH}")
        if major == 4:
            return [item(depth + 1) for _ in range(val)]
        if major == 5:
            out = {}
            last = None
            for _ in range(val):
                kstart = pos
                k = item(depth + 1)
                kbytes = data[kstart:pos]
                if last is not None and kbytes <= last:
                    raise NotDeterministic(f"map keys unsorted or duplicate at byte {kstart}")
                last = kbytes
                out[k if not isinstance(k, (list, dict)) else repr(k)] = item(depth + 1)
            return out
        if major == 6:
            return CBORTag(val, item(depth + 1))
        # major 7
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        raise NotDeterministic(f"simple value or float at byte {start} (Parley uses none)")

    value = item(1)
    if pos != len(data):
        raise NotDeterministic(f"{len(data) - pos} trailing bytes")
    return value


# ---------------------------------------------------------------------------------------------
# Schema handling

CDDL_TEXT = (PROTOCOL / "parley.cddl").read_text(encoding="utf-8")


def compat_schema(text: str) -> str:
    # (a) anchor regular expressions
    text = re.sub(r'\.regexp "([^"]*)"', lambda m: f'.regexp "^(?:{m.group(1)})$"', text)
    # (b) no .cbor inside arrays (validated separately)
    text = re.sub(r"bstr \.cbor [a-z0-9-]+", "bstr", text)
    # (c) negative ranges
    text = re.sub(r"-\d+\.\.-?\d+", "int", text)
    # (e) &( name: value, ... ) inside arrays: rewritten as a plain type choice of the values
    text = re.sub(r"&\((.*?)\)", lambda m: " / ".join(re.findall(r":\s*(-?\d+)", m.group(1))), text, flags=re.S)
    # (f) .and inside arrays: the language-tag length is checked by check_lang
    text = text.replace("lang = lang-syntax .and lang-length", "lang = lang-syntax")
    # (g) a type choice of arrays stops after a first alternative that nests an array: the
    #     polygon alternative (nested vertex array) is moved last
    text = text.replace("area = polygon-area / circle-area", "area = circle-area / polygon-area")
    return text


COMPAT = compat_schema(CDDL_TEXT)
_schemas: dict[str, "pycddl.Schema"] = {}


def schema_for(rule: str):
    if rule not in _schemas:
        _schemas[rule] = pycddl.Schema(f"check-root = {rule}\n" + COMPAT)
    return _schemas[rule]


class SchemaError(ValueError):
    pass


def check_positions(value, where="") -> None:
    """(c) Every [lat, lon] inside a position-bearing field is a position in range; (h) also the
    vertices nested two arrays deep, which pycddl does not validate at all."""

    def pos(p, w):
        if p is None:
            return
        if not (isinstance(p, list) and len(p) == 2 and all(type(x) is int for x in p)):
            raise SchemaError(f"{w}: {p!r} is not a position [lat, lon]")
        if not -90_000_000 <= p[0] <= 90_000_000 or not -180_000_000 <= p[1] <= 180_000_000:
            raise SchemaError(f"{w}: position {p} out of range")

    def area(a, w):
        if isinstance(a, list) and a and a[0] == 1 and len(a) == 2 and isinstance(a[1], list):
            for i, p in enumerate(a[1]):
                pos(p, f"{w}[1][{i}]")
        elif isinstance(a, list) and len(a) == 3 and a[0] == 2:
            pos(a[1], f"{w}[1]")

    def body(t, b, w):
        if not isinstance(b, dict):
            return
        if t in (1, 4):
            area(b.get(4 if t == 1 else 3), f"{w}/launch-area")
        if t == 1:
            for i, a in enumerate(b.get(5, []) if isinstance(b.get(5), list) else []):
                area(a, f"{w}/impact-areas[{i}]")
        if t == 4 and 5 in b:
            area(b[5], f"{w}/impact-area")
        if t == 8:
            pos(b.get(4), f"{w}/location")
            if 7 in b:
                pos(b[7], f"{w}/destination")
        if t == 10:
            body(b.get(1), b.get(2), f"{w}/corrected-body")

    if isinstance(value, dict):
        body(value.get(6), value.get(8), "envelope/body")


def check_counts(rule: str, value) -> None:
    """(h) Occurrence bounds of arrays whose elements are arrays, and of x5chain."""
    def n(arr, lo, hi, what):
        if isinstance(arr, list) and not lo <= len(arr) <= hi:
            raise SchemaError(f"{what}: {len(arr)} entries, allowed {lo}..{hi}")

    def area(a, what):
        if isinstance(a, list) and len(a) == 2 and a[0] == 1:
            n(a[1], 3, 64, what + " polygon vertices")

    def body(t, b):
        if not isinstance(b, dict):
            return
        if t == 1:
            area(b.get(4), "launch-area")
            n(b.get(5), 1, 16, "impact-areas")
            for a in b.get(5) if isinstance(b.get(5), list) else []:
                area(a, "impact-area")
        if t == 4:
            area(b.get(3), "launch-area")
            area(b.get(5), "impact-area")
        if t == 10:
            body(b.get(1), b.get(2))

    if rule == "envelope" and isinstance(value, dict):
        n(value.get(4), 1, 256, "recipients")
        n(value.get(7), 1, 16, "refs")
        body(value.get(6), value.get(8))
    if rule == "chain-header" and isinstance(value, dict):
        if isinstance(value.get(33), list):
            n(value.get(33), 2, 8, "x5chain")


def check_elements(rule: str, value) -> None:
    """(i) pycddl validates only the first element of an array whose elements are arrays: every
    element of those arrays is validated here on its own against its rule."""
    def each(arr, elem_rule, what):
        if not isinstance(arr, list):
            return
        for i, e in enumerate(arr):
            try:
                schema_for(elem_rule).validate_cbor(enc(e))
            except pycddl.ValidationError as err:
                raise SchemaError(f"{what}[{i}]: {str(err).strip()}")

    def body(t, b):
        if not isinstance(b, dict):
            return
        if t == 1:
            each(b.get(5), "area", "impact-areas")
        if t == 5:
            each(b.get(3), "launch-count", "launches")
        if t == 10:
            body(b.get(1), b.get(2))

    if rule == "envelope" and isinstance(value, dict):
        each(value.get(4), "recipient", "recipients")
        each(value.get(7), "reference", "refs")
        body(value.get(6), value.get(8))
    if rule == "chain-header" and isinstance(value, dict):
        each(value.get(33) if isinstance(value.get(33), list) else None, "certificate", "x5chain")
        chain = value.get(33)
        for i, e in enumerate(chain if isinstance(chain, list) else [chain]):
            if not isinstance(e, bytes):
                raise SchemaError(f"x5chain[{i}]: a {type(e).__name__}, not a byte string (j)")
    if rule == "message-batch" and isinstance(value, list):
        for i, e in enumerate(value):
            if not isinstance(e, bytes):
                raise SchemaError(f"message-batch[{i}]: a {type(e).__name__}, not a byte string (j)")


def check_lang(value) -> None:
    """(f) Language tags of the localised texts of an envelope are at most 35 characters."""
    if not isinstance(value, dict):
        return
    texts = [value.get(9)]

    def body(t, b):
        if not isinstance(b, dict):
            return
        if t in (5, 11):
            texts.append(b.get(2))
        if t == 10:
            body(b.get(1), b.get(2))

    body(value.get(6), value.get(8))
    for lt in texts:
        if isinstance(lt, list) and lt and isinstance(lt[0], str) and not 2 <= len(lt[0]) <= 35:
            raise SchemaError(f"language tag {lt[0]!r} is not 2..35 characters")


def check_closed(rule: str, value) -> None:
    """(d) The maps that pycddl does not close: `{}` bodies and headers."""
    if rule == "envelope" and isinstance(value, dict):
        if value.get(6) == 9 and value.get(8) != {}:
            raise SchemaError("acknowledgement body must be the empty map")
        b = value.get(8)
        if value.get(6) == 2 and isinstance(b, dict) and set(b) - {1, 2}:
            raise SchemaError(f"launch-window-extension body: unknown keys {sorted(set(b) - {1, 2})}")


def validate(rule: str, data: bytes):
    """Validates encoded bytes against a rule of parley.cddl; returns the decoded value."""
    value = strict_decode(data)
    if rule in ("parley-message", "parley-receipt"):
        try:
            schema_for(rule).validate_cbor(data)
        except pycddl.ValidationError as e:
            raise SchemaError(str(e).strip())
        protected, unprotected, payload, _sig = value.value
        if not isinstance(unprotected, dict) or set(unprotected) != {33}:
            raise SchemaError("the unprotected header must hold exactly 33 (x5chain)")
        check_counts("chain-header", unprotected)
        check_elements("chain-header", unprotected)
        inner = "envelope" if rule == "parley-message" else "receipt"
        header = "message-protected-header" if rule == "parley-message" else "receipt-protected-header"
        header_value = validate(header, protected)
        if header_value.get(-65537) != hashlib.sha256(enc(unprotected[33])).digest():
            raise SchemaError("x5chain-sha256 is not the SHA-256 of the x5chain value's encoding")
        validate(inner, payload)
        return value
    try:
        schema_for(rule).validate_cbor(data)
    except pycddl.ValidationError as e:
        raise SchemaError(str(e).strip())
    check_counts(rule, value)
    check_elements(rule, value)
    if rule == "envelope":
        check_positions(value)
        check_lang(value)
    check_closed(rule, value)
    return value


def enc(v) -> bytes:
    return cbor2.dumps(v, canonical=True)


# ---------------------------------------------------------------------------------------------
# 1. parse

def step_parse() -> None:
    try:
        pycddl.Schema(CDDL_TEXT)
        ok("parley.cddl parses")
    except Exception as e:  # noqa: BLE001
        fail(f"parley.cddl does not parse: {e}")
    try:
        for rule in ("envelope", "receipt", "parley-message", "parley-receipt"):
            schema_for(rule)
        ok("compatibility schema parses for every entry point")
    except Exception as e:  # noqa: BLE001
        fail(f"compatibility schema does not parse: {e}")


# ---------------------------------------------------------------------------------------------
# 2. self-test instances

T = lambda s: CBORTag(1, s)  # noqa: E731
MID = bytes(range(16))
MID2 = bytes(range(16, 32))


def envelope(**over):
    env = {1: 1, 2: MID, 3: "US-NRRC", 4: [["RU-NRRC", 1]], 5: T(1_795_500_000), 6: 11,
           8: {1: "Test", 2: ["en", "Hello"]}}
    for k, v in over.items():
        key = int(k[1:])
        if v is None:
            env.pop(key, None)
        else:
            env[key] = v
    return env


def receipt(**over):
    r = {1: 1, 2: MID, 3: bytes(32), 4: "RU-NRRC", 5: "US-NRRC", 6: T(1_795_500_003), 7: 0}
    for k, v in over.items():
        key = int(k[1:])
        if v is None:
            r.pop(key, None)
        else:
            r[key] = v
    return r


def cose(payload, ctype="application/parley-message+cbor", alg=-8, x5=b"\x30\x82", unprot=None, sig=64,
         extra_hdr=None, tag=18):
    hdr = {1: alg, 3: ctype, -65537: hashlib.sha256(enc(x5)).digest()}
    if extra_hdr:
        hdr.update(extra_hdr)
    return enc(CBORTag(tag, [enc(hdr), unprot if unprot is not None else {33: x5}, enc(payload), bytes(sig)]))


PRE_LAUNCH = {1: 1, 2: T(1_796_104_800), 3: T(1_796_119_200), 4: [2, [34_742_000, -120_572_400], 10_000],
              5: [[1, [[9_500_000, 167_000_000], [9_500_000, 168_000_000], [8_500_000, 168_000_000]]]],
              6: 24_750, 7: False}

GOOD = [
    ("envelope", "general-communication", enc(envelope())),
    ("envelope", "pre-launch", enc(envelope(k6=1, k8=PRE_LAUNCH))),
    ("envelope", "pre-launch with designator, remarks, refs", enc(envelope(
        k6=1, k8={**PRE_LAUNCH, 8: "GT-254"}, k9=["en-US", "x"], k7=[[MID2, 4], [MID2, 1]]))),
    ("envelope", "acknowledgement", enc(envelope(k6=9, k8={}, k7=[[MID2, 5]]))),
    ("envelope", "correction of a treaty-event", enc(envelope(k6=10, k8={1: 8, 2: {
        1: 2, 2: "ICBM launcher", 3: 2, 4: [-90_000_000, 180_000_000], 5: T(1_795_000_000)}}))),
    ("envelope", "export-denial", enc(envelope(k6=6, k8={1: "2B001.a", 2: "ZZ", 3: "X Ltd.", 4: 2,
                                                         5: CBORTag(1004, "2026-11-20")}))),
    ("envelope", "annual-declaration, no launches", enc(envelope(k6=5, k8={1: 2026, 2: ["fr", "P"], 3: []}))),
    ("envelope", "launch-window-extension without reason", enc(envelope(k6=2, k8={1: T(1_796_133_600)},
                                                                        k7=[[MID2, 3]]))),
    ("envelope", "256 recipients", enc(envelope(k4=[[f"P{i:03d}", i + 1] for i in range(256)]))),
    ("receipt", "accepted", enc(receipt())),
    ("receipt", "duplicate", enc(receipt(k7=1))),
    ("receipt", "rejected", enc(receipt(k7=2, k8=[11, "window-end is before window-start"]))),
    ("parley-message", "COSE message", cose(envelope())),
    ("parley-message", "COSE message, ES384, chain of 2", cose(envelope(), alg=-35, x5=[b"\x30", b"\x30"], sig=96)),
    ("parley-receipt", "COSE receipt", cose(receipt(), ctype="application/parley-receipt+cbor", alg=-7)),
    ("message-batch", "two messages", enc([cose(envelope()), cose(envelope(k6=1, k8=PRE_LAUNCH))])),
    ("message-batch", "64 elements", enc([b"\xd2"] * 64)),
    ("batch-answer", "receipt and problem", enc([cose(receipt(), ctype="application/parley-receipt+cbor"),
                                                {"status": 400, "type": "urn:parley:problem:malformed",
                                                 "detail": "not a COSE_Sign1 message", "parley-code": 1}])),
    ("batch-answer", "retry-after", enc([{"status": 503, "type": "urn:parley:problem:unavailable", "detail": "x",
                                          "retry-after": 30}])),
]

BAD = [
    ("envelope", "unknown envelope key 10", enc(envelope(k10=1))),
    ("envelope", "version 2", enc(envelope(k1=2))),
    ("envelope", "lowercase sender", enc(envelope(k3="us-nrrc"))),
    ("envelope", "sender with leading hyphen", enc(envelope(k3="-US"))),
    ("envelope", "15-byte id", enc(envelope(k2=bytes(15)))),
    ("envelope", "no recipients", enc(envelope(k4=[]))),
    ("envelope", "257 recipients", enc(envelope(k4=[[f"P{i:03d}", i + 1] for i in range(257)]))),
    ("envelope", "seq 0", enc(envelope(k4=[["RU-NRRC", 0]]))),
    ("envelope", "second recipient invalid", enc(envelope(k4=[["FR-MFA", 1], ["ru-nrrc", 1]]))),
    ("envelope", "second ref invalid", enc(envelope(k7=[[MID2, 4], [bytes(3), 4]]))),
    ("envelope", "second impact area invalid", enc(envelope(k6=1, k8={**PRE_LAUNCH, 5: PRE_LAUNCH[5] + [[2, [0, 0], 0]]}))),
    ("envelope", "second launch count invalid", enc(envelope(k6=5, k8={1: 2026, 2: ["fr", "P"], 3: [[1, 1], [3, 1]]}))),
    ("parley-message", "second certificate empty", cose(envelope(), x5=[b"\x30", b""])),
    ("envelope", "created untagged", enc(envelope(k5=1_795_500_000))),
    ("envelope", "created as tag 0 text", enc(envelope(k5=CBORTag(0, "2026-11-24T06:00:00Z")))),
    ("envelope", "unknown type 12", enc(envelope(k6=12))),
    ("envelope", "type and body mismatch", enc(envelope(k6=1))),
    ("envelope", "relation 6", enc(envelope(k7=[[MID2, 6]]))),
    ("envelope", "empty refs", enc(envelope(k7=[]))),
    ("envelope", "remarks with bad lang", enc(envelope(k9=["e", "x"]))),
    ("envelope", "remarks with empty text", enc(envelope(k9=["en", ""]))),
    ("envelope", "language tag of 36 characters", enc(envelope(k9=["en-" + "-".join(["abcdefgh"] * 4) + "x", "x"]))),
    ("envelope", "enumeration value out of range", enc(envelope(k6=3, k8={1: 5}, k7=[[MID2, 2]]))),
    ("envelope", "unknown body key", enc(envelope(k8={1: "Test", 2: ["en", "Hello"], 3: 1}))),
    ("envelope", "latitude out of range", enc(envelope(k6=8, k8={1: 2, 2: "x", 3: 1, 4: [90_000_001, 0],
                                                                 5: T(1)}))),
    ("envelope", "longitude out of range", enc(envelope(k6=8, k8={1: 2, 2: "x", 3: 1, 4: [0, -180_000_001],
                                                                  5: T(1)}))),
    ("envelope", "polygon of 2", enc(envelope(k6=1, k8={**PRE_LAUNCH, 5: [[1, [[0, 0], [1, 1]]]]}))),
    ("envelope", "azimuth 36000", enc(envelope(k6=1, k8={**PRE_LAUNCH, 6: 36_000}))),
    ("envelope", "polygon in impact-areas with a bad vertex", enc(envelope(k6=1, k8={**PRE_LAUNCH, 5: [[1, [[0, 0], [1, 1], [2, "x"]]]]}))),
    ("envelope", "radius 0", enc(envelope(k6=1, k8={**PRE_LAUNCH, 4: [2, [0, 0], 0]}))),
    ("envelope", "late as 0", enc(envelope(k6=1, k8={**PRE_LAUNCH, 7: 0}))),
    ("envelope", "non-empty acknowledgement body", enc(envelope(k6=9, k8={1: 1}, k7=[[MID2, 5]]))),
    ("envelope", "extension body with unknown key", enc(envelope(k6=2, k8={1: T(1), 3: 1}))),
    ("envelope", "correction of a correction", enc(envelope(k6=10, k8={1: 10, 2: {}}))),
    ("envelope", "correction type/body mismatch", enc(envelope(k6=10, k8={1: 1, 2: {1: "s", 2: ["en", "t"]}}))),
    ("envelope", "country lowercase", enc(envelope(k6=6, k8={1: "2B001", 2: "zz", 3: "X", 4: 2,
                                                             5: CBORTag(1004, "2026-11-20")}))),
    ("envelope", "item-category with space", enc(envelope(k6=6, k8={1: "2B 001", 2: "ZZ", 3: "X", 4: 2,
                                                                    5: CBORTag(1004, "2026-11-20")}))),
    ("envelope", "date untagged", enc(envelope(k6=7, k8={1: "2026-11-20"}))),
    ("envelope", "year 2200", enc(envelope(k6=5, k8={1: 2200, 2: ["fr", "P"], 3: []}))),
    ("envelope", "null remarks", enc(envelope(k9=None) | {9: None})),
    ("envelope", "non-shortest integer", bytes.fromhex("a1" "01" "1801")),
    ("envelope", "unsorted map keys", bytes.fromhex("a2" "02" "00" "01" "01")),
    ("envelope", "trailing bytes", enc(envelope()) + b"\x00"),
    ("envelope", "indefinite-length map", b"\xbf" + enc(envelope())[1:] + b"\xff"),
    ("receipt", "rejected without rejection", enc(receipt(k7=2))),
    ("receipt", "accepted with rejection", enc(receipt(k8=[1, "x"]))),
    ("receipt", "rejection code 16", enc(receipt(k7=2, k8=[16, "x"]))),
    ("receipt", "empty reason", enc(receipt(k7=2, k8=[1, ""]))),
    ("receipt", "digest of 31 bytes", enc(receipt(k3=bytes(31)))),
    ("receipt", "status 3", enc(receipt(k7=3))),
    ("message-batch", "empty", enc([])),
    ("message-batch", "65 elements", enc([b"\xd2"] * 65)),
    ("message-batch", "text element", enc(["message"])),
    ("message-batch", "empty element", enc([b""])),
    ("batch-answer", "empty", enc([])),
    ("batch-answer", "problem with status 200", enc([{"status": 200, "type": "urn:parley:problem:x", "detail": "x"}])),
    ("batch-answer", "problem without detail", enc([{"status": 400, "type": "urn:parley:problem:malformed"}])),
    ("batch-answer", "problem of another type", enc([{"status": 400, "type": "about:blank", "detail": "x"}])),
    ("batch-answer", "text item", enc(["receipt"])),
    ("parley-message", "untagged", enc([enc({1: -8}), {}, enc(envelope()), bytes(64)])),
    ("parley-message", "tag 17", cose(envelope(), tag=17)),
    ("parley-message", "kid in the unprotected header", cose(envelope(), unprot={4: b"k", 33: b"\x30\x82"})),
    ("parley-message", "empty unprotected header", cose(envelope(), unprot={})),
    ("parley-message", "x5chain in the protected header", cose(envelope(), extra_hdr={33: b"\x30\x82"})),
    ("parley-message", "x5chain-sha256 of another chain", cose(envelope(), extra_hdr={-65537: bytes(32)})),
    ("parley-message", "certificate as a text string", cose(envelope(), x5="0" * 10)),
    ("parley-message", "x5chain-sha256 of 31 bytes", cose(envelope(), extra_hdr={-65537: bytes(31)})),
    ("parley-message", "crit label in protected header", cose(envelope(), extra_hdr={2: [1]})),
    ("parley-message", "alg -36", cose(envelope(), alg=-36)),
    ("parley-message", "x5chain array of one", cose(envelope(), x5=[b"\x30"])),
    ("parley-message", "x5chain of nine", cose(envelope(), x5=[b"\x30"] * 9)),
    ("parley-message", "DER-length signature", cose(envelope(), sig=70)),
    ("parley-message", "receipt content type on a message", cose(envelope(), ctype="application/parley-receipt+cbor")),
    ("parley-message", "invalid envelope inside", cose(envelope(k1=2))),
    ("parley-receipt", "message inside a receipt", cose(envelope(), ctype="application/parley-receipt+cbor")),
]


def step_selftest() -> None:
    for rule, name, data in GOOD:
        try:
            validate(rule, data)
            ok(f"valid {rule}: {name}")
        except (SchemaError, NotDeterministic) as e:
            fail(f"self-test: {rule} '{name}' should validate: {e}")
    for rule, name, data in BAD:
        try:
            validate(rule, data)
            fail(f"self-test: {rule} '{name}' should NOT validate")
        except (SchemaError, NotDeterministic) as e:
            ok(f"invalid {rule}: {name} ({str(e).splitlines()[0][:90]})")


# ---------------------------------------------------------------------------------------------
# 3. NOTIFICATIONS.md examples

def step_notifications() -> None:
    path = PROTOCOL / "NOTIFICATIONS.md"
    if not path.exists():
        fail("NOTIFICATIONS.md is missing")
        return
    try:
        import cbor_diag
    except ImportError:
        print("SKIP  NOTIFICATIONS.md examples: pip install cbor-diag to check them")
        return
    from parley_compose import compose, TYPES

    text = path.read_text(encoding="utf-8")
    pattern = re.compile(r"<!-- compose: sender=(\S+) seq=([^>]*?) -->\s*```json\n(.*?)```\s*```cbor-diag\n(.*?)```",
                         re.S)
    seen = set()
    for m in pattern.finditer(text):
        sender, seqs, js, diag = m.groups()
        seqmap = {k: int(v) for k, v in (s.split(":") for s in seqs.split())}
        doc = json.loads(js, parse_float=Decimal)
        name = doc.get("type")
        seen.add(name)
        try:
            from_diag = bytes(cbor_diag.diag2cbor(diag))
            from_json = enc(compose(doc, sender, seqmap))
        except Exception as e:  # noqa: BLE001
            fail(f"NOTIFICATIONS.md example {name}: {e}")
            continue
        if from_diag != from_json:
            fail(f"NOTIFICATIONS.md example {name}: JSON composes to {from_json.hex()} but the diagnostic "
                 f"notation is {from_diag.hex()}")
            continue
        try:
            validate("envelope", from_diag)
            ok(f"NOTIFICATIONS.md example {name}")
        except (SchemaError, NotDeterministic) as e:
            fail(f"NOTIFICATIONS.md example {name} does not validate: {e}")
    from parley_compose import microdegrees, ComposeError, position_
    for numeral, expected in [("48.8566", 48_856_600), ("2.3522", 2_352_200), ("-120.5724", -120_572_400),
                              ("12.3456785", 12_345_679), ("-12.3456785", -12_345_679), ("0.0000004999", 0),
                              ("-0.0000005", -1), ("1e-6", 1), ("90.0000004", 90_000_000)]:
        got = microdegrees(json.loads(numeral, parse_float=Decimal), "x")
        if got != expected:
            fail(f"composer: {numeral} degrees gave {got} microdegrees, expected {expected}")
    try:
        position_({"lat": json.loads("90.0000005", parse_float=Decimal), "lon": 0}, "p")
        fail("composer: latitude 90.0000005 should be out of range")
    except ComposeError:
        pass
    missing = set(TYPES) - seen
    if missing:
        fail(f"NOTIFICATIONS.md has no checked example for {sorted(missing)}")


# ---------------------------------------------------------------------------------------------
# 4. vectors

PREFIXES = [("message-batch-", "message-batch"), ("batch-answer-", "batch-answer"),
            ("parley-message-", "parley-message"), ("parley-receipt-", "parley-receipt"),
            ("signed-receipt-", "parley-receipt"), ("message-", "parley-message"),
            ("envelope-", "envelope"), ("receipt-", "receipt")]


def rule_for(name: str):
    for prefix, rule in PREFIXES:
        if name.startswith(prefix):
            return rule
    return None


def step_vectors() -> None:
    root = PROTOCOL / "vectors"
    if not root.is_dir():
        print("SKIP  Protocol/vectors/ does not exist")
        return
    files = sorted(root.rglob("*.cbor"))
    checked = 0
    for f in files:
        rel = f.relative_to(PROTOCOL)
        if {"negative", "invalid"} & set(p.lower() for p in rel.parts[:-1]):
            print(f"SKIP  {rel} (negative vector)")
            continue
        name = f.name
        expect_invalid = name.startswith("schema-invalid-")
        rule = rule_for(name[len("schema-invalid-"):] if expect_invalid else name)
        if rule is None:
            print(f"SKIP  {rel} (no rule for this file name)")
            continue
        data = f.read_bytes()
        checked += 1
        try:
            validate(rule, data)
            if expect_invalid:
                fail(f"{rel}: expected to fail {rule}, but it validates")
            else:
                ok(f"{rel} ({rule}, sha256 {hashlib.sha256(data).hexdigest()[:16]}…)")
        except (SchemaError, NotDeterministic) as e:
            if expect_invalid:
                ok(f"{rel} fails {rule} as expected")
            else:
                fail(f"{rel} ({rule}): {e}")
    print(f"vectors: {checked} checked of {len(files)} .cbor files")
    step_signed_vectors(root / "signed")


def step_signed_vectors(signed: Path) -> None:
    """The signed vectors that a verifier must find valid, or whose fault is in the signature,
    certificate or content rather than the structure, match parley-message / parley-receipt."""
    manifest = signed / "manifest.json"
    if not manifest.is_file():
        print("SKIP  Protocol/vectors/signed/manifest.json does not exist")
        return
    structural = {"malformed", "too-large"}
    checked = 0
    for entry in json.loads(manifest.read_text()):
        rel = f"vectors/signed/{entry['file']}"
        rule = "parley-receipt" if entry["kind"] == "receipt" else "parley-message"
        # A wrong signature length is `bad-signature` to a verifier, but the schema already
        # fixes the length; a changed x5chain no longer matches x5chain-sha256.
        schema_faults = ("tampered-x5chain", "tampered-signature-length")
        should_validate = entry["expect"] not in structural and not any(f in entry["file"] for f in schema_faults)
        try:
            validate(rule, (signed / entry["file"]).read_bytes())
            if should_validate:
                checked += 1
                ok(f"{rel} ({rule})")
            else:
                fail(f"{rel}: expected ({entry['expect']}) not to match {rule}, but it does")
        except (SchemaError, NotDeterministic) as e:
            if should_validate:
                fail(f"{rel} ({rule}): {e}")
            else:
                checked += 1
                ok(f"{rel} fails {rule} as expected: {str(e)[:120]}")
    print(f"signed vectors: {checked} checked")


def main() -> int:
    step_parse()
    step_selftest()
    step_notifications()
    step_vectors()
    total = len(GOOD) + len(BAD)
    if failures:
        print(f"check_cddl: {len(failures)} failure(s)")
        return 1
    print(f"check_cddl: ok (schema parsed, {total} self-test instances, examples and vectors checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
