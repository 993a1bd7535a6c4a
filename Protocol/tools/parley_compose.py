"""Reference implementation of the Parley v1 JSON/YAML composition format (NOTIFICATIONS.md §2).

Turns a composition document (already parsed from JSON or YAML into Python values; numbers that
carry fractions should be passed as decimal.Decimal, e.g. json.loads(..., parse_float=Decimal))
plus the sender and the per-recipient sequence numbers into an envelope (Python values ready
for cbor2, tags as cbor2.CBORTag). It is used by check_cddl.py to check that the JSON examples
of NOTIFICATIONS.md produce exactly the CBOR examples next to them. It does not sign.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from decimal import Decimal, ROUND_HALF_UP

from cbor2 import CBORTag


class ComposeError(ValueError):
    pass


TYPES = {
    "pre-launch": 1, "launch-window-extension": 2, "launch-cancellation": 3,
    "post-launch-report": 4, "annual-declaration": 5, "export-denial": 6,
    "export-denial-withdrawal": 7, "treaty-event": 8, "acknowledgement": 9,
    "correction": 10, "general-communication": 11,
}
RELATIONS = {"corrects": 1, "cancels": 2, "extends": 3, "responds-to": 4, "acknowledges": 5}
CLASS = {"ballistic-missile": 1, "space-launch-vehicle": 2}
EXT_REASON = {"weather": 1, "technical": 2, "range-safety": 3, "other": 4}
CANCEL_REASON = {"weather": 1, "technical": 2, "programmatic": 3, "other": 4}
OUTCOME = {"nominal": 1, "failure": 2, "partial": 3}
DENIAL_REASON = {"proliferation-concern": 1, "diversion-risk": 2, "end-use": 3, "end-user": 4, "other": 5}
EVENT_KIND = {"elimination": 1, "movement": 2, "inspection": 3, "exhibition": 4, "other": 5}

PID_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,63}\Z")
TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")
DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
MID_RE = re.compile(r"([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{12})\Z"
                    r"|([0-9A-Fa-f]{32})\Z")
LANG_RE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]+)*\Z")
CATEGORY_RE = re.compile(r"[A-Za-z0-9.-]{1,32}\Z")
COUNTRY_RE = re.compile(r"[A-Z]{2}\Z")


def _fields(obj, where, required, optional=()):
    if not isinstance(obj, dict):
        raise ComposeError(f"{where}: expected an object")
    unknown = set(obj) - set(required) - set(optional)
    if unknown:
        raise ComposeError(f"{where}: unknown field(s) {sorted(unknown)}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ComposeError(f"{where}: missing field(s) {missing}")


def time_(s, where):
    m = TIME_RE.match(s) if isinstance(s, str) else None
    if not m:
        raise ComposeError(f"{where}: expected a time YYYY-MM-DDTHH:MM:SSZ, got {s!r}")
    y, mo, d, h, mi, se = map(int, m.groups())
    try:
        _dt.datetime(y, mo, d, h, mi, se)
    except ValueError as e:
        raise ComposeError(f"{where}: {e}")
    t = calendar.timegm((y, mo, d, h, mi, se))
    if t < 0:
        raise ComposeError(f"{where}: times before 1970-01-01T00:00:00Z are not representable")
    return t


def date_(s, where):
    m = DATE_RE.match(s) if isinstance(s, str) else None
    if not m:
        raise ComposeError(f"{where}: expected a date YYYY-MM-DD, got {s!r}")
    try:
        _dt.date(*map(int, m.groups()))
    except ValueError as e:
        raise ComposeError(f"{where}: {e}")
    return CBORTag(1004, s)


def mid_(s, where):
    m = MID_RE.match(s) if isinstance(s, str) else None
    if not m:
        raise ComposeError(f"{where}: expected a message id of 32 hex digits (optionally 8-4-4-4-12), got {s!r}")
    return bytes.fromhex("".join(g for g in m.groups() if g))


def pid_(s, where):
    if not isinstance(s, str) or not PID_RE.match(s):
        raise ComposeError(f"{where}: invalid participant id {s!r}")
    return s


def enum_(s, table, where):
    if s not in table:
        raise ComposeError(f"{where}: expected one of {sorted(table)}, got {s!r}")
    return table[s]


def uint_(v, lo, hi, where):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ComposeError(f"{where}: expected an integer {lo}..{hi}, got {v!r}")
    return v


def text_(s, lo, hi, where):
    if not isinstance(s, str) or not lo <= len(s) <= hi:  # len() counts Unicode scalar values
        raise ComposeError(f"{where}: expected text of {lo}..{hi} characters")
    return s


def _decimal(v, where):
    if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
        raise ComposeError(f"{where}: expected a number, got {v!r}")
    return Decimal(v)


def microdegrees(v, where):
    """Exact decimal degrees -> microdegrees, rounding half away from zero."""
    d = _decimal(v, where) * 1_000_000
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))  # ROUND_HALF_UP is away from zero


def position_(p, where):
    _fields(p, where, ("lat", "lon"))
    lat, lon = microdegrees(p["lat"], where + ".lat"), microdegrees(p["lon"], where + ".lon")
    if not -90_000_000 <= lat <= 90_000_000:
        raise ComposeError(f"{where}.lat: out of range -90..90")
    if not -180_000_000 <= lon <= 180_000_000:
        raise ComposeError(f"{where}.lon: out of range -180..180")
    return [lat, lon]


def area_(a, where):
    if not isinstance(a, dict) or len(a) != 1 or not set(a) <= {"polygon", "circle"}:
        raise ComposeError(f"{where}: expected {{\"polygon\": [...]}} or {{\"circle\": {{...}}}}")
    if "polygon" in a:
        vs = a["polygon"]
        if not isinstance(vs, list) or not 3 <= len(vs) <= 64:
            raise ComposeError(f"{where}.polygon: expected 3..64 positions")
        pts = [position_(v, f"{where}.polygon[{i}]") for i, v in enumerate(vs)]
        if pts[-1] == pts[0]:
            raise ComposeError(f"{where}.polygon: the last vertex repeats the first")
        return [1, pts]
    c = a["circle"]
    _fields(c, where + ".circle", ("center", "radius-m"))
    return [2, position_(c["center"], where + ".circle.center"),
            uint_(c["radius-m"], 1, 2_000_000, where + ".circle.radius-m")]


def azimuth_(v, where):
    d = _decimal(v, where) * 100
    if d != d.to_integral_value():
        raise ComposeError(f"{where}: at most 2 decimals")
    n = int(d)
    if not 0 <= n <= 35_999:
        raise ComposeError(f"{where}: expected 0 <= azimuth < 360")
    return n


def ltext_(o, limit, where):
    _fields(o, where, ("lang", "text"))
    lang = o["lang"]
    if not isinstance(lang, str) or not LANG_RE.match(lang) or len(lang) > 35:
        raise ComposeError(f"{where}.lang: invalid language tag {lang!r}")
    return [lang, text_(o["text"], 1, limit, where + ".text")]


def body_(type_name, b, created, where, in_correction=False):
    T = TYPES[type_name]
    if T == 1:
        _fields(b, where, ("class", "window-start", "window-end", "launch-area", "impact-areas", "azimuth"),
                ("late", "designator"))
        start, end = time_(b["window-start"], where + ".window-start"), time_(b["window-end"], where + ".window-end")
        ias = b["impact-areas"]
        if not isinstance(ias, list) or not 1 <= len(ias) <= 16:
            raise ComposeError(f"{where}.impact-areas: expected 1..16 areas")
        if in_correction:
            if "late" not in b:
                raise ComposeError(f"{where}.late: required in a corrected body")
            late = b["late"]
        else:
            computed = start < created + 86_400
            late = b.get("late", computed)
            if late != computed:
                raise ComposeError(f"{where}.late: must be {str(computed).lower()} for this window and creation time")
        if not isinstance(late, bool):
            raise ComposeError(f"{where}.late: expected true or false")
        out = {1: enum_(b["class"], CLASS, where + ".class"), 2: CBORTag(1, start), 3: CBORTag(1, end),
               4: area_(b["launch-area"], where + ".launch-area"),
               5: [area_(a, f"{where}.impact-areas[{i}]") for i, a in enumerate(ias)],
               6: azimuth_(b["azimuth"], where + ".azimuth"), 7: late}
        if "designator" in b:
            out[8] = text_(b["designator"], 1, 64, where + ".designator")
        return out
    if T == 2:
        _fields(b, where, ("new-window-end",), ("reason",))
        out = {1: CBORTag(1, time_(b["new-window-end"], where + ".new-window-end"))}
        if "reason" in b:
            out[2] = enum_(b["reason"], EXT_REASON, where + ".reason")
        return out
    if T == 3:
        _fields(b, where, ("reason",))
        return {1: enum_(b["reason"], CANCEL_REASON, where + ".reason")}
    if T == 4:
        _fields(b, where, ("class", "launch-time", "launch-area", "outcome"), ("impact-area", "designator"))
        out = {1: enum_(b["class"], CLASS, where + ".class"), 2: CBORTag(1, time_(b["launch-time"], where + ".launch-time")),
               3: area_(b["launch-area"], where + ".launch-area"), 4: enum_(b["outcome"], OUTCOME, where + ".outcome")}
        if "impact-area" in b:
            out[5] = area_(b["impact-area"], where + ".impact-area")
        if "designator" in b:
            out[6] = text_(b["designator"], 1, 64, where + ".designator")
        return out
    if T == 5:
        _fields(b, where, ("year", "policy", "launches"))
        ls = b["launches"]
        if not isinstance(ls, list):
            raise ComposeError(f"{where}.launches: expected an array")
        entries = []
        for i, e in enumerate(ls):
            _fields(e, f"{where}.launches[{i}]", ("class", "count"))
            entries.append([enum_(e["class"], CLASS, f"{where}.launches[{i}].class"),
                            uint_(e["count"], 0, 100_000, f"{where}.launches[{i}].count")])
        entries.sort()
        if len({c for c, _ in entries}) != len(entries):
            raise ComposeError(f"{where}.launches: a class appears twice")
        return {1: uint_(b["year"], 2000, 2199, where + ".year"), 2: ltext_(b["policy"], 65_536, where + ".policy"),
                3: entries}
    if T == 6:
        _fields(b, where, ("item-category", "destination", "end-user", "reason", "denial-date"), ("national-reference",))
        cat = b["item-category"]
        if not isinstance(cat, str) or not CATEGORY_RE.match(cat):
            raise ComposeError(f"{where}.item-category: 1..32 of A-Z a-z 0-9 . -")
        dest = b["destination"]
        if not isinstance(dest, str) or not COUNTRY_RE.match(dest):
            raise ComposeError(f"{where}.destination: ISO 3166-1 alpha-2 code expected")
        out = {1: cat, 2: dest, 3: text_(b["end-user"], 1, 256, where + ".end-user"),
               4: enum_(b["reason"], DENIAL_REASON, where + ".reason"), 5: date_(b["denial-date"], where + ".denial-date")}
        if "national-reference" in b:
            out[6] = text_(b["national-reference"], 1, 64, where + ".national-reference")
        return out
    if T == 7:
        _fields(b, where, ("withdrawal-date",))
        return {1: date_(b["withdrawal-date"], where + ".withdrawal-date")}
    if T == 8:
        _fields(b, where, ("kind", "item-type", "quantity", "location", "event-time"), ("location-name", "destination"))
        out = {1: enum_(b["kind"], EVENT_KIND, where + ".kind"), 2: text_(b["item-type"], 1, 64, where + ".item-type"),
               3: uint_(b["quantity"], 1, 1_000_000, where + ".quantity"), 4: position_(b["location"], where + ".location"),
               5: CBORTag(1, time_(b["event-time"], where + ".event-time"))}
        if "location-name" in b:
            out[6] = text_(b["location-name"], 1, 128, where + ".location-name")
        if "destination" in b:
            out[7] = position_(b["destination"], where + ".destination")
        return out
    if T == 9:
        _fields(b, where, ())
        return {}
    if T == 10:
        _fields(b, where, ("corrected-type", "corrected-body"))
        ct = b["corrected-type"]
        if ct not in TYPES or TYPES[ct] in (9, 10):
            raise ComposeError(f"{where}.corrected-type: any type name except acknowledgement and correction")
        return {1: TYPES[ct], 2: body_(ct, b["corrected-body"], created, where + ".corrected-body", in_correction=True)}
    if T == 11:
        _fields(b, where, ("subject", "text"))
        return {1: text_(b["subject"], 1, 256, where + ".subject"), 2: ltext_(b["text"], 65_536, where + ".text")}
    raise AssertionError(T)


def compose(doc, sender, seqs, now=None, new_id=None):
    """doc: the composition document; sender: pid; seqs: {recipient pid: seq}.

    now (unix seconds) and new_id (16 bytes) stand in for the clock and the id generator when
    the document has no "created" / "id".
    """
    _fields(doc, "document", ("type", "recipients"), ("refs", "remarks", "body", "id", "created"))
    tname = doc["type"]
    if tname not in TYPES:
        raise ComposeError(f"type: unknown notification type {tname!r}")
    created = time_(doc["created"], "created") if "created" in doc else now
    mid = mid_(doc["id"], "id") if "id" in doc else new_id
    rs = doc["recipients"]
    if not isinstance(rs, list) or not 1 <= len(rs) <= 256:
        raise ComposeError("recipients: expected 1..256 participant ids")
    rs = [pid_(r, f"recipients[{i}]") for i, r in enumerate(rs)]
    if len(set(rs)) != len(rs):
        raise ComposeError("recipients: a participant appears twice")
    if sender in rs:
        raise ComposeError("recipients: the sender cannot be a recipient")
    env = {1: 1, 2: mid, 3: sender,
           4: [[r, seqs[r]] for r in sorted(rs, key=lambda s: s.encode())],
           5: CBORTag(1, created), 6: TYPES[tname]}
    if "refs" in doc:
        refs = doc["refs"]
        if not isinstance(refs, list) or not 1 <= len(refs) <= 16:
            raise ComposeError("refs: expected 1..16 references")
        out = []
        for i, r in enumerate(refs):
            _fields(r, f"refs[{i}]", ("id", "relation"))
            ref = [mid_(r["id"], f"refs[{i}].id"), enum_(r["relation"], RELATIONS, f"refs[{i}].relation")]
            if ref in out:
                raise ComposeError(f"refs[{i}]: duplicate reference")
            out.append(ref)
        env[7] = out
    env[8] = body_(tname, doc.get("body", {} if tname == "acknowledgement" else None), created, "body")
    if "remarks" in doc:
        env[9] = ltext_(doc["remarks"], 4096, "remarks")
    return env
