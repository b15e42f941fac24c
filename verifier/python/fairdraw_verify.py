#!/usr/bin/env python3
"""fairdraw_verify.py — an independent verifier of Fairdraw bundles.

Second, independent implementation of the checks V1–V11 of docs/PROTOCOL.md (the first one is the
Rust `fairdraw-verify`). Standard library only, Python >= 3.9: SHA-256 from hashlib, and its own
ChaCha20 (RFC 8439 block function), Ed25519 verification (RFC 8032), canonical JSON (RFC 8785,
restricted to the protocol's subset), Merkle trees (RFC 6962) and a minimal TOML reader (used when
tomllib, Python >= 3.11, is absent).

Usage:  python3 fairdraw_verify.py DIR [--json]
Exit:   0 verified, 1 a discrepancy (the first one is named), 2 unusable input.
"""

import hashlib
import json
import os
import re
import struct
import sys

UNPLACED = -1
COORD_LIMIT = (1 << 30) - 1  # |x|, |y| of schools.csv and applicants.csv (PROTOCOL.md §9.1 D4)
FORMAT = "fairdraw-bundle/1"
PROTOCOL = "fairdraw/v1"
CEREMONY_FILES = ["checkpoint.json", "commitments.json", "reveals.json", "beacon.json"]
RESULT_FILES = ["results.csv", "waitlists.csv", "classes.csv", "class_teachers.csv", "quota.csv"]
INPUT_FILES = ["policy.toml", "schools.csv", "teachers.csv"]

SCHOOLS_HEADER = "school_id,name,kind,capacity,reserved,points_seats,classes,x,y,graduates"
TEACHERS_HEADER = "teacher_id,school_id"
APPLICANTS_HEADER = ("application_id,track,gender,groups,choices,categories,indicators,family,"
                     "priority,manual,x,y,private_hash")
RESULTS_HEADER = ("application_id,school_id,lottery_number,ticket,stage,detail,category,points,"
                  "points_parts,class")
WAITLISTS_HEADER = "stage,school_id,position,application_id"
CLASSES_HEADER = "school_id,class,application_id"
CLASS_TEACHERS_HEADER = "school_id,class,teacher_id"
QUOTA_HEADER = "high_school_id,school_id,graduates,seats"


class Unusable(Exception):
    """The bundle cannot be checked at all (exit 2)."""


# ---------------------------------------------------------------------------------------------
# §2 Hashing: H(tag, fields…) = SHA-256 of length-prefixed (u32 big-endian) tag and fields.
# ---------------------------------------------------------------------------------------------

_LEN = [n.to_bytes(4, "big") for n in range(4096)]


def u32be(n):
    return _LEN[n] if n < 4096 else n.to_bytes(4, "big")


def encode_fields(tag, fields):
    t = tag.encode()
    return b"".join([u32be(len(t)), t] + [u32be(len(f)) + f for f in fields])


def hash_fields(tag, fields):
    return hashlib.sha256(encode_fields(tag, fields)).digest()


def u64be(v):
    return v.to_bytes(8, "big")


class Domain:
    def __init__(self, name):
        if name not in ("real", "rehearsal"):
            raise ValueError(name)
        self.name = name
        self.prefix = "fairdraw/v1/" if name == "real" else "fairdraw/v1/rehearsal/"

    def tag(self, name):
        return self.prefix + name


def is_lower_hex(s, nbytes=None):
    if not isinstance(s, str) or len(s) % 2 or not re.fullmatch(r"[0-9a-f]*", s):
        return False
    return nbytes is None or len(s) == 2 * nbytes


# ---------------------------------------------------------------------------------------------
# ChaCha20 (RFC 8439 §2.3 block function), key = 32-byte purpose key, nonce 0, counter from 0.
# ---------------------------------------------------------------------------------------------

def _double_rounds(qr):
    """ChaCha20's 20 rounds (RFC 8439 §2.3): 10 × (4 column + 4 diagonal quarter rounds)."""
    for _ in range(10):
        qr(0, 4, 8, 12)
        qr(1, 5, 9, 13)
        qr(2, 6, 10, 14)
        qr(3, 7, 11, 15)
        qr(0, 5, 10, 15)
        qr(1, 6, 11, 12)
        qr(2, 7, 8, 13)
        qr(3, 4, 9, 14)


def _chacha_block(key_words, counter):
    M = 0xFFFFFFFF
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + key_words + [
        counter & M, (counter >> 32) & M, 0, 0]
    x = list(s)

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & M
        v = x[d] ^ x[a]
        x[d] = ((v << 16) | (v >> 16)) & M
        x[c] = (x[c] + x[d]) & M
        v = x[b] ^ x[c]
        x[b] = ((v << 12) | (v >> 20)) & M
        x[a] = (x[a] + x[b]) & M
        v = x[d] ^ x[a]
        x[d] = ((v << 8) | (v >> 24)) & M
        x[c] = (x[c] + x[d]) & M
        v = x[b] ^ x[c]
        x[b] = ((v << 7) | (v >> 25)) & M

    _double_rounds(qr)
    return struct.pack("<16I", *[(x[i] + s[i]) & M for i in range(16)])


def _chacha_blocks(key_words, counter, lanes):
    """`lanes` consecutive ChaCha20 blocks from block `counter`, as 8·lanes u64 words. The same
    block function as `_chacha_block`, computed for all blocks at once: each state word is one big
    integer holding the blocks in 64-bit lanes (32 value bits, 32 guard bits that absorb carries
    and rotation spill, cleared by the mask after every step)."""
    M = 0xFFFFFFFF
    rep = int.from_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00" * lanes, "little")
    mask = M * rep
    ctr = [counter + k for k in range(lanes)]
    lo = int.from_bytes(struct.pack("<%dQ" % lanes, *[c & M for c in ctr]), "little")
    hi = int.from_bytes(struct.pack("<%dQ" % lanes, *[(c >> 32) & M for c in ctr]), "little")
    s = [w * rep for w in [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + key_words] + \
        [lo, hi, 0, 0]
    x = list(s)

    def qr(a, b, c, d):
        xa, xb, xc, xd = x[a], x[b], x[c], x[d]
        xa = (xa + xb) & mask
        v = xd ^ xa
        xd = ((v << 16) | (v >> 16)) & mask
        xc = (xc + xd) & mask
        v = xb ^ xc
        xb = ((v << 12) | (v >> 20)) & mask
        xa = (xa + xb) & mask
        v = xd ^ xa
        xd = ((v << 8) | (v >> 24)) & mask
        xc = (xc + xd) & mask
        v = xb ^ xc
        xb = ((v << 7) | (v >> 25)) & mask
        x[a], x[b], x[c], x[d] = xa, xb, xc, xd

    _double_rounds(qr)
    out = [0] * (8 * lanes)
    fmt = "<%dQ" % lanes
    for j in range(8):
        w = ((x[2 * j] + s[2 * j]) & mask) | (((x[2 * j + 1] + s[2 * j + 1]) & mask) << 32)
        out[j::8] = struct.unpack(fmt, w.to_bytes(8 * lanes, "little"))
    return out


class Stream:
    """A protocol stream: ChaCha20 keystream read as little-endian u64 words (PROTOCOL.md §5.1)."""

    def __init__(self, key):
        assert len(key) == 32
        self.key_words = list(struct.unpack("<8I", key))
        self.counter = 0  # next block to compute
        self.words = []
        self.pos = 0
        self.batch = 1

    def next_u64(self):
        if self.pos >= len(self.words):
            self.words = _chacha_blocks(self.key_words, self.counter, self.batch)
            self.counter += self.batch
            self.batch = min(2 * self.batch, 256)
            self.pos = 0
        v = self.words[self.pos]
        self.pos += 1
        return v

    def words_used(self):
        return self.counter * 8 - len(self.words) + self.pos

    def below(self, m):
        assert m > 0
        rem = ((1 << 64) - m) % m
        limit = ((1 << 64) - rem) & ((1 << 64) - 1)
        while True:
            x = self.next_u64()
            if rem == 0 or x < limit:
                return x % m

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]

    def permutation(self, n):
        p = list(range(n))
        self.shuffle(p)
        return p


# ---------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032 §5.1.7, strict: canonical encodings, S < L, no small-order A/R).
# ---------------------------------------------------------------------------------------------

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _padd(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * 2 * _D * t2 % _P
    d = z1 * 2 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _pmul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _padd(q, p)
        p = _padd(p, p)
        s >>= 1
    return q


def _peq(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(b):
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % _P)
_IDENTITY = (0, 1, 1, 0)


def ed25519_verify(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None:
        return False
    if _peq(_pmul(8, a), _IDENTITY) or _peq(_pmul(8, r), _IDENTITY):
        return False  # small-order key or R (ed25519-dalek verify_strict refuses these too)
    s = int.from_bytes(sig[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % _L
    return _peq(_pmul(s, _G), _padd(r, _pmul(h, a)))


# ---------------------------------------------------------------------------------------------
# Canonical JSON (RFC 8785) for the protocol subset: ASCII keys, strings, integers 0 <= n < 2^53,
# booleans, arrays, objects. No floats, no null.
# ---------------------------------------------------------------------------------------------

class JcsError(Exception):
    pass


class JsonFloat(str):
    """A JSON number with a fraction or exponent: parsed, but outside the signed subset."""


def _no_const(s):
    raise JcsError("not allowed: " + s)


def parse_json(b, name):
    try:
        return json.loads(b.decode("utf-8"), parse_float=JsonFloat, parse_constant=_no_const)
    except JcsError as e:
        raise Unusable("%s: cannot be read: %s" % (name, e))
    except (ValueError, UnicodeDecodeError) as e:
        raise Unusable("%s: cannot be read: %s" % (name, e))


def check_subset(v, path="$"):
    if v is None:
        raise JcsError(path + ": null is not allowed")
    if isinstance(v, JsonFloat):
        raise JcsError(path + ": only integers 0 <= n < 2^53 are allowed")
    if isinstance(v, bool) or isinstance(v, str):
        return
    if isinstance(v, int):
        if not 0 <= v < (1 << 53):
            raise JcsError(path + ": only integers 0 <= n < 2^53 are allowed")
        return
    if isinstance(v, list):
        for i, x in enumerate(v):
            check_subset(x, "%s[%d]" % (path, i))
        return
    if isinstance(v, dict):
        for k, x in v.items():
            if not k.isascii():
                raise JcsError(path + ": keys must be ASCII")
            check_subset(x, path + "." + k)
        return
    raise JcsError(path + ": type not allowed")


def jcs(v):
    check_subset(v)
    # With ASCII keys, sorting by code point equals RFC 8785's UTF-16 order; Python's escaping of
    # strings (\b \f \n \r \t \" \\, other controls as lowercase \u00xx, the rest verbatim with
    # ensure_ascii=False) equals ECMAScript JSON.stringify's, which RFC 8785 prescribes.
    try:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode("utf-8")
    except UnicodeEncodeError:
        raise JcsError("a string holds a lone surrogate")


def jcs_or_none(v):
    try:
        return jcs(v)
    except JcsError:
        return None


# ---------------------------------------------------------------------------------------------
# Merkle tree (RFC 6962 / 9162).
# ---------------------------------------------------------------------------------------------

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def merkle_root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = leaves
    sha = hashlib.sha256
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[k] + level[k + 1]).digest() for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# ---------------------------------------------------------------------------------------------
# TOML (policy.toml): tomllib when available (Python >= 3.11), else a minimal reader for the subset
# policies use: comments, [table], [[array of tables]], key = string | integer | boolean | array |
# inline table, arrays spanning lines.
# ---------------------------------------------------------------------------------------------

class TomlError(Exception):
    pass


class _TomlReader:
    def __init__(self, text):
        self.s = text
        self.i = 0

    def err(self, msg):
        line = self.s.count("\n", 0, self.i) + 1
        raise TomlError("line %d: %s" % (line, msg))

    def skip_ws(self, newlines=False):
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    ch = self.s[self.i]
                    if (ch < " " and ch not in "\t\r") or ch == "\x7f":
                        self.err("control characters are not allowed in comments")
                    self.i += 1
            else:
                break

    def key(self):
        self.skip_ws()
        if self.i < len(self.s) and self.s[self.i] == '"':
            return self.string()
        m = re.compile(r"[A-Za-z0-9_-]+").match(self.s, self.i)
        if not m:
            self.err("expected a key")
        self.i = m.end()
        return m.group(0)

    def dotted_key(self):
        parts = [self.key()]
        self.skip_ws()
        while self.i < len(self.s) and self.s[self.i] == ".":
            self.i += 1
            parts.append(self.key())
            self.skip_ws()
        return parts

    def string(self):
        if self.s.startswith('"""', self.i) or self.s.startswith("'", self.i):
            self.err("only basic one-line strings are supported by the fallback reader")
        self.i += 1
        out = []
        esc = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
        while True:
            if self.i >= len(self.s) or self.s[self.i] == "\n":
                self.err("unterminated string")
            c = self.s[self.i]
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                e = self.s[self.i]
                self.i += 1
                if e in esc:
                    out.append(esc[e])
                elif e in "uU":
                    n = 4 if e == "u" else 8
                    out.append(chr(int(self.s[self.i:self.i + n], 16)))
                    self.i += n
                else:
                    self.err("bad escape")
            elif (c < " " and c != "\t") or c == "\x7f":
                self.err("control characters are not allowed in strings")
            else:
                out.append(c)

    def value(self):
        self.skip_ws()
        c = self.s[self.i:self.i + 1]
        if c == '"':
            return self.string()
        if c == "[":
            self.i += 1
            arr = []
            while True:
                self.skip_ws(True)
                if self.s[self.i:self.i + 1] == "]":
                    self.i += 1
                    return arr
                arr.append(self.value())
                self.skip_ws(True)
                if self.s[self.i:self.i + 1] == ",":
                    self.i += 1
                elif self.s[self.i:self.i + 1] != "]":
                    self.err("expected , or ]")
        if c == "{":
            self.i += 1
            tbl = {}
            self.skip_ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return tbl
            while True:
                path = self.dotted_key()
                if self.s[self.i:self.i + 1] != "=":
                    self.err("expected =")
                self.i += 1
                self._set(tbl, path, self.value())
                self.skip_ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "}":
                    return tbl
                if c != ",":
                    self.err("expected , or }")
        m = re.compile(r"true|false|[+-]?[0-9][0-9_]*").match(self.s, self.i)
        if not m:
            self.err("unsupported value")
        self.i = m.end()
        t = m.group(0)
        if t == "true":
            return True
        if t == "false":
            return False
        if self.s[self.i:self.i + 1] in (".", "e", "E", "-", ":"):
            self.err("floats and dates are not supported")
        digits = t.lstrip("+-").replace("_", "")
        if len(digits) > 1 and digits.startswith("0"):
            self.err("leading zeros are not allowed")
        return int(t.replace("_", ""))

    def _set(self, tbl, path, v):
        for k in path[:-1]:
            tbl = tbl.setdefault(k, {})
            if not isinstance(tbl, dict):
                self.err("key conflict")
        if path[-1] in tbl:
            self.err("duplicate key " + path[-1])
        tbl[path[-1]] = v

    def end_of_line(self):
        self.skip_ws()
        if self.i < len(self.s):
            if self.s[self.i] == "\r":
                self.i += 1
            if self.s[self.i:self.i + 1] != "\n":
                self.err("expected end of line")
            self.i += 1

    def document(self):
        root = {}
        cur = root
        while True:
            self.skip_ws(True)
            if self.i >= len(self.s):
                return root
            if self.s.startswith("[[", self.i):
                self.i += 2
                path = self.dotted_key()
                if not self.s.startswith("]]", self.i):
                    self.err("expected ]]")
                self.i += 2
                t = root
                for k in path[:-1]:
                    t = t.setdefault(k, {})
                arr = t.setdefault(path[-1], [])
                if not isinstance(arr, list):
                    self.err("key conflict")
                cur = {}
                arr.append(cur)
            elif self.s[self.i] == "[":
                self.i += 1
                path = self.dotted_key()
                if self.s[self.i:self.i + 1] != "]":
                    self.err("expected ]")
                self.i += 1
                t = root
                for k in path:
                    t = t.setdefault(k, {})
                    if isinstance(t, list):
                        t = t[-1]
                cur = t
            else:
                path = self.dotted_key()
                if self.s[self.i:self.i + 1] != "=":
                    self.err("expected =")
                self.i += 1
                self._set(cur, path, self.value())
            self.end_of_line()


def parse_toml(text):
    try:
        import tomllib  # Python >= 3.11
    except ImportError:
        return _TomlReader(text).document()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TomlError(str(e))


# ---------------------------------------------------------------------------------------------
# Policy (§6): the fields the draw reads, with the engine's defaults.
# ---------------------------------------------------------------------------------------------

def is_id(s):
    return 0 < len(s) <= 64 and re.fullmatch(r"[A-Za-z0-9._-]+", s) is not None


class Policy:
    pass


_POLICY_KEYS = {
    "": ({"protocol": str, "round": dict, "tracks": list, "groups": list, "categories": list,
          "points": list, "families": str, "family_overflow": bool, "manual_reasons": list,
          "stages": list, "classes": dict, "quota": dict}, {"protocol", "round", "tracks", "stages"}),
    "round": ({"id": str, "title": str, "grade": str, "mode": str, "draw_date": str,
               "max_choices": int, "birth_from": str, "birth_to": str},
              {"id", "title", "grade", "mode", "draw_date", "max_choices"}),
    "categories": ({"code": str, "label": str}, {"code", "label"}),
    "points": ({"name": str, "label": str, "weight": int, "cap": int, "threshold": int},
               {"name", "weight", "cap"}),
    "stages": ({"name": str, "mechanism": str, "schools": str, "tracks": list, "priority": str,
                "seats": str, "tie_breaking": str, "reserve_order": str, "choice_rounds": int,
                "fallback": str}, {"name", "mechanism", "schools", "tracks"}),
    "classes": ({"max_size": int, "balance": list, "families": str, "teachers": bool}, set()),
    "quota": ({"high_schools": list}, {"high_schools"}),
    "high_schools": ({"id": str, "name": str, "seats": int}, {"id", "name", "seats"}),
}


def check_policy_shape(d):
    """Unknown keys, missing keys and wrong types are refused (the engine parses strictly)."""
    def table(t, kind, where):
        if not isinstance(t, dict):
            raise Unusable("policy.toml: %s must be a table" % where)
        types, required = _POLICY_KEYS[kind]
        for k, v in t.items():
            if k not in types:
                raise Unusable("policy.toml: %s: unknown key %r" % (where, k))
            want = types[k]
            ok = isinstance(v, want) and not (want is int and isinstance(v, bool))
            if not ok:
                raise Unusable("policy.toml: %s.%s: wrong type" % (where, k))
            if want is int and not -(1 << 63) <= v < (1 << 63):
                raise Unusable("policy.toml: %s.%s: out of range" % (where, k))
        for k in required:
            if k not in t:
                raise Unusable("policy.toml: %s: missing key %r" % (where, k))
    table(d, "", "the policy")
    table(d["round"], "round", "round")
    for kind in ("categories", "points", "stages"):
        for k, t in enumerate(d.get(kind, [])):
            table(t, kind, "%s[%d]" % (kind, k))
    if "classes" in d:
        table(d["classes"], "classes", "classes")
    if "quota" in d:
        table(d["quota"], "quota", "quota")
        for k, t in enumerate(d["quota"]["high_schools"]):
            table(t, "high_schools", "quota.high_schools[%d]" % k)
    for key in ("tracks", "groups", "manual_reasons"):
        if not all(isinstance(x, str) for x in d.get(key, [])):
            raise Unusable("policy.toml: %s must be a list of strings" % key)
    if "classes" in d and not all(isinstance(x, str) for x in d["classes"].get("balance", [])):
        raise Unusable("policy.toml: classes.balance must be a list of strings")
    for k, st in enumerate(d["stages"]):
        if not all(isinstance(x, str) for x in st["tracks"]):
            raise Unusable("policy.toml: stages[%d].tracks must be a list of strings" % k)


def is_date(s):
    return len(s) == 10 and s[4] == "-" and s[7] == "-" and all(
        c.isdigit() and c.isascii() for k, c in enumerate(s) if k not in (4, 7))


def check_policy_rules(p):
    def names(field, xs):
        if any(not is_id(x) for x in xs) or len(set(xs)) != len(xs):
            raise Unusable("policy.toml: %s: invalid or repeated names" % field)
    if p.grade not in ("primary", "junior"):
        raise Unusable("policy.toml: round.grade must be primary or junior")
    if not is_date(p.draw_date):
        raise Unusable("policy.toml: round.draw_date must be YYYY-MM-DD")
    names("tracks", p.tracks)
    if not p.tracks:
        raise Unusable("policy.toml: tracks: at least one track is needed")
    names("groups", p.groups)
    names("categories", p.categories)
    if len(p.categories) > 99:
        raise Unusable("policy.toml: categories: at most 99 categories")
    names("points", [x[0] for x in p.points])
    for name, w, cap, thr in p.points:
        if w < 0 or cap < 0 or thr < 0 or cap > 1000000000:
            raise Unusable("policy.toml: points.%s: weight, cap or threshold out of range" % name)
    names("manual_reasons", p.manual_reasons)
    names("stages", [st["name"] for st in p.stages])
    for st in p.stages:
        if st["name"] == "manual":
            raise Unusable("policy.toml: stages.manual: \"manual\" is reserved for manual "
                           "placements in results.csv")
        if any(t not in p.tracks for t in st["tracks"]):
            raise Unusable("policy.toml: stages.%s.tracks: unknown track" % st["name"])
        if st["priority"] == "points" and not p.points:
            raise Unusable("policy.toml: stages.%s.priority: points priority needs [[points]]" % st["name"])
        if st["priority"] == "category" and not p.categories:
            raise Unusable("policy.toml: stages.%s.priority: category priority needs [[categories]]"
                           % st["name"])
        if st["choice_rounds"] is not None and not 1 <= st["choice_rounds"] < (1 << 32):
            raise Unusable("policy.toml: stages.%s.choice_rounds: must be at least 1" % st["name"])
    if p.classes is not None:
        balance = p.classes.get("balance", [])
        names("classes.balance", balance)
        if sum(1 for g in balance if g != "gender") > 32:
            raise Unusable("policy.toml: classes.balance: at most 32 groups besides gender can be "
                           "balanced")
        if any(g != "gender" and g not in p.groups for g in p.classes.get("balance", [])):
            raise Unusable("policy.toml: classes.balance: unknown group")
        if p.classes.get("families", "together") not in ("together", "apart", "ignore"):
            raise Unusable("policy.toml: classes.families must be together, apart or ignore")
        if p.classes.get("max_size") is not None and not 1 <= p.classes["max_size"] < (1 << 32):
            raise Unusable("policy.toml: classes.max_size must be at least 1")
    if p.quota is not None:
        names("quota.high_schools", [h["id"] for h in p.quota["high_schools"]])
        if any(h["seats"] < 0 for h in p.quota["high_schools"]):
            raise Unusable("policy.toml: quota seats must not be negative")


def parse_policy(b):
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable("policy.toml: not valid UTF-8")
    try:
        d = parse_toml(text)
    except TomlError as e:
        raise Unusable("policy.toml: %s" % e)
    p = Policy()
    try:
        check_policy_shape(d)
        if d["protocol"] != PROTOCOL:
            raise Unusable("policy.toml: protocol: unsupported %r" % d["protocol"])
        r = d["round"]
        p.round_id = r["id"]
        p.title = r["title"]
        p.grade = r["grade"]
        p.mode = r["mode"]
        p.draw_date = r["draw_date"]
        p.max_choices = r["max_choices"]
        if not is_id(p.round_id):
            raise Unusable("policy.toml: round.id is not a valid id")
        if p.mode not in ("real", "rehearsal"):
            raise Unusable("policy.toml: round.mode must be real or rehearsal")
        if not 1 <= p.max_choices <= 64:
            raise Unusable("policy.toml: round.max_choices must be 1..=64")
        p.tracks = list(d["tracks"])
        p.groups = list(d.get("groups", []))
        p.categories = [c["code"] for c in d.get("categories", [])]
        p.points = [(x["name"], int(x["weight"]), int(x["cap"]), int(x.get("threshold", 0)))
                    for x in d.get("points", [])]
        p.families = d.get("families", "joint")
        if p.families not in ("joint", "separate"):
            raise Unusable("policy.toml: families must be joint or separate")
        p.family_overflow = d.get("family_overflow", False)
        p.manual_reasons = list(d.get("manual_reasons", []))
        p.stages = []
        for st in d["stages"]:
            s = {
                "name": st["name"],
                "mechanism": st["mechanism"],
                "schools": st["schools"],
                "tracks": list(st["tracks"]),
                "priority": st.get("priority", "lottery"),
                "seats": st.get("seats", "general"),
                "tie_breaking": st.get("tie_breaking", "single"),
                "reserve_order": st.get("reserve_order", "reserved_first"),
                "choice_rounds": st.get("choice_rounds"),
                "fallback": st.get("fallback", "distance"),
            }
            allowed = {
                "mechanism": ("deferred_acceptance", "first_choice_first", "serial_dictatorship",
                              "reallocation"),
                "schools": ("public", "private", "any"),
                "priority": ("lottery", "category", "points"),
                "seats": ("general", "points", "all"),
                "tie_breaking": ("single", "per_school"),
                "reserve_order": ("reserved_first", "open_first"),
                "fallback": ("distance", "bureau_order", "none"),
            }
            for k, vals in allowed.items():
                if s[k] not in vals:
                    raise Unusable("policy.toml: stages.%s.%s: unknown value %r" % (s["name"], k, s[k]))
            p.stages.append(s)
        if not p.stages:
            raise Unusable("policy.toml: at least one stage is needed")
        p.classes = d.get("classes")
        p.quota = d.get("quota")
        check_policy_rules(p)
    except (KeyError, TypeError, ValueError) as e:
        raise Unusable("policy.toml: missing or invalid field: %s" % e)
    return p


# ---------------------------------------------------------------------------------------------
# Restricted CSV (§3): UTF-8, '\n' line ends, exact header, no quoting.
# ---------------------------------------------------------------------------------------------

def split_csv(name, b, header):
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable("%s: not valid UTF-8" % name)
    if not text.endswith("\n"):
        raise Unusable("%s: the file must end with a line break" % name)
    lines = text[:-1].split("\n")
    if lines[0] != header:
        raise Unusable("%s, line 1: header must be exactly %r" % (name, header))
    ncol = header.count(",") + 1
    rows = []
    for k, line in enumerate(lines[1:]):
        f = line.split(",")
        if len(f) != ncol or "\r" in line or '"' in line:
            raise Unusable("%s, line %d: expected %d fields without quotes or carriage returns"
                           % (name, k + 2, ncol))
        rows.append(f)
    return rows


_UINT = re.compile(r"0|[1-9][0-9]{0,17}")
_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def parse_uint(s, what):
    if not _UINT.fullmatch(s):
        raise Unusable(what + ": expected a whole number, found %r" % s)
    return int(s)


def parse_xy(x, y, what):
    if x == "" and y == "":
        return None
    if not _INT.fullmatch(x) or not _INT.fullmatch(y):
        raise Unusable(what + ": x and y must both be integers or both empty")
    px, py = int(x), int(y)
    if abs(px) > COORD_LIMIT or abs(py) > COORD_LIMIT:
        raise Unusable(what + ": coordinate out of range (at most ±%d metres)" % COORD_LIMIT)
    return (px, py)


def semis(s):
    return s.split(";") if s else []


class School:
    pass


def parse_schools(b):
    out = []
    for k, f in enumerate(split_csv("schools.csv", b, SCHOOLS_HEADER)):
        where = "schools.csv, line %d" % (k + 2)
        sc = School()
        sc.id = f[0]
        if not _ID.fullmatch(sc.id) or (out and out[-1].id.encode() >= sc.id.encode()):
            raise Unusable(where + ": school_id invalid, repeated or out of order")
        sc.name = f[1]
        if not sc.name or len(sc.name.encode()) > 200 or ";" in sc.name:
            raise Unusable(where + ", name: 1-200 characters without , \" ; or line breaks")
        if f[2] not in ("public", "private"):
            raise Unusable(where + ": kind must be public or private")
        sc.private = f[2] == "private"
        sc.capacity = parse_uint(f[3], where + ", capacity")
        if not 1 <= sc.capacity <= 1000000:
            raise Unusable(where + ": capacity out of range")
        sc.reserved = []
        for item in semis(f[4]):
            g, _, n = item.partition("=")
            if not is_id(g) or (sc.reserved and sc.reserved[-1][0] >= g):
                raise Unusable(where + ": reserved groups must be valid, sorted, not repeated")
            n = parse_uint(n, where + ", reserved")
            if n < 1:
                raise Unusable(where + ": reserved seats must be positive")
            sc.reserved.append((g, n))
        sc.points_seats = parse_uint(f[5], where + ", points_seats")
        if sc.points_seats + sum(n for _, n in sc.reserved) > sc.capacity:
            raise Unusable(where + ": reserved and points seats exceed the capacity")
        sc.classes = parse_uint(f[6], where + ", classes")
        sc.xy = parse_xy(f[7], f[8], where)
        sc.graduates = parse_uint(f[9], where + ", graduates")
        out.append(sc)
    return out


def parse_teachers(b, school_ix):
    out = []
    for k, f in enumerate(split_csv("teachers.csv", b, TEACHERS_HEADER)):
        if not _ID.fullmatch(f[0]) or (out and out[-1][0].encode() >= f[0].encode()):
            raise Unusable("teachers.csv, line %d: teacher_id invalid, repeated or out of order" % (k + 2))
        if f[1] not in school_ix:
            raise Unusable("teachers.csv, line %d: unknown school %r" % (k + 2, f[1]))
        out.append((f[0], f[1]))
    return out


class Applicants:
    """Column arrays of applicants.csv (index i = row i, rows sorted by application_id)."""


def parse_applicants(b, policy, schools, school_ix):
    rows = split_csv("applicants.csv", b, APPLICANTS_HEADER)
    n = len(rows)
    A = Applicants()
    A.id = [f[0] for f in rows]
    A.track = [f[1] for f in rows]
    A.gender = [f[2] for f in rows]
    A.groups = [f[3] for f in rows]
    A.choices = [None] * n
    A.cat = [None] * n  # dict school index -> category number, or None
    A.indicators = [None] * n  # dict name -> value
    A.family = [f[7] for f in rows]
    A.priority = [None] * n  # list of (school id, group)
    A.manual = [None] * n
    A.xy = [None] * n
    tracks = set(policy.tracks)
    groups = set(policy.groups)
    ncat = len(policy.categories)
    catnum = {str(k): k for k in range(1, ncat + 1)}
    point_names = set(x[0] for x in policy.points)
    reasons = set(policy.manual_reasons)
    prev = ""
    def bad(i, msg):
        raise Unusable("applicants.csv, line %d%s" % (i + 2, msg))

    for i, f in enumerate(rows):
        aid = f[0]
        if aid <= prev or not _ID.fullmatch(aid):  # ids are ASCII: str order = byte order
            bad(i, ": application_id invalid, repeated or out of order")
        prev = aid
        if f[1] not in tracks:
            bad(i, ": unknown track %r" % f[1])
        if f[2] != "F" and f[2] != "M":
            bad(i, ": gender must be F or M")
        if f[3]:
            gl = f[3].split(";")
            for k, g in enumerate(gl):
                if g not in groups or (k and gl[k - 1] >= g):
                    bad(i, ": groups unknown, unsorted or repeated")
        ch = []
        if f[4]:
            for c in f[4].split(";"):
                s = school_ix.get(c)
                if s is None or s in ch:
                    bad(i, ": choices: unknown or repeated school %r" % c)
                ch.append(s)
            if len(ch) > policy.max_choices:
                bad(i, ": more choices than the policy allows")
        A.choices[i] = ch
        if f[5]:
            cats = {}
            last = ""
            for item in f[5].split(";"):
                s, _, c = item.partition(":")
                si = school_ix.get(s)
                cn = catnum.get(c)
                if si is None or cn is None or (cats and s <= last):
                    bad(i, ": categories: invalid entry %r" % item)
                last = s
                cats[si] = cn
            A.cat[i] = cats
        if f[6]:
            ind = {}
            last = ""
            for item in f[6].split(";"):
                nm, _, v = item.partition("=")
                if nm not in point_names or not _UINT.fullmatch(v) or int(v) > 1000000 or (
                        ind and nm <= last):
                    bad(i, ": indicators: invalid entry %r" % item)
                last = nm
                ind[nm] = int(v)
            A.indicators[i] = ind
        if f[7] and not _ID.fullmatch(f[7]):
            bad(i, ": invalid family id")
        if f[8]:
            pr = []
            for item in f[8].split(";"):
                s, _, g = item.partition(":")
                si = school_ix.get(s)
                if si is None or not any(rg == g for rg, _ in schools[si].reserved) or (
                        pr and pr[-1] >= (s, g)):
                    bad(i, ": priority: invalid entry %r" % item)
                pr.append((s, g))
            A.priority[i] = pr
        if f[9]:
            s, sep, r = f[9].partition(":")
            if not sep or s not in school_ix or r not in reasons:
                bad(i, ": manual: invalid entry %r" % f[9])
            A.manual[i] = (school_ix[s], r)
        if f[10] or f[11]:
            A.xy[i] = parse_xy(f[10], f[11], "applicants.csv, line %d" % (i + 2))
        if not _HEX64.fullmatch(f[12]):
            bad(i, ": private_hash must be 64 lowercase hex digits")
    return A


# ---------------------------------------------------------------------------------------------
# The frozen round: input root (§3, §7).
# ---------------------------------------------------------------------------------------------

class Round:
    pass


def load_round(files):
    r = Round()
    r.policy_bytes = files["policy.toml"]
    r.policy = parse_policy(r.policy_bytes)
    r.domain = Domain(r.policy.mode)
    r.schools_bytes = files["schools.csv"]
    r.schools = parse_schools(r.schools_bytes)
    r.school_ix = {s.id: k for k, s in enumerate(r.schools)}
    r.teachers_bytes = files["teachers.csv"]
    r.teachers = parse_teachers(r.teachers_bytes, r.school_ix)
    r.applicants_bytes = files["applicants.csv"]
    r.A = parse_applicants(r.applicants_bytes, r.policy, r.schools, r.school_ix)
    r.n = len(r.A.id)
    r.m = len(r.schools)
    return r


def input_root(r):
    d = r.domain
    ftag = d.tag("leaf/file")
    leaves = [leaf_hash(encode_fields(ftag, [name.encode(), data])) for name, data in (
        ("policy.toml", r.policy_bytes), ("schools.csv", r.schools_bytes),
        ("teachers.csv", r.teachers_bytes))]
    t = d.tag("leaf/applicant").encode()
    pre = b"\x00" + u32be(len(t)) + t
    sha = hashlib.sha256
    lines = r.applicants_bytes[:-1].split(b"\n")[1:]
    lens = _LEN.__getitem__
    parts = [b""] * 26
    for line in lines:
        fs = line.split(b",")
        if len(fs) != 13 or max(map(len, fs)) >= 4096:
            leaves.append(sha(pre + b"".join([u32be(len(f)) + f for f in fs])).digest())
            continue
        parts[0::2] = map(lens, map(len, fs))
        parts[1::2] = fs
        leaves.append(sha(pre + b"".join(parts)).digest())
    return merkle_root(leaves), len(leaves)


# ---------------------------------------------------------------------------------------------
# The draw (§6): global lottery, points, manual placements, stages, waitlists, quota.
# ---------------------------------------------------------------------------------------------

def purpose_key(domain, seed, label):
    return hash_fields(domain.tag("purpose"), [seed, label.encode()])


def tickets_for(domain, key, names):
    t = domain.tag("ticket").encode()
    base = hashlib.sha256(u32be(len(t)) + t + u32be(32) + key)
    out = []
    for nm in names:
        b = nm.encode()
        h = base.copy()
        h.update(u32be(len(b)) + b)
        out.append(h.digest())
    return out


def rank_by_ticket(tickets):
    """1-based ranks by (ticket, position); Python's sort is stable, so ties keep position order."""
    order = sorted(range(len(tickets)), key=tickets.__getitem__)
    rank = [0] * len(tickets)
    for r, k in enumerate(order):
        rank[k] = r + 1
    return rank


class DrawError(Exception):
    pass


def fmt_milli(v):
    sign = "-" if v < 0 else ""
    a = abs(v)
    return "%s%d.%03d" % (sign, a // 1000, a % 1000)


I64 = (1 << 63) - 1


def da(start, school, key, capacity):
    """Student-proposing deferred acceptance; the student-optimal stable matching."""
    import heapq
    n = len(start) - 1
    held = [[] for _ in capacity]  # max-heaps as (-key, applicant)
    assignment = [UNPLACED] * n
    nxt = list(start[:n])
    for entering in range(n):
        i = entering
        while True:
            e = nxt[i]
            if e >= start[i + 1]:
                break
            nxt[i] = e + 1
            s = school[e]
            k = key[e]
            h = held[s]
            if len(h) < capacity[s]:
                heapq.heappush(h, (-k, i))
                assignment[i] = s
                break
            if h and -h[0][0] > k:
                _, released = heapq.heapreplace(h, (-k, i))
                assignment[i] = s
                assignment[released] = UNPLACED
                i = released
    return assignment


def fcf(start, school, key, capacity, phase, limit):
    """First choice first (immediate acceptance), rounds given by `phase` of each entry."""
    n = len(start) - 1
    remaining = list(capacity)
    assignment = [UNPLACED] * n
    cur = list(start[:n])
    active = [i for i in range(n) if start[i] < start[i + 1] and phase[start[i]] < limit]
    p = 0
    while active:
        applying = []
        for i in active:
            e = cur[i]
            if phase[e] == p:
                applying.append((school[e], key[e], i))
        applying.sort()
        for s, _, i in applying:
            if remaining[s] > 0:
                remaining[s] -= 1
                assignment[i] = s
        keep = []
        for i in active:
            if assignment[i] != UNPLACED:
                continue
            if phase[cur[i]] == p:
                cur[i] += 1
            if cur[i] < start[i + 1] and phase[cur[i]] < limit:
                keep.append(i)
        active = keep
        p += 1
    return assignment


def draw(r, seed):
    P = r.policy
    A = r.A
    n, m = r.n, r.m
    dom = r.domain
    schools = r.schools
    joint = P.families == "joint"
    names = ["family:" + A.family[i] if (A.family[i] and joint) else A.id[i] for i in range(n)]
    tickets = tickets_for(dom, purpose_key(dom, seed, "lottery"), names)
    numbers = rank_by_ticket(tickets)
    out = {
        "tickets": tickets, "numbers": numbers, "school": [UNPLACED] * n, "stage": [None] * n,
        "detail": [None] * n, "category": [0] * n, "points": [None] * n, "waitlists": [],
    }
    school_of = out["school"]
    detail = out["detail"]
    # Points (§6.3.3)
    if P.points:
        for i in range(n):
            ind = A.indicators[i]
            if not ind:
                continue
            total = 0
            parts = []
            eligible = True
            for name, w, cap, thr in P.points:
                v = ind.get(name, 0)
                raw = v * w
                if abs(raw) > I64:
                    raise DrawError("applicant %s: points overflow" % A.id[i])
                part = min(raw, cap) if w >= 0 else max(raw, -cap)
                total += part
                if abs(total) > I64:
                    raise DrawError("applicant %s: points overflow" % A.id[i])
                eligible = eligible and v >= thr
                parts.append(part)
            out["points"][i] = (total, parts, eligible)
    # Seat pools and manual placements (§6.2)
    general = [s.capacity - s.points_seats for s in schools]
    ppool = [s.points_seats for s in schools]
    for i in range(n):
        if A.manual[i] is None:
            continue
        s = A.manual[i][0]
        if general[s] > 0:
            general[s] -= 1
        elif ppool[s] > 0:
            ppool[s] -= 1
        else:
            raise DrawError("school %s: manual placements exceed its seats" % schools[s].id)
        school_of[i] = s
        detail[i] = ("manual", A.manual[i][1])
    took_part = [False] * n
    had_choice = [False] * n
    ncat = len(P.categories)
    for k, st in enumerate(P.stages):
        kind = st["schools"]
        in_stage = [kind == "any" or (kind == "private") == sc.private for sc in schools]
        tracks = set(st["tracks"])
        pts = out["points"]
        if st["priority"] == "points":
            participants = [i for i in range(n) if school_of[i] == UNPLACED and A.track[i] in tracks
                            and pts[i] is not None and pts[i][2]]
        else:
            participants = [i for i in range(n) if school_of[i] == UNPLACED and A.track[i] in tracks]
        for i in participants:
            took_part[i] = True
        pool = st["seats"]
        cap = [0] * m
        for s in range(m):
            if in_stage[s]:
                cap[s] = general[s] if pool == "general" else ppool[s] if pool == "points" else \
                    general[s] + ppool[s]
        if st["mechanism"] == "reallocation":
            assigned = run_reallocation(r, out, st, participants, cap, in_stage)
        else:
            assigned = run_stage(r, seed, out, k, st, participants, cap, in_stage, had_choice, ncat)
        for p, i in enumerate(participants):
            s, d = assigned[p]
            if s == UNPLACED:
                if d == "no_seat" and st["mechanism"] == "reallocation":
                    detail[i] = ("no_seat",)
                continue
            if pool == "general":
                general[s] -= 1
            elif pool == "points":
                ppool[s] -= 1
            elif general[s] > 0:
                general[s] -= 1
            else:
                ppool[s] -= 1
            school_of[i] = s
            out["stage"][i] = k
            detail[i] = d
            cats = A.cat[i]
            out["category"][i] = cats.get(s, 0) if cats else 0
        if P.family_overflow and st["mechanism"] != "reallocation":
            siblings_follow(r, out, k, participants, general, ppool)
    for i in range(n):
        if school_of[i] == UNPLACED and detail[i] is None:
            detail[i] = ("no_stage",) if not took_part[i] else ("no_choice",) if not had_choice[i] \
                else ("no_seat",)
    return out


def siblings_follow(r, out, k, participants, general, ppool):
    """Siblings follow (§6.3.8, policy `family_overflow`), after stage k's waitlists: a family
    member still unplaced who lists the school where another member was placed by this stage
    (detail other than `family`) is admitted there too — a general seat, else a points seat, else
    above capacity — and leaves this stage's waitlists of that school and of the schools it ranks
    below it."""
    A = r.A
    school_of, stage_of, detail = out["school"], out["stage"], out["detail"]
    fam = sorted((A.family[i], i) for i in participants if A.family[i])
    groups = []
    for f, i in fam:
        if groups and groups[-1][0] == f:
            groups[-1][1].append(i)
        else:
            groups.append((f, [i]))
    admitted = {}  # applicant -> school
    for _, members in groups:
        for i in members:
            if stage_of[i] != k or detail[i] == ("family",):
                continue
            s = school_of[i]
            for j in members:
                if school_of[j] != UNPLACED or s not in A.choices[j]:
                    continue
                if general[s] > 0:
                    general[s] -= 1
                elif ppool[s] > 0:
                    ppool[s] -= 1
                school_of[j] = s
                stage_of[j] = k
                detail[j] = ("family",)
                cats = A.cat[j]
                out["category"][j] = cats.get(s, 0) if cats else 0
                admitted[j] = s
    if not admitted:
        return
    kept = []
    for ws, wschool, lst in out["waitlists"]:
        if ws == k:
            lst = [j for j in lst if j not in admitted
                   or A.choices[j].index(wschool) < A.choices[j].index(admitted[j])]
            if not lst:
                continue
        kept.append((ws, wschool, lst))
    out["waitlists"] = kept


def priority_key(r, out, basis, i, s, rank, ncat):
    if basis == "lottery":
        return rank
    if basis == "category":
        cats = r.A.cat[i]
        c = cats.get(s, ncat + 1) if cats else ncat + 1
        return (c << 32) | rank
    pt = out["points"][i]
    total = pt[0] if pt else 0
    total = min(max(total, 0), 0xFFFFFFFF)
    return ((0xFFFFFFFF - total) << 32) | rank


def run_stage(r, seed, out, k, st, participants, cap, in_stage, had_choice, ncat):
    A = r.A
    m = r.m
    dom = r.domain
    start = [0]
    school = []
    owner = []  # entry -> participant position
    for p, i in enumerate(participants):
        for s in A.choices[i]:
            if in_stage[s]:
                school.append(s)
                owner.append(p)
        if len(school) > start[-1]:
            had_choice[i] = True
        start.append(len(school))
    nentries = len(school)
    numbers = out["numbers"]
    if st["tie_breaking"] == "single":
        rank = [numbers[participants[owner[e]]] for e in range(nentries)]
    else:
        rank = [0] * nentries
        by_school = [[] for _ in range(m)]
        for e in range(nentries):
            by_school[school[e]].append(e)
        for s in range(m):
            lst = by_school[s]
            if not lst:
                continue
            key = purpose_key(dom, seed, "lottery/school/" + r.schools[s].id)
            t = tickets_for(dom, key, [ticket_name(r, participants[owner[e]]) for e in lst])
            for rk, e in zip(rank_by_ticket(t), lst):
                rank[e] = rk
    basis = st["priority"]
    if basis == "lottery":
        key = rank
    elif basis == "category":
        worst = ncat + 1
        cat = A.cat
        key = []
        for e in range(nentries):
            cats = cat[participants[owner[e]]]
            key.append(((cats.get(school[e], worst) if cats else worst) << 32) | rank[e])
    else:
        key = [priority_key(r, out, basis, participants[owner[e]], school[e], rank[e], ncat)
               for e in range(nentries)]
    np_ = len(participants)
    det = [("open",)] * np_
    mech = st["mechanism"]
    if mech == "serial_dictatorship":
        def key_of(p):
            i = participants[p]
            return priority_key(r, out, basis, i, 0, numbers[i], ncat)
        order = sorted(range(np_), key=lambda p: (key_of(p), p))
        left = list(cap)
        assignment = [UNPLACED] * np_
        for p in order:
            for e in range(start[p], start[p + 1]):
                s = school[e]
                if left[s] > 0:
                    left[s] -= 1
                    assignment[p] = s
                    break
    else:
        has_reserves = any(in_stage[s] and r.schools[s].reserved for s in range(m)) and \
            st["seats"] != "points"
        if has_reserves:
            assignment, groups = run_with_reserves(r, seed, st, participants, start, school, key,
                                                   cap, in_stage)
            for p, g in enumerate(groups):
                if g is not None:
                    det[p] = ("reserved", g)
        elif mech == "deferred_acceptance":
            assignment = da(start, school, key, cap)
        else:
            limit = st["choice_rounds"] if st["choice_rounds"] is not None else float("inf")
            phase = [e - start[owner[e]] for e in range(nentries)]
            assignment = fcf(start, school, key, cap, phase, limit)
    # Waitlists (§6.3.5): applicants who ranked s above their placement, ascending key.
    rows = [[] for _ in range(m)]
    for p in range(np_):
        a = assignment[p]
        for e in range(start[p], start[p + 1]):
            s = school[e]
            if s == a:
                break
            rows[s].append((key[e], p))
    for s in range(m):
        if rows[s]:
            rows[s].sort()
            out["waitlists"].append((k, s, [participants[p] for _, p in rows[s]]))
    return [(assignment[p], det[p]) for p in range(np_)]


def ticket_name(r, i):
    f = r.A.family[i]
    return "family:" + f if (f and r.policy.families == "joint") else r.A.id[i]


def run_with_reserves(r, seed, st, participants, start, school, key, cap, in_stage):
    A = r.A
    m = r.m
    dom = r.domain
    reserves = []  # (school, group index, seats)
    for s in range(m):
        if not in_stage[s]:
            continue
        left = cap[s]
        for g, (_, nseats) in enumerate(r.schools[s].reserved):
            x = min(nseats, left)
            left -= x
            if x > 0:
                reserves.append((s, g, x))
    res_of = {}
    for j, (s, g, _) in enumerate(reserves):
        res_of.setdefault(s, []).append(j)
    nentries = len(school)
    entry_res = [None] * nentries  # reserve index j of the entry, or None
    members = [[] for _ in reserves]
    for p, i in enumerate(participants):
        pr = A.priority[i]
        if not pr:
            continue
        prs = set(pr)
        for e in range(start[p], start[p + 1]):
            s = school[e]
            sid = r.schools[s].id
            for j in res_of.get(s, []):
                if (sid, r.schools[s].reserved[reserves[j][1]][0]) in prs:
                    entry_res[e] = j
                    members[j].append((i, e))
                    break
    rkey = list(key)
    for j, lst in enumerate(members):
        if not lst:
            continue
        s, g, _ = reserves[j]
        sc = r.schools[s]
        pk = purpose_key(dom, seed, "lottery/reserve/%s/%s" % (sc.id, sc.reserved[g][0]))
        t = tickets_for(dom, pk, [ticket_name(r, i) for i, _ in lst])
        for rk, (_, e) in zip(rank_by_ticket(t), lst):
            rkey[e] = rk
    limit = 2 * st["choice_rounds"] if st["choice_rounds"] is not None else None
    school_of, reserved, _ = with_reserves(start, school, key, cap, reserves, entry_res, rkey,
                                           st["reserve_order"], st["mechanism"], limit)
    groups = []
    for p, slot_j in enumerate(reserved):
        if slot_j is None:
            groups.append(None)
        else:
            s, g, _ = reserves[slot_j]
            groups.append(r.schools[s].reserved[g][0])
    return school_of, groups


def with_reserves(start, school, key, cap, reserves, entry_res, rkey, order, mech, phase_limit):
    """Reserved seats (§6.6) in index form. reserves: [(school, group, seats)]; entry_res[e]: the
    reserve index of entry e or None; rkey: the reserve-lottery key per entry. Returns (school per
    applicant, reserve index it holds a reserved seat of or None, number of runs)."""
    m = len(cap)
    reserved_first = order == "reserved_first"
    capacity = list(cap)
    for s, g, x in reserves:
        capacity[s] -= x
    capacity += [x for _, _, x in reserves]
    x_start = [0]
    x_school = []
    x_key = []
    x_phase = []
    for p in range(len(start) - 1):
        first = start[p]
        for e in range(start[p], start[p + 1]):
            rnd = 2 * (e - first)
            s = school[e]
            j = entry_res[e]
            if j is None:
                x_school.append(s)
                x_key.append(key[e])
                x_phase.append(rnd + (1 if reserved_first else 0))
            elif reserved_first:
                x_school += [m + j, s]
                x_key += [rkey[e], key[e]]
                x_phase += [rnd, rnd + 1]
            else:
                x_school += [s, m + j]
                x_key += [key[e], rkey[e]]
                x_phase += [rnd, rnd + 1]
        x_start.append(len(x_school))
    limit = phase_limit if phase_limit is not None else float("inf")
    runs = 0
    while True:
        runs += 1
        if mech == "deferred_acceptance":
            sub = da(x_start, x_school, x_key, capacity)
        else:
            sub = fcf(x_start, x_school, x_key, capacity, x_phase, limit)
        filled = [0] * len(reserves)
        for t in sub:
            if t != UNPLACED and t >= m:
                filled[t - m] += 1
        returned = False
        for j, (s, _, _) in enumerate(reserves):
            unused = capacity[m + j] - filled[j]
            if unused > 0:
                capacity[m + j] = filled[j]
                capacity[s] += unused
                returned = True
        if not returned:
            break
    school_of = [t if (t == UNPLACED or t < m) else reserves[t - m][0] for t in sub]
    held = [t - m if (t != UNPLACED and t >= m) else None for t in sub]
    return school_of, held, runs


def run_reallocation(r, out, st, participants, cap, in_stage):
    A = r.A
    m = r.m
    numbers = out["numbers"]
    prefs = [[s for s in A.choices[i] if in_stage[s]] for i in participants]
    order = sorted(range(len(participants)), key=lambda p: numbers[participants[p]])
    coords = st["fallback"] == "distance" and all(sc.xy is not None for sc in r.schools)
    limit = (1 << 30) - 1
    if coords:
        for sc in r.schools:
            if abs(sc.xy[0]) > limit or abs(sc.xy[1]) > limit:
                raise DrawError("stage %s: school coordinate out of range" % st["name"])
        for i in participants:
            if A.xy[i] is not None and (abs(A.xy[i][0]) > limit or abs(A.xy[i][1]) > limit):
                raise DrawError("stage %s: applicant coordinate out of range" % st["name"])
    bureau = [] if st["fallback"] == "none" else [s for s in range(m) if in_stage[s]]
    app_xy = [A.xy[i] for i in participants] if coords else None
    sch_xy = [sc.xy for sc in r.schools] if coords else None
    placed = reallocate(prefs, cap, order, app_xy, sch_xy, bureau)
    names = {"Preference": "preference", "Distance": "distance", "BureauOrder": "bureau_order"}
    return [(s, (names[why],)) if s != UNPLACED else (UNPLACED, "no_seat") for s, why in placed]


def reallocate(prefs, spare, order, app_xy, sch_xy, bureau):
    """Reallocation (§6.9) in index form. Returns (school or UNPLACED, reason) per applicant."""
    m = len(spare)
    left = list(spare)
    open_set = set(s for s in range(m) if left[s] > 0)
    cursor = 0
    result = [(UNPLACED, "NoCapacity")] * len(prefs)
    for p in order:
        pick = None
        for s in prefs[p]:
            if left[s] > 0:
                pick = (s, "Preference")
                break
        if pick is None and app_xy is not None and app_xy[p] is not None:
            hx, hy = app_xy[p]
            best = None
            for s in open_set:
                sx, sy = sch_xy[s]
                c = ((hx - sx) ** 2 + (hy - sy) ** 2, s)
                if best is None or c < best:
                    best = c
            if best is not None:
                pick = (best[1], "Distance")
        if pick is None:
            while cursor < len(bureau) and left[bureau[cursor]] == 0:
                cursor += 1
            if cursor < len(bureau):
                pick = (bureau[cursor], "BureauOrder")
        if pick is not None:
            s = pick[0]
            left[s] -= 1
            if left[s] == 0:
                open_set.discard(s)
            result[p] = pick
    return result


def allocate_quota(r, seed):
    q = r.policy.quota
    if not q:
        return []
    cohorts = [s.graduates for s in r.schools]
    total = sum(cohorts)
    n = len(cohorts)
    out = []
    for hs in q["high_schools"]:
        if n == 0 or total == 0:
            raise DrawError("quota for %s: no schools or zero cohorts" % hs["id"])
        st = Stream(purpose_key(r.domain, seed, "quota/" + hs["id"]))
        out.append((hs["id"], hamilton(int(hs["seats"]), cohorts, st)))
    return out


def hamilton(seats, cohorts, stream):
    """Largest remainder, ties by the draw position in one stream permutation (§6.5)."""
    n = len(cohorts)
    total = sum(cohorts)
    perm = stream.permutation(n)
    drawpos = [0] * n
    for j, i in enumerate(perm):
        drawpos[i] = j
    alloc = [seats * c // total for c in cohorts]
    rem = [seats * c % total for c in cohorts]
    left = seats - sum(alloc)
    for i in sorted(range(n), key=lambda i: (-rem[i], drawpos[i]))[:left]:
        alloc[i] += 1
    return alloc


class ClassError(Exception):
    pass


def stratum_key(gender, groups):
    """Inverse Gray code of x = gender << 32 | reversed 32 group bits (classes §, stratum key)."""
    x = gender << 32
    for b in range(32):
        if groups >> b & 1:
            x |= 1 << (31 - b)
    key = x
    sh = x >> 1
    while sh:
        key ^= sh
        sh >>= 1
    return key


def assign_classes(students, fixed, max_size, rule, stream):
    """Sunshine class assignment, written from the specification text (steps 1–6).
    students: list of (gender 0/1, group bits, family value or None). Returns (k, class_of)."""
    n = len(students)
    if max_size == 0:
        raise ClassError("the class policy's class-size cap is zero")
    if fixed == 0:
        raise ClassError("the class policy fixes zero classes")
    k = fixed if fixed is not None else -(-n // max_size)
    if k * max_size < n:
        raise ClassError("%d students do not fit in %d classes of at most %d" % (n, k, max_size))
    families = []
    if rule != "ignore":
        by_value = {}
        for i, (_, _, f) in enumerate(students):
            if f is not None:
                by_value.setdefault(f, []).append(i)
        families = sorted((m for m in by_value.values() if len(m) >= 2), key=lambda m: m[0])
        largest = -(-n // k) if k else 0
        for fam in families:
            if rule == "together" and len(fam) > largest:
                raise ClassError("a family of %d must stay together, but no class holds more than %d"
                                 % (len(fam), largest))
            if rule == "apart" and len(fam) > k:
                raise ClassError("a family of %d must be split up, but there are only %d classes"
                                 % (len(fam), k))
    memo = {}
    key = []
    for g, gr, _ in students:
        kk = memo.get((g, gr))
        if kk is None:
            kk = memo[(g, gr)] = stratum_key(g, gr)
        key.append(kk)
    order = stream.permutation(n)
    order.sort(key=key.__getitem__)  # stable
    labels = stream.permutation(k)
    pos = [0] * n
    slot = [0] * n
    for p, i in enumerate(order):
        pos[i] = p
        slot[i] = p % k
    relaxed = [0]
    if families:
        free = [True] * n
        for fam in families:
            for i in fam:
                free[i] = False

        free_in = [[] for _ in range(k)]  # free students per slot
        for x in range(n):
            if free[x]:
                free_in[slot[x]].append(x)

        def partner(t, level, km):
            best = None
            for x in free_in[t]:
                if key[x] >> level == km >> level:
                    c = (abs(key[x] - km), key[x], pos[x], x)
                    if best is None or c < best:
                        best = c
            return None if best is None else best[3]

        def swap(mbr, x):
            if key[mbr] != key[x]:
                relaxed[0] += 1
            free_in[slot[x]].remove(x)
            free_in[slot[mbr]].append(x)
            slot[mbr], slot[x] = slot[x], slot[mbr]

        for fam in families:
            members = sorted(fam, key=pos.__getitem__)
            if rule == "together":
                counts = {}
                for mbr in members:
                    counts.setdefault(slot[mbr], []).append(pos[mbr])
                held = sorted(counts, key=lambda t: (-len(counts[t]), min(counts[t])))
                done = False
                for level in range(33):
                    cands = held + ([t for t in range(k) if t not in counts] if level == 0 else [])
                    for t in cands:
                        need = {}
                        for mbr in members:
                            if slot[mbr] != t:
                                g = key[mbr] >> level
                                need[g] = need.get(g, 0) + 1
                        have = {}
                        for x in free_in[t]:
                            if True:
                                g = key[x] >> level
                                have[g] = have.get(g, 0) + 1
                        if all(have.get(g, 0) >= c for g, c in need.items()):
                            for mbr in members:
                                if slot[mbr] != t:
                                    swap(mbr, partner(t, level, key[mbr]))
                            done = True
                            break
                    if done:
                        break
                if not done:
                    raise ClassError("a family cannot be placed in one class without unbalancing "
                                     "gender or group counts")
            else:
                used = set()
                for mbr in members:
                    s = slot[mbr]
                    if s not in used:
                        used.add(s)
                        continue
                    found = None
                    for level in range(33):
                        for t in list(range(s + 1, k)) + list(range(0, s)):
                            if t in used:
                                continue
                            x = partner(t, level, key[mbr])
                            if x is not None:
                                found = (t, x)
                                break
                        if found:
                            break
                    if found is None:
                        raise ClassError("a family member cannot be separated from a sibling")
                    swap(mbr, found[1])
                    used.add(found[0])
    return k, [labels[slot[i]] for i in range(n)], relaxed[0]


def draw_teachers(k, m, stream):
    if m < k:
        raise ClassError("%d homeroom teachers cannot cover %d classes" % (m, k))
    return stream.permutation(m)[:k]


def classes_and_teachers(r, seed, out):
    """Class assignment and homeroom-teacher draw for every school (draw order: after the stages)."""
    n, m = r.n, r.m
    cls = [None] * n
    teachers = [[] for _ in range(m)]
    cp = r.policy.classes
    if not cp:
        return cls, teachers
    default_cap = 45 if r.policy.grade == "primary" else 50
    cap = cp.get("max_size") or default_cap
    balance = [g for g in cp.get("balance", []) if g != "gender"]
    rule = cp.get("families", "together")
    if rule not in ("together", "apart", "ignore"):
        rule = "together"
    admitted = [[] for _ in range(m)]
    for i in range(n):
        if out["school"][i] != UNPLACED:
            admitted[out["school"][i]].append(i)
    # Each school's staff in file order, grouped once (not one scan of every teacher per school).
    staff_of = {}
    for t, ts in r.teachers:
        staff_of.setdefault(ts, []).append(t)
    A = r.A
    for s, lst in enumerate(admitted):
        if not lst:
            continue
        sc = r.schools[s]
        students = []
        for i in lst:
            gs = set(semis(A.groups[i]))
            bits = 0
            for b, g in enumerate(balance):
                if g in gs:
                    bits |= 1 << b
            students.append((1 if A.gender[i] == "M" else 0, bits, A.family[i] or None))
        st = Stream(purpose_key(r.domain, seed, "classes/" + sc.id))
        try:
            k, class_of, _ = assign_classes(students, sc.classes or None, cap, rule, st)
        except ClassError as e:
            raise DrawError("school %s: class assignment: %s" % (sc.id, e))
        for i, c in zip(lst, class_of):
            cls[i] = c
        if cp.get("teachers"):
            staff = staff_of.get(sc.id, [])
            st = Stream(purpose_key(r.domain, seed, "teachers/" + sc.id))
            try:
                pick = draw_teachers(k, len(staff), st)
            except ClassError as e:
                raise DrawError("school %s: class assignment: %s" % (sc.id, e))
            teachers[s] = [staff[t] for t in pick]
    return cls, teachers


def render(r, out):
    """The five result files, byte for byte (§7)."""
    published_class = ["" if c is None else str(c + 1) for c in out["class"]]
    A = r.A
    schools = r.schools
    stages = r.policy.stages
    lines = [RESULTS_HEADER]
    pnames = [x[0] for x in r.policy.points]
    for i in range(r.n):
        s = out["school"][i]
        d = out["detail"][i]
        sid = "" if s == UNPLACED else schools[s].id
        if d[0] == "manual":
            stage = "manual"
            dtxt = "manual:" + d[1]
        else:
            stage = stages[out["stage"][i]]["name"] if out["stage"][i] is not None else ""
            dtxt = "reserved:" + d[1] if d[0] == "reserved" else d[0]
        cat = str(out["category"][i]) if out["category"][i] else ""
        pt = out["points"][i]
        if pt:
            pts = fmt_milli(pt[0])
            parts = ";".join("%s=%s" % (nm, fmt_milli(v)) for nm, v in zip(pnames, pt[1]))
        else:
            pts = parts = ""
        lines.append(",".join([A.id[i], sid, str(out["numbers"][i]), out["tickets"][i].hex(), stage,
                               dtxt, cat, pts, parts, published_class[i]]))
    results = "\n".join(lines) + "\n"
    wl = [WAITLISTS_HEADER]
    for k, s, lst in out["waitlists"]:
        sname = stages[k]["name"]
        sid = schools[s].id
        for pos, i in enumerate(lst):
            wl.append("%s,%s,%d,%s" % (sname, sid, pos + 1, A.id[i]))
    waitlists = "\n".join(wl) + "\n"
    per_school = [[] for _ in schools]
    for i in range(r.n):
        s = out["school"][i]
        if s != UNPLACED and published_class[i]:
            c = int(published_class[i]) if _UINT.fullmatch(published_class[i]) else 0
            per_school[s].append((c, i))
    cl = [CLASSES_HEADER]
    for s, lst in enumerate(per_school):
        lst.sort()
        for c, i in lst:
            cl.append("%s,%d,%s" % (schools[s].id, c, A.id[i]))
    classes = "\n".join(cl) + "\n"
    qt = [QUOTA_HEADER]
    for hid, alloc in out["quota"]:
        for s, seats in enumerate(alloc):
            if schools[s].graduates > 0:
                qt.append("%s,%s,%d,%d" % (hid, schools[s].id, schools[s].graduates, seats))
    quota = "\n".join(qt) + "\n"
    ct = [CLASS_TEACHERS_HEADER]
    for s, lst in enumerate(out["class_teachers"]):
        for c, t in enumerate(lst):
            ct.append("%s,%d,%s" % (schools[s].id, c + 1, t))
    class_teachers = "\n".join(ct) + "\n"
    return {"results.csv": results, "waitlists.csv": waitlists, "classes.csv": classes,
            "class_teachers.csv": class_teachers, "quota.csv": quota}


def q(text):
    return json.dumps(text, ensure_ascii=False)


def first_line_difference(name, expected, found):
    if expected == found:
        return None
    el = expected.split("\n")
    fl = found.split("\n")
    header = el[0].split(",")
    for k in range(max(len(el), len(fl))):
        line = k + 1
        a = el[k] if k < len(el) else None
        b = fl[k] if k < len(fl) else None
        if a == b:
            continue
        if a is None:
            return "%s, line %d: unexpected line %s" % (name, line, q(b))
        if b is None:
            return "%s, line %d: expected %s, the file ends" % (name, line, q(a))
        ea = a.split(",")
        fb = b.split(",")
        record = " (record %s)" % ea[0] if line > 1 else ""
        for c, col in enumerate(header):
            x = ea[c] if c < len(ea) else ""
            y = fb[c] if c < len(fb) else "<missing>"
            if x != y:
                return "%s, line %d%s, field %s: expected %s, found %s" % (name, line, record, col,
                                                                        q(x), q(y))
        return "%s, line %d%s: expected %s, found %s" % (name, line, record, q(a), q(b))
    return "%s: bytes differ" % name


# ---------------------------------------------------------------------------------------------
# Verification (§9): V1 … V11.
# ---------------------------------------------------------------------------------------------

NAMES = {
    "V1": "bundle complete, file hashes match the manifest",
    "V2": "signatures (manifest, freeze checkpoint, co-signatures)",
    "V3": "input root recomputed from policy, schools, teachers, applicants",
    "V4": "freeze checkpoint counts per school, track and category",
    "V5": "every commitment matches its reveal, none missing",
    "V6": "beacon recorded (value and source)",
    "V7": "master seed re-derived from shares, beacon and input root",
    "V8": "every lottery number, placement, waitlist, points total, class list and quota re-computed",
    "V9": "results root",
    "V10": "ceremony log: hash chain, and its entries agree with the bundle",
    "V11": "supplements: refill of declined seats and late arrivals re-computed",
}


def signing_message(domain, kind, jcs_bytes):
    return encode_fields(domain.tag("sign/" + kind), [jcs_bytes])


def fingerprint(pk):
    return hashlib.sha256(pk).hexdigest()[:16]


def parse_sig_entry(v, name):
    try:
        signer, pk, sig = v["signer"], v["public_key"], v["signature"]
    except (KeyError, TypeError):
        raise Unusable("%s: a signature entry lacks signer, public_key or signature" % name)
    if not isinstance(signer, str) or not is_lower_hex(pk, 32) or not is_lower_hex(sig, 64):
        raise Unusable("%s: malformed signature entry" % name)
    return signer, bytes.fromhex(pk), bytes.fromhex(sig)


def signed_parts(files, name, kind):
    if name not in files:
        raise Unusable("%s: file is missing" % name)
    v = parse_json(files[name], name)
    if not isinstance(v, dict) or not isinstance(v.get(kind), dict):
        raise Unusable("%s: no %r object" % (name, kind))
    sigs = v.get("signatures")
    if not isinstance(sigs, list):
        raise Unusable("%s: no signatures array" % name)
    entries = [parse_sig_entry(e, name) for e in sigs]
    canonical = jcs_or_none(v) == files[name]
    doc_bytes = jcs_or_none(v[kind])
    if doc_bytes is None:
        raise Unusable("%s: the %s is outside the canonical-JSON subset" % (name, kind))
    return v[kind], doc_bytes, entries, canonical


def sget(d, k):
    x = d.get(k) if isinstance(d, dict) else None
    return x if isinstance(x, str) else ""


def iget(d, k):
    x = d.get(k) if isinstance(d, dict) else None
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def checkpoint_doc(r, root_hex, size):
    P = r.policy
    m = r.m
    first = [0] * m
    listed = [0] * m
    per_track = [0] * len(P.tracks)
    per_cat = [0] * len(P.categories)
    tix = {t: k for k, t in enumerate(P.tracks)}
    for i in range(r.n):
        ch = r.A.choices[i]
        for k, s in enumerate(ch):
            listed[s] += 1
            if k == 0:
                first[s] += 1
        per_track[tix[r.A.track[i]]] += 1
        cats = r.A.cat[i]
        if cats:
            per_cat[min(cats.values()) - 1] += 1
    title = P.title if P.title.isascii() else "hex:" + P.title.encode().hex()
    return {
        "format": FORMAT, "protocol": PROTOCOL, "domain": r.domain.name, "round_id": P.round_id,
        "title": title, "policy_hash": hashlib.sha256(r.policy_bytes).hexdigest(),
        "input_root": root_hex, "tree_size": size, "applicants": r.n,
        "seats": sum(s.capacity for s in r.schools),
        "schools": [{"school_id": s.id, "seats": s.capacity, "first_choice": first[k],
                     "listed": listed[k]} for k, s in enumerate(r.schools)],
        "tracks": [{"track": t, "applicants": per_track[k]} for k, t in enumerate(P.tracks)],
        "categories": [{"category": c, "applicants": per_cat[k]}
                       for k, c in enumerate(P.categories)],
    }


def first_json_difference(path, e, f):
    if isinstance(e, dict) and isinstance(f, dict):
        for k, v in sorted(e.items()):
            if k not in f:
                return "%s: field %s is missing" % (path, k)
            if f[k] != v:
                return first_json_difference("%s: %s" % (path, k), v, f[k])
        return "%s: unexpected extra field" % path
    if isinstance(e, list) and isinstance(f, list):
        for k, (v, w) in enumerate(zip(e, f)):
            if v != w:
                return first_json_difference("%s[%d]" % (path, k), v, w)
        return "%s: expected %d entries, found %d" % (path, len(e), len(f))
    return "%s: expected %s, found %s" % (path, json.dumps(e), json.dumps(f))


def read_bundle(d):
    if not os.path.isdir(d):
        raise Unusable("%s: not a directory" % d)
    files = {}
    for name in sorted(os.listdir(d)):
        if name.startswith("."):
            continue
        path = os.path.join(d, name)
        if os.path.isdir(path):
            raise Unusable("%s: unexpected directory in the bundle" % name)
        # A device (/dev/zero behind a symlink) never ends; opening a named pipe waits for a
        # writer: anything but a regular file is refused before it is opened.
        if not os.path.isfile(path):
            raise Unusable("%s: not a regular file (a device, pipe or socket) in the bundle" % name)
        with open(path, "rb") as fh:
            files[name] = fh.read()
    if "manifest.json" not in files:
        raise Unusable("%s: manifest.json is missing" % d)
    return files


def verify(files, progress=None):
    def note(msg):
        if progress:
            progress(msg)

    checks = []
    rep = {"round_id": "", "domain": "", "applicants": 0, "placed": 0, "schools": 0,
           "input_root": "", "seed": "", "results_root": "", "signers": [],
           "recomputed": [], "trusted": []}

    def push(cid, status, detail=""):
        checks.append({"id": cid, "name": NAMES[cid], "status": status, "detail": detail})

    # V1 — manifest and file inventory.
    man, man_bytes, man_sigs, man_canonical = signed_parts(files, "manifest.json", "manifest")
    if sget(man, "format") != FORMAT or sget(man, "protocol") != PROTOCOL:
        raise Unusable("manifest.json: unknown format/protocol %r/%r; this verifier reads %s / %s"
                       % (sget(man, "format"), sget(man, "protocol"), FORMAT, PROTOCOL))
    try:
        domain = Domain(sget(man, "domain"))
    except ValueError:
        raise Unusable("manifest.json: domain must be real or rehearsal")
    rep["domain"] = domain.name
    rep["round_id"] = sget(man, "round_id")
    listed = []
    for f in man.get("files", []) if isinstance(man.get("files"), list) else []:
        b = iget(f, "bytes")
        listed.append((sget(f, "name"), sget(f, "sha256"), -1 if b is None else b))
    listed_names = set(x[0] for x in listed)
    fail1 = None
    changed = set()  # listed files whose bytes differ from the manifest
    if not man_canonical:
        fail1 = "manifest.json: the file is not in canonical JSON form (RFC 8785)"
    for name, h, nbytes in listed:
        if name not in files:
            raise Unusable("%s: file is missing" % name)
        found = hashlib.sha256(files[name]).hexdigest()
        if found != h or len(files[name]) != nbytes:
            changed.add(name)
        if fail1 is None and (found != h or len(files[name]) != nbytes):
            fail1 = "%s: SHA-256 differs from the manifest (expected %s, found %s)" % (name, h, found)
    for name in sorted(files):
        cosign = name.startswith("cosign-") and name.endswith(".json")
        if name != "manifest.json" and not cosign and name not in listed_names and fail1 is None \
                and not is_supplement_file(name):  # supplement files are checked by V11
            fail1 = "%s: file is not listed in the manifest" % name
    for req in ["policy.toml", "schools.csv", "teachers.csv", "applicants.csv"] + CEREMONY_FILES \
            + RESULT_FILES:
        if req not in listed_names:
            raise Unusable("%s (not listed in manifest.json): file is missing" % req)
    push("V1", "fail" if fail1 else "pass", fail1 or "")

    # V2 — signatures.
    fail2 = None
    if not man_sigs:
        fail2 = "manifest.json: no signatures"
    man_msg = signing_message(domain, "manifest", man_bytes)
    for signer, pk, sig in man_sigs:
        if ed25519_verify(pk, man_msg, sig):
            rep["signers"].append({"name": signer, "fingerprint": fingerprint(pk),
                                   "public_key": pk.hex(), "role": "manifest"})
        elif fail2 is None:
            fail2 = "manifest.json: signer %s: the signature does not match the document" % signer
    def unreadable(e):
        """A file that cannot be read is a failure when its bytes differ from the manifest
        (someone changed it), else the bundle is unusable (like the engine's verifier)."""
        name = str(e).split(":", 1)[0]
        if name not in changed:
            raise e
        return "%s; its SHA-256 differs from the manifest" % e

    try:
        cp, cp_bytes, cp_sigs, cp_canonical = signed_parts(files, "checkpoint.json", "checkpoint")
    except Unusable as e:
        msg = unreadable(e)
        fail2 = fail2 or msg
        cp, cp_bytes, cp_sigs, cp_canonical = None, b"", [], True
    if not cp_canonical and fail2 is None:
        fail2 = "checkpoint.json: not in canonical JSON form"
    cp_msg = signing_message(domain, "checkpoint", cp_bytes)
    for signer, pk, sig in cp_sigs:
        if not ed25519_verify(pk, cp_msg, sig) and fail2 is None:
            fail2 = "checkpoint.json: signer %s: the signature does not match the document" % signer
    if not cp_sigs:
        if fail2 is None and cp is not None:
            fail2 = "checkpoint.json: no signatures"
    elif man_sigs and cp_sigs[0][1] != man_sigs[0][1] and fail2 is None:
        fail2 = ("manifest.json: signed by key %s but the freeze checkpoint by key %s — the "
                 "manifest was re-signed by another key" % (fingerprint(man_sigs[0][1]),
                                                           fingerprint(cp_sigs[0][1])))
    for name in sorted(files):
        if not name.startswith("cosign-"):
            continue
        v = parse_json(files[name], name)
        if not isinstance(v, dict) or not isinstance(v.get("cosignature"), dict):
            raise Unusable("%s: no cosignature object" % name)
        signer, pk, sig = parse_sig_entry(v["cosignature"], name)
        canonical = jcs_or_none({"cosignature": v["cosignature"]}) == files[name]
        if ed25519_verify(pk, man_msg, sig):
            if canonical:
                rep["signers"].append({"name": signer, "fingerprint": fingerprint(pk),
                                       "public_key": pk.hex(), "role": "cosign (%s)" % name})
            elif fail2 is None:
                fail2 = "%s: not in canonical JSON form" % name
        elif fail2 is None:
            fail2 = "%s: signer %s: the signature does not match the document" % (name, signer)
    push("V2", "fail" if fail2 else "pass", fail2 or "")

    def v10():
        if "log.jsonl" not in files:
            if sget(man, "log_head") == "":
                push("V10", "skip", "no ceremony log in this bundle")
            else:
                push("V10", "fail", "manifest.json names a log head but log.jsonl is missing")
        else:
            head, lerr = verify_log(domain, files["log.jsonl"])
            if lerr:
                push("V10", "fail", "log.jsonl: " + lerr)
            elif head.hex() != sget(man, "log_head"):
                push("V10", "fail", "log.jsonl: chain head %s differs from the manifest's log_head %s"
                     % (head.hex(), sget(man, "log_head")))
            else:
                err = check_log_entries(files["log.jsonl"], log_facts(files, man))
                if err:
                    push("V10", "fail", "log.jsonl, " + err)
                else:
                    push("V10", "pass")

    def v11(r, out):
        if not any(is_supplement_file(name) for name in files):
            push("V11", "skip", "no supplements in this bundle")
        elif out is None:
            push("V11", "skip", "the main draw is not verified")
        else:
            note("supplements")
            ids, failure = verify_supplements(r, files, out, man_sigs[0][1] if man_sigs else None)
            if failure:
                push("V11", "fail", failure)
            else:
                push("V11", "pass", "verified: %s" % ", ".join(ids))

    # V3 — input root.
    note("parsing inputs")
    try:
        r = load_round(files)
    except Unusable as e:
        if not any(f in changed for f in INPUT_FILES + ["applicants.csv"]):
            raise
        push("V3", "fail", "%s (after %s changed; its SHA-256 differs from the manifest)" % (
            e, ", ".join(f for f in INPUT_FILES + ["applicants.csv"] if f in changed)))
        for cid in ("V4", "V5", "V6", "V7", "V8", "V9"):
            push(cid, "skip", "the published inputs cannot be read")
        v10()
        v11(None, None)
        rep["checks"] = checks
        return rep
    rep["applicants"] = r.n
    rep["schools"] = r.m
    note("input root")
    root, size = input_root(r)
    root_hex = root.hex()
    rep["input_root"] = root_hex
    policy_hash = hashlib.sha256(r.policy_bytes).hexdigest()
    claims = [
        ("manifest.json", "input_root", sget(man, "input_root"), root_hex),
        ("manifest.json", "tree_size", str(iget(man, "tree_size") or 0), str(size)),
        ("manifest.json", "policy_hash", sget(man, "policy_hash"), policy_hash),
        ("manifest.json", "round_id", rep["round_id"], r.policy.round_id),
        ("manifest.json", "domain", domain.name, r.domain.name),
        ("manifest.json", "checkpoint_hash", sget(man, "checkpoint_hash"),
         hashlib.sha256(files["checkpoint.json"]).hexdigest()),
    ]
    if cp is not None:
        claims += [
            ("checkpoint.json", "input_root", sget(cp, "input_root"), root_hex),
            ("checkpoint.json", "tree_size", str(iget(cp, "tree_size") or 0), str(size)),
            ("checkpoint.json", "domain", sget(cp, "domain"), r.domain.name),
        ]
    fail3 = None
    for f, field, found, expected in claims:
        if found != expected:
            fail3 = "%s: %s: expected %s (recomputed), found %s" % (f, field, expected, found)
            break
    push("V3", "fail" if fail3 else "pass", fail3 or "")

    # V4 — checkpoint counts.
    exp_cp = checkpoint_doc(r, root_hex, size)
    if cp is None:
        push("V4", "skip", "checkpoint.json cannot be read")
    else:
        push("V4", "pass" if exp_cp == cp else "fail",
             "" if exp_cp == cp else first_json_difference("checkpoint.json", exp_cp, cp))

    # V5 — commitments and reveals.
    try:
        com, commitments, reveals, bj, beacon = read_ceremony(files, "")
    except Unusable as e:
        msg = unreadable(e)
        push("V5", "fail", msg)
        push("V6", "skip", "ceremony files cannot be read")
        push("V7", "skip", "no seed: the commitments do not check")
        push("V8", "skip", "no seed")
        push("V9", "skip", "results differ")
        v10()
        v11(r, None)
        rep["checks"] = checks
        return rep
    fail5 = None
    if sget(com, "round_id") != r.policy.round_id or sget(com, "input_root") != root_hex:
        fail5 = "commitments.json: round_id or input_root differ from the frozen round"
    parties = [p for p, _ in commitments]
    if len(set(parties)) != len(parties):
        fail5 = "commitments.json: a party committed twice"
    seed = None
    err = None
    rid = r.policy.round_id.encode()
    rparties = [p for p, _ in reveals]
    if not commitments:
        err = "no commitments: at least one party must commit"
    elif len(set(parties)) != len(parties):
        err = "a party committed twice"
    elif len(set(rparties)) != len(rparties):
        # PROTOCOL.md §9.1 D7: a party revealed twice makes the seed underivable.
        dup = sorted(p for p in set(rparties) if rparties.count(p) > 1)[0]
        err = "party %s revealed twice" % dup
    else:
        for party, c in commitments:
            match = [sh for p, sh in reveals if p == party]
            if not match:
                err = "party %s committed but did not reveal" % party
                break
            want = hash_fields(r.domain.tag("commit"), [rid, root, party.encode(), match[0]])
            if want != c:
                err = "party %s: the revealed share does not match its commitment" % party
                break
        if err is None:
            for p, _ in reveals:
                if p not in parties:
                    err = "party %s revealed without a commitment" % p
                    break
    if err is None and fail5 is None:  # like the engine: any V5 finding leaves no seed
        h = [rid, policy_hash_bytes(r), root, u64be(size), beacon, u64be(len(reveals))]
        for party, sh in sorted(reveals, key=lambda x: x[0].encode()):
            h += [party.encode(), sh]
        seed = hash_fields(r.domain.tag("seed"), h)
    elif fail5 is None:
        fail5 = "reveals.json: " + err
    push("V5", "fail" if fail5 else "pass", fail5 or "")
    push("V6", "fail" if bj["source"].strip() == "" else "pass",
         "beacon.json: the source is empty" if bj["source"].strip() == "" else "")

    # V7 — seed.
    if seed is None:
        push("V7", "skip", "no seed: commitments do not check")
    elif seed.hex() == sget(man, "seed"):
        push("V7", "pass")
    else:
        push("V7", "fail", "manifest.json: seed: expected %s (re-derived), found %s"
             % (seed.hex(), sget(man, "seed")))
    rep["seed"] = seed.hex() if seed else ""

    # V8 — replay the draw; V9 — results root of the replayed files (like the engine's verifier,
    # V9 is checked whenever the draw replays, also when a published result file differs).
    main_out = []
    main_ok = [False]
    if seed is None:
        push("V8", "skip", "no seed")
        push("V9", "skip", "no seed")
    else:
        v8 = replay(r, seed, files, rep, note, main_out)
        if not main_out:
            push("V8", "fail", v8)
            push("V9", "skip", "no replay")
        else:
            expected = main_out[1]
            if v8 is not None:
                push("V8", "fail", v8)
            else:
                trusted = ", ".join(rep["trusted"])
                push("V8", "pass", ("recomputed: %s; taken from the bundle (not recomputed): %s"
                                    % (", ".join(rep["recomputed"]), trusted)) if trusted else "")
            note("results root")
            tag = domain.tag("leaf/result").encode()
            pre = b"\x00" + u32be(len(tag)) + tag
            leaves = []
            sha = hashlib.sha256
            for name in RESULT_FILES:
                nb = name.encode()
                p2 = pre + u32be(len(nb)) + nb
                for line in expected[name].encode().split(b"\n")[1:-1]:
                    leaves.append(sha(p2 + u32be(len(line)) + line).digest())
            rr = merkle_root(leaves)
            rep["results_root"] = rr.hex()
            if rr.hex() != sget(man, "results_root"):
                push("V9", "fail", "manifest.json: results_root: expected %s (recomputed), found %s"
                     % (rr.hex(), sget(man, "results_root")))
            elif len(leaves) != iget(man, "results_size"):
                push("V9", "fail", "manifest.json: results_size: expected %d, found %s"
                     % (len(leaves), iget(man, "results_size")))
            else:
                push("V9", "pass")
                main_ok[0] = v8 is None

    # V10 — ceremony log chain; V11 — supplements.
    v10()
    v11(r, main_out[0] if main_ok[0] else None)
    rep["checks"] = checks
    return rep


def read_ceremony(files, prefix):
    """Commitments, reveals and beacon (`<prefix>commitments.json`, …), in the engine's order:
    the three JSON files, the beacon's fields, the commitments, the shares."""
    cn, rn, bn = prefix + "commitments.json", prefix + "reveals.json", prefix + "beacon.json"
    com = parse_json(files[cn], cn)
    rev = parse_json(files[rn], rn)
    bj = parse_json(files[bn], bn)
    for k in ("kind", "source", "value"):
        if not isinstance(bj, dict) or not isinstance(bj.get(k), str):
            raise Unusable("%s: cannot be read: missing string field %r" % (bn, k))
    if not is_lower_hex(bj["value"]) or not 1 <= len(bj["value"]) // 2 <= 4096:
        raise Unusable("%s: value: 1..=4096 bytes of lowercase hex" % bn)
    beacon = bytes.fromhex(bj["value"])
    commitments = []
    for x in com.get("commitments", []) if isinstance(com, dict) else []:
        c = sget(x, "commitment")
        if not is_lower_hex(c, 32):
            raise Unusable("%s: commitment: expected 64 lowercase hex digits" % cn)
        commitments.append((sget(x, "party"), bytes.fromhex(c)))
    reveals = []
    for x in rev.get("reveals", []) if isinstance(rev, dict) else []:
        sh = sget(x, "share")
        if not is_lower_hex(sh, 32):
            raise Unusable("%s: party %s: share must be 64 hex digits" % (rn, sget(x, "party")))
        reveals.append((sget(x, "party"), bytes.fromhex(sh)))
    return com, commitments, reveals, bj, beacon


def policy_hash_bytes(r):
    return hashlib.sha256(r.policy_bytes).digest()


def verify_log(domain, log):
    if log and not log.endswith(b"\n"):
        return None, "the log must end with a line break"
    head = bytes(32)
    lines = [x for x in log.split(b"\n") if x]
    for k, line in enumerate(lines):
        n = k + 1
        try:
            v = parse_json(line, "log.jsonl")
        except Unusable:
            return None, "line %d: not JSON" % n
        if jcs_or_none(v) != line:
            return None, "line %d: not in canonical JSON form" % n
        if iget(v, "seq") != n:
            return None, "line %d: wrong sequence number" % n
        if sget(v, "prev") != head.hex():
            return None, ("line %d: prev does not match the hash of the previous entry (an entry "
                          "was changed, removed or reordered)" % n)
        head = hash_fields(domain.tag("log"), [line])
    return head, None


def log_facts(files, man):
    """What the log's entries must agree with (§8.4): the manifest's round, root and seed, the
    checkpoint's hash and the ceremony files (a file that does not parse names nothing)."""
    def js(name):
        try:
            return json.loads(files.get(name, b""))
        except ValueError:
            return None

    def pairs(v, lst, field):
        items = v.get(lst) if isinstance(v, dict) else None
        return [(sget(e, "party"), sget(e, field)) for e in (items if isinstance(items, list) else [])]

    beacon = js("beacon.json")
    ts = man.get("tree_size")
    return {
        "round_id": sget(man, "round_id"),
        "input_root": sget(man, "input_root"),
        "tree_size": ts if isinstance(ts, int) and not isinstance(ts, bool) else 0,
        "checkpoint_sha256": hashlib.sha256(files.get("checkpoint.json", b"")).hexdigest(),
        "commitments": pairs(js("commitments.json"), "commitments", "commitment"),
        "reveals": pairs(js("reveals.json"), "reveals", "share"),
        "beacon": [sget(beacon, k) for k in ("kind", "source", "value")],
        "seed": sget(man, "seed"),
    }


LOG_PHASES = {"commit": 1, "reveal": 2, "beacon": 3, "draw": 4}


def check_log_entries(log, facts):
    """§8.4 / V10: the values the entries name agree with the bundle, the final attempt's steps
    come in the ceremony's order (commit, reveal, beacon, draw), and its commit and reveal
    entries name exactly the parties of commitments.json and reveals.json. Returns
    "line N: reason", or None. `log` has passed verify_log."""
    entries = [json.loads(x) for x in log.split(b"\n") if x]

    def step(v):
        x = v.get("step")
        return x if isinstance(x, str) else ""

    def show(x):
        return json.dumps(x, ensure_ascii=False, separators=(",", ":"))

    attempt = 0
    for k, v in enumerate(entries):
        if step(v) == "abort":
            attempt = k + 1
    reached = None  # (phase, step)
    committed, revealed = [], []
    for k, v in enumerate(entries):
        line = k + 1
        st = step(v)

        def differs(key, want):
            return key in v and v[key] != want

        if st == "freeze":
            if reached is not None:
                return "line %d: a freeze entry after a %s entry" % (line, reached[1])
            for key in ("round_id", "input_root", "checkpoint_sha256"):
                if differs(key, facts[key]):
                    return "line %d: the freeze entry's %s is %s, the bundle's %s" % (
                        line, key, show(v[key]), facts[key])
            if "tree_size" in v and not (isinstance(v["tree_size"], int)
                                         and not isinstance(v["tree_size"], bool)
                                         and v["tree_size"] == facts["tree_size"]):
                return "line %d: the freeze entry's tree_size is %s, the manifest's %d" % (
                    line, show(v["tree_size"]), facts["tree_size"])
        elif k >= attempt and st in LOG_PHASES:
            p = LOG_PHASES[st]
            if reached is not None and p < reached[0]:
                return ("line %d: a %s entry after a %s entry: the ceremony's steps are commit, "
                        "reveal, beacon, draw" % (line, st, reached[1]))
            if reached is None or p > reached[0]:
                reached = (p, st)
        if k < attempt:
            continue
        party = v.get("party") if isinstance(v.get("party"), str) else ""

        def named(lst, field, fname):
            if field not in v:
                return None
            want = [x for (q, x) in lst if q == party]
            if not want:
                return "the %s entry names party %s, which %s does not list" % (st, show(party), fname)
            if v[field] != want[0]:
                return "the %s entry's %s for party %s is %s, %s has %s" % (
                    st, field, party, show(v[field]), fname, want[0])
            return None

        if st in ("commit", "reveal"):
            lst, field, fname, seen = (
                (facts["commitments"], "commitment", "commitments.json", committed)
                if st == "commit" else (facts["reveals"], "share", "reveals.json", revealed))
            r = named(lst, field, fname)
            if r:
                return "line %d: %s" % (line, r)
            if "party" in v:
                if any(q == party for (_, q) in seen):
                    return "line %d: a second %s entry for party %s" % (line, st, party)
                seen.append((line, party))
        elif st == "beacon":
            for key, want in zip(("kind", "source", "value"), facts["beacon"]):
                if differs(key, want):
                    return "line %d: the beacon entry's %s is %s, beacon.json's %s" % (
                        line, key, show(v[key]), show(want))
        elif st == "draw":
            if differs("seed", facts["seed"]):
                return "line %d: the draw entry's seed is %s, the manifest's %s" % (
                    line, show(v["seed"]), facts["seed"])
    for seen, lst, st, fname in ((committed, facts["commitments"], "commit", "commitments.json"),
                                 (revealed, facts["reveals"], "reveal", "reveals.json")):
        if seen:
            missing = [q for (q, _) in lst if not any(q == x for (_, x) in seen)]
            if missing:
                return ("line %d: the final attempt's %s entries name no %s of party %s, which %s "
                        "lists" % (seen[-1][0], st, st, missing[0], fname))
    return None


def replay(r, seed, files, rep, note, keep=None):
    """Recomputes the draw; returns the first discrepancy, or None. The outcome is appended to
    `keep` when given."""
    note("draw")
    try:
        out = draw(r, seed)
        note("classes")
        out["class"], out["class_teachers"] = classes_and_teachers(r, seed, out)
        note("quota")
        out["quota"] = allocate_quota(r, seed)
    except DrawError as e:
        return "the draw cannot be replayed: %s" % e
    rep["placed"] = sum(1 for s in out["school"] if s != UNPLACED)
    expected = render(r, out)
    if keep is not None:
        keep += [out, expected]
    rep["recomputed"] = [
        "lottery numbers and tickets", "points", "manual placements",
        "every stage's placements (%s)" % ", ".join(
            "%s: %s" % (s["name"], s["mechanism"]) for s in r.policy.stages),
        "waitlists", "class assignment", "homeroom-teacher draw", "quota allocation",
    ]
    rep["trusted"] = []
    note("comparing results")
    for name in RESULT_FILES:
        try:
            found = files[name].decode("utf-8")
        except UnicodeDecodeError:
            return "%s: not valid UTF-8" % name
        d = first_line_difference(name, expected[name], found)
        if d:
            return d
    return None


# ---------------------------------------------------------------------------------------------
# Supplements (§11): refill of declined seats and late arrivals; check V11.
# ---------------------------------------------------------------------------------------------

SUPPLEMENT_FILES = ["declines.csv", "late_applicants.csv", "commitments.json", "reveals.json",
                    "beacon.json", "refills.csv", "late_results.csv"]
REFILLS_HEADER = "seq,school_id,application_id,vacated_school_id"
LATE_RESULTS_HEADER = "application_id,school_id,lottery_number,ticket,detail"
_SUP_ID = re.compile(r"s[1-9][0-9]{0,2}")


def is_supplement_file(name):
    """`s<k>-…` with k = 1…999 without leading zeros."""
    p, sep, _ = name.partition("-")
    return bool(sep) and _SUP_ID.fullmatch(p) is not None


class SupplementFail(Exception):
    pass


def supplement_seed(r, rid, root, size, beacon, commitments, reveals):
    """§4.3 with the supplement's round id, root and ceremony; the engine's error order."""
    if not commitments:
        raise SupplementFail("no commitments: at least one party must commit")
    for what, parties in (("committed", [p for p, _ in commitments]),
                          ("revealed", [p for p, _ in reveals])):
        ps = sorted(x.encode() for x in parties)
        for a, b in zip(ps, ps[1:]):
            if a == b:
                raise SupplementFail("party %s %s twice" % (a.decode(), what))
    rb = rid.encode()
    for party, c in commitments:
        match = [sh for p, sh in reveals if p == party]
        if not match:
            raise SupplementFail("party %s committed but did not reveal" % party)
        if hash_fields(r.domain.tag("commit"), [rb, root, party.encode(), match[0]]) != c:
            raise SupplementFail("party %s: the revealed share does not match its commitment" % party)
    for p, _ in reveals:
        if p not in [x for x, _ in commitments]:
            raise SupplementFail("party %s revealed without a commitment" % p)
    h = [rb, policy_hash_bytes(r), root, u64be(size), beacon, u64be(len(reveals))]
    for party, sh in sorted(reveals, key=lambda x: x[0].encode()):
        h += [party.encode(), sh]
    return hash_fields(r.domain.tag("seed"), h)


def run_supplement(r, out, cur, declines, late, seed):
    """Refill (§11.3) then late arrivals (§11.4). Returns (cur after refill, refills, late rows)."""
    A = r.A
    m = r.m
    cur = list(cur)
    orders = [[] for _ in range(m)]
    seen = [set() for _ in range(m)]
    for k, s, lst in sorted(out["waitlists"], key=lambda w: (w[1], w[0])):
        for i in lst:
            if i not in seen[s]:
                seen[s].add(i)
                orders[s].append(i)
    held = [0] * m
    for s in cur:
        if s != UNPLACED:
            held[s] += 1
    queue = []
    qpos = [0]

    def vacate(s):
        held[s] -= 1
        if held[s] < r.schools[s].capacity:
            queue.append(s)

    gone = set()
    for d in declines:
        gone.add(d)
        if cur[d] != UNPLACED:
            vacate(cur[d])
            cur[d] = UNPLACED
    cursor = [0] * m
    refills = []
    while qpos[0] < len(queue):
        s = queue[qpos[0]]
        qpos[0] += 1
        lst = orders[s]
        while cursor[s] < len(lst):
            j = lst[cursor[s]]
            cursor[s] += 1
            if j in gone or A.manual[j] is not None:
                continue
            prefs = A.choices[j]
            if s not in prefs:
                continue
            c = cur[j]
            if c != UNPLACED and c in prefs and prefs.index(s) >= prefs.index(c):
                continue
            cur[j] = s
            held[s] += 1
            refills.append((s, j, c))
            if c != UNPLACED:
                vacate(c)
            break
    # Late arrivals into the public schools' remaining seats.
    spare = [0 if sc.private else max(sc.capacity - held[k], 0) for k, sc in enumerate(r.schools)]
    joint = r.policy.families == "joint"
    names = ["family:" + late.family[p] if (late.family[p] and joint) else late.id[p]
             for p in range(len(late.id))]
    tickets = tickets_for(r.domain, purpose_key(r.domain, seed, "late"), names)
    numbers = rank_by_ticket(tickets)
    order = sorted(range(len(names)), key=numbers.__getitem__)
    coords = all(sc.xy is not None for sc in r.schools)
    bureau = [k for k, sc in enumerate(r.schools) if not sc.private]
    placed = reallocate(late.choices, spare, order, late.xy if coords else None,
                        [sc.xy for sc in r.schools] if coords else None, bureau)
    reasons = {"Preference": "preference", "Distance": "distance", "BureauOrder": "bureau_order"}
    rows = [(late.id[p], placed[p][0], numbers[p], tickets[p],
             reasons.get(placed[p][1], "no_seat") if placed[p][0] != UNPLACED else "no_seat")
            for p in range(len(names))]
    return cur, refills, rows


def verify_supplements(r, files, out, bureau_key, main_manifest_name="manifest.json"):
    """Check V11: supplements s1, s2, … until a manifest is missing. Returns (ids, failure)."""
    dom = r.domain
    cur = list(out["school"])
    covered = set()
    ids = []
    previous = main_manifest_name
    k = 1
    while True:
        sid = "s%d" % k
        man_name = sid + "-manifest.json"
        if man_name not in files:
            break
        ids.append(sid)
        names = ["%s-%s" % (sid, n) for n in SUPPLEMENT_FILES]
        covered.add(man_name)
        covered.update(names)
        try:
            cur = verify_one_supplement(r, files, out, cur, sid, names, previous, man_name,
                                        bureau_key)
        except SupplementFail as e:
            return ids, str(e)
        except Unusable as e:
            return ids, str(e)
        previous = man_name
        k += 1
    for name in sorted(files):
        if is_supplement_file(name) and name not in covered:
            return ids, ("%s: supplement file without a supplement manifest before it in the chain"
                         % name)
    return ids, None


def verify_one_supplement(r, files, out, cur, sid, names, previous, man_name, bureau_key):
    dom = r.domain
    mb = files[man_name]
    try:
        v = json.loads(mb.decode("utf-8"), parse_float=JsonFloat, parse_constant=_no_const)
    except (ValueError, UnicodeDecodeError, JcsError) as e:
        raise SupplementFail("%s: not JSON: %s" % (man_name, e))
    if jcs_or_none(v) != mb:
        raise SupplementFail("%s: not in canonical JSON form" % man_name)
    doc = v.get("supplement") if isinstance(v, dict) else None
    if doc is None:
        raise SupplementFail("%s: no supplement object" % man_name)
    doc_bytes = jcs_or_none(doc)
    if doc_bytes is None:
        raise SupplementFail("%s: the supplement is outside the canonical-JSON subset" % man_name)
    sigs = v.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise SupplementFail("%s: no signatures" % man_name)
    msg = signing_message(dom, "supplement", doc_bytes)
    for k, e in enumerate(sigs):
        signer, pk, sig = parse_sig_entry(e, man_name)
        if not ed25519_verify(pk, msg, sig):
            raise SupplementFail("%s: signer %s: the signature does not match the document"
                                 % (man_name, signer))
        if k == 0 and bureau_key is not None and pk != bureau_key:
            raise SupplementFail("%s: signed by key %s but the main manifest by key %s"
                                 % (man_name, fingerprint(pk), fingerprint(bureau_key)))
    prev_hash = hashlib.sha256(files[previous]).hexdigest() if previous in files else ""
    if sget(doc, "previous_manifest") != prev_hash:
        raise SupplementFail("%s: previous_manifest: expected %s (SHA-256 of %s), found %s"
                             % (man_name, prev_hash, previous, sget(doc, "previous_manifest")))
    if sget(doc, "supplement") != sid or sget(doc, "domain") != dom.name:
        raise SupplementFail("%s: supplement id or domain differ" % man_name)
    listed = doc.get("files") if isinstance(doc.get("files"), list) else []
    if len(listed) != len(names):
        raise SupplementFail("%s: expected %d files listed, found %d"
                             % (man_name, len(names), len(listed)))
    for want, f in zip(names, listed):
        name = sget(f, "name")
        if name != want:
            raise SupplementFail("%s: expected file %s, found %s" % (man_name, want, q(name)))
        if want not in files:
            raise SupplementFail("%s: file is missing" % want)
        h = hashlib.sha256(files[want]).hexdigest()
        if sget(f, "sha256") != h or iget(f, "bytes") != len(files[want]):
            raise SupplementFail("%s: SHA-256 differs from %s (found %s)" % (want, man_name, h))
    # Declines: main-round applicants, each once.
    db = files[names[0]]
    try:
        text = db.decode("utf-8")
    except UnicodeDecodeError:
        raise SupplementFail("%s, line 1: not valid UTF-8" % names[0])
    if not text.endswith("\n"):
        raise SupplementFail("%s: the file must end with a line break" % names[0])
    lines = text[:-1].split("\n")
    if lines[0] != "application_id":
        raise SupplementFail("%s, line 1: header must be exactly \"application_id\"" % names[0])
    index = {aid: i for i, aid in enumerate(r.A.id)}
    declines = []
    for k, aid in enumerate(lines[1:]):
        i = index.get(aid)
        if i is None:
            raise SupplementFail("%s, line %d: %s is not an applicant of the round"
                                 % (names[0], k + 2, q(aid)))
        if i in declines:
            raise SupplementFail("%s, line %d: %s is listed twice" % (names[0], k + 2, q(aid)))
        declines.append(i)
    # Late applicants: applicants.csv's format, new ids, no manual placements.
    lb = files[names[1]]
    try:
        late = parse_applicants(lb, r.policy, r.schools, r.school_ix)
    except Unusable as e:
        raise SupplementFail(str(e).replace("applicants.csv", names[1], 1))
    for p, aid in enumerate(late.id):
        if aid in index:
            raise SupplementFail("%s: late applicant %s already has an application in the main "
                                 "round" % (names[1], aid))
        if late.manual[p] is not None:
            raise SupplementFail("%s: late applicant %s: manual placements are made before the "
                                 "main draw" % (names[1], aid))
    # Input root: previous manifest hash, declines file, late applicant leaves.
    ftag = dom.tag("leaf/file")
    leaves = [leaf_hash(encode_fields(ftag, [b"previous-manifest", bytes.fromhex(prev_hash)])),
              leaf_hash(encode_fields(ftag, [names[0].encode(), db]))]
    atag = dom.tag("leaf/applicant")
    for line in lb[:-1].split(b"\n")[1:]:
        leaves.append(leaf_hash(encode_fields(atag, line.split(b","))))
    root = merkle_root(leaves)
    size = len(leaves)
    if sget(doc, "input_root") != root.hex() or iget(doc, "tree_size") != size:
        raise SupplementFail("%s: input_root: expected %s (recomputed), found %s"
                             % (man_name, root.hex(), sget(doc, "input_root")))
    com, commitments, reveals, bj, beacon = read_ceremony(files, sid + "-")
    rid = "%s/%s" % (r.policy.round_id, sid)
    if sget(com, "round_id") != rid or sget(com, "input_root") != root.hex():
        raise SupplementFail("%s: round_id or input_root differ from the supplement" % names[2])
    try:
        seed = supplement_seed(r, rid, root, size, beacon, commitments, reveals)
    except SupplementFail as e:
        raise SupplementFail("%s: %s" % (names[3], e))
    if sget(doc, "seed") != seed.hex():
        raise SupplementFail("%s: seed: expected %s (re-derived), found %s"
                             % (man_name, seed.hex(), sget(doc, "seed")))
    cur, refills, rows = run_supplement(r, out, cur, declines, late, seed)
    sch = lambda s: "" if s == UNPLACED else r.schools[s].id  # noqa: E731
    rf = [REFILLS_HEADER] + ["%d,%s,%s,%s" % (k + 1, sch(s), r.A.id[j], sch(c))
                             for k, (s, j, c) in enumerate(refills)]
    lr = [LATE_RESULTS_HEADER] + ["%s,%s,%d,%s,%s" % (aid, sch(s), num, t.hex(), d)
                                  for aid, s, num, t, d in rows]
    for name, lines in ((names[5], rf), (names[6], lr)):
        try:
            found = files[name].decode("utf-8")
        except UnicodeDecodeError:
            raise SupplementFail("%s: not valid UTF-8" % name)
        d = first_line_difference(name, "\n".join(lines) + "\n", found)
        if d:
            raise SupplementFail(d)
    return cur


# ---------------------------------------------------------------------------------------------
# Conformance vectors (docs/PROTOCOL.md §10, vectors/*.json): `--vectors DIR`.
# ---------------------------------------------------------------------------------------------

def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2. Returns None or the error name."""
    if index >= size:
        return "IndexOutOfRange"
    fn, sn, r = index, size - 1, leaf
    sha = hashlib.sha256
    for p in path:
        if sn == 0:
            return "WrongLength"
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "WrongLength"
    return None if r == root else "RootMismatch"


def waitlists_index(start, school, key, assignment, m):
    rows = [[] for _ in range(m)]
    for p in range(len(start) - 1):
        for e in range(start[p], start[p + 1]):
            if school[e] == assignment[p]:
                break
            rows[school[e]].append((key[e], p))
    return [[p for _, p in sorted(x)] for x in rows]


def refill(start, school, key, assignment, declined, m):
    """Waitlist refill (§6.8), for the vectors only (the draw itself has no declines)."""
    n = len(start) - 1
    lists = [[] for _ in range(m)]
    for p in range(n):
        for e in range(start[p], start[p + 1]):
            if school[e] == assignment[p]:
                break
            lists[school[e]].append((key[e], p, e - start[p]))
    for x in lists:
        x.sort()

    def rank(p, s):
        if s == UNPLACED:
            return float("inf")
        lst = school[start[p]:start[p + 1]]
        return lst.index(s) if s in lst else float("inf")

    a = list(assignment)
    current = [rank(p, a[p]) for p in range(n)]
    gone = [False] * n
    queue = []
    for d in declined:
        gone[d] = True
        if a[d] != UNPLACED:
            queue.append(a[d])
            a[d] = UNPLACED
    cursor = [0] * m
    events = []
    vacant = []
    while queue:
        s = queue.pop(0)
        taken = False
        while cursor[s] < len(lists[s]):
            _, j, rk = lists[s][cursor[s]]
            cursor[s] += 1
            if gone[j] or rk >= current[j]:
                continue
            vacated = a[j]
            a[j] = s
            current[j] = rk
            events.append({"applicant": j, "school": s,
                           "vacated": None if vacated == UNPLACED else vacated})
            if vacated != UNPLACED:
                queue.append(vacated)
            taken = True
            break
        if not taken:
            vacant.append(s)
    return a, events, vacant


def check_vectors(d):
    """Recomputes every vector of the folder `d`; returns the list of failures."""
    bad = []
    H = bytes.fromhex

    def load(name):
        with open(os.path.join(d, name), "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))

    def want(cond, what):
        if not cond:
            bad.append(what)

    v = load("encoding.json")
    for c in v["cases"]:
        fields = [H(x) for x in c["fields_hex"]]
        want(encode_fields(c["tag"], fields).hex() == c["encoding_hex"], "encoding.json: " + c["name"])
        want(hash_fields(c["tag"], fields).hex() == c["hash"], "encoding.json: " + c["name"] + " (H)")
    for c in v["sha256"]:
        want(hashlib.sha256(H(c["bytes_hex"])).hexdigest() == c["sha256"], "encoding.json: " + c["name"])

    v = load("merkle.json")
    for t in v["trees"]:
        leaves = [leaf_hash(H(x)) for x in t["leaves_hex"]]
        want([x.hex() for x in leaves] == t["leaf_hashes"], "merkle.json: %s leaves" % t["name"])
        root = merkle_root(leaves)
        want(root.hex() == t["root"], "merkle.json: %s root" % t["name"])
        for pr in t["proofs"]:
            want(verify_inclusion(leaves[pr["index"]], pr["index"], len(leaves),
                                  [H(x) for x in pr["path"]], root) is None,
                 "merkle.json: %s proof %d" % (t["name"], pr["index"]))
    for c in v["invalid_proofs"]:
        got = verify_inclusion(H(c["leaf_hash"]), c["index"], c["size"], [H(x) for x in c["path"]],
                               H(c["root"]))
        want(got == c["want_err"], "merkle.json: %s (got %s)" % (c["name"], got))

    v = load("leaves.json")
    for c in v["applicant_leaves"]:
        dom = Domain(c["domain"])
        data = encode_fields(dom.tag("leaf/applicant"), [f.encode() for f in c["row"].split(",")])
        want(data.hex() == c["leaf_data_hex"] and leaf_hash(data).hex() == c["leaf_hash"],
             "leaves.json: " + c["name"])
    for c in v["file_leaves"]:
        dom = Domain(c["domain"])
        data = encode_fields(dom.tag("leaf/file"), [c["file"].encode(), H(c["bytes_hex"])])
        want(data.hex() == c["leaf_data_hex"] and leaf_hash(data).hex() == c["leaf_hash"],
             "leaves.json: " + c["name"])
    for c in v["private_records"]:
        got = hash_fields("fairdraw/v1/private", [H(c["salt"])] + [c[k].encode() for k in (
            "application_id", "name", "id_card", "birth_date", "phone", "address")])
        want(got.hex() == c["private_hash"], "leaves.json: private record " + c["application_id"])
    t = v["input_tree"]
    leaves = [H(x) for x in t["leaf_hashes"]]
    want(merkle_root(leaves).hex() == t["input_root"] and len(leaves) == t["tree_size"],
         "leaves.json: input tree root")
    pr = t["proof"]
    want(verify_inclusion(leaves[pr["index"]], pr["index"], len(leaves), [H(x) for x in pr["path"]],
                          H(t["input_root"])) is None, "leaves.json: input tree proof")

    v = load("seed.json")
    c = v["ceremony"]
    dom = Domain(c["domain"])
    root = H(c["input_root"])
    rid = c["round_id"].encode()
    for p in c["parties"]:
        got = hash_fields(dom.tag("commit"), [rid, root, p["party"].encode(), H(p["share"])])
        want(got.hex() == p["commitment"], "seed.json: commitment of " + p["party"])
    fields = [rid, H(c["policy_hash"]), root, u64be(c["tree_size"]), H(c["beacon"]["value_hex"]),
              u64be(len(c["parties"]))]
    for p in sorted(c["parties"], key=lambda x: x["party"].encode()):
        fields += [p["party"].encode(), H(p["share"])]
    want(encode_fields(dom.tag("seed"), fields).hex() == c["seed_encoding_hex"],
         "seed.json: seed encoding")
    seed = hash_fields(dom.tag("seed"), fields)
    want(seed.hex() == c["seed"], "seed.json: seed")
    want(hash_fields(Domain("rehearsal").tag("seed"), fields).hex() == c["rehearsal_seed"],
         "seed.json: rehearsal seed")
    for p in c["purposes"]:
        want(purpose_key(dom, seed, p["label"]).hex() == p["key"], "seed.json: purpose " + p["label"])
    for x in v["invalid_reveals"]:
        got = hash_fields(dom.tag("commit"), [rid, root, x["party"].encode(), H(x["share"])])
        want(got.hex() != x["commitment"], "seed.json: " + x["name"])

    v = load("stream.json")
    for c in v["streams"]:
        st = Stream(H(c["key"]))
        want(["%016x" % st.next_u64() for _ in c["first_words"]] == c["first_words"],
             "stream.json: %s words" % c["name"])
        for b in c["below"]:
            st = Stream(H(c["key"]))
            vals = [str(st.below(int(b["m"]))) for _ in b["values"]]
            used = st.words_used()
            want(vals == b["values"] and used == b["words_used"],
                 "stream.json: %s below(%s)" % (c["name"], b["m"]))
        for pm in c["permutations"]:
            want(Stream(H(c["key"])).permutation(pm["n"]) == pm["permutation"],
                 "stream.json: %s permutation(%d)" % (c["name"], pm["n"]))

    v = load("tickets.json")
    for c in v["cases"]:
        t = tickets_for(Domain(c["domain"]), H(c["key"]), c["names"])
        want([x.hex() for x in t] == c["tickets"], "tickets.json: %s tickets" % c["name"])
        want(rank_by_ticket(t) == c["lottery_numbers"], "tickets.json: %s numbers" % c["name"])

    v = load("mechanisms.json")
    for c in v["cases"]:
        name = "mechanisms.json: " + c["name"]
        if "rules" in c:
            for a in c["applicants"]:
                parts = []
                for rule, val in zip(c["rules"], a["values"]):
                    raw = val * rule["weight"]
                    parts.append(min(raw, rule["cap"]) if rule["weight"] >= 0 else max(raw, -rule["cap"]))
                elig = all(val >= rule["threshold"] for rule, val in zip(c["rules"], a["values"]))
                want(parts == a["parts"] and sum(parts) == a["total_milli"] and elig == a["eligible"], name)
            continue
        inst = c["instance"]
        start, school, key, cap = inst["pref_start"], inst["pref_school"], inst["pref_key"], inst["capacity"]
        m = len(cap)
        none = lambda xs: [None if x == UNPLACED else x for x in xs]  # noqa: E731
        if "declined" in c:
            a = [UNPLACED if x is None else x for x in c["assignment"]]
            after, events, vacant = refill(start, school, key, a, c["declined"], m)
            want(none(after) == c["after"] and events == c["events"] and vacant == c["vacant"], name)
            continue
        if "placements" in c:
            n = len(start) - 1
            prefs = [school[start[p]:start[p + 1]] for p in range(n)]
            sch_xy = c.get("school_xy")
            app_xy = c.get("applicant_xy")
            placed = reallocate(prefs, c["spare"], c["order"],
                                [tuple(x) if x else None for x in app_xy] if sch_xy else None,
                                [tuple(x) for x in sch_xy] if sch_xy else None, c["bureau_order"])
            got = [{"applicant": p, "reason": placed[p][1],
                    "school": None if placed[p][0] == UNPLACED else placed[p][0]} for p in c["order"]]
            want(got == c["placements"], name + " %r" % got)
            continue
        if "reserves" in c:
            res = [(x["school"], x["group"], x["seats"]) for x in c["reserves"]]
            lookup = {(x[0], x[1]): j for j, x in enumerate(res)}
            entry_res = [None if g is None else lookup.get((school[e], g))
                         for e, g in enumerate(c["entry_group"])]
            rkey = c["reserve_key"] or key
            limit = 2 * c["choice_rounds"] if c.get("choice_rounds") else None
            a, held, runs = with_reserves(start, school, key, cap, res, entry_res, rkey,
                                          c["reserve_order"], c["mechanism"], limit)
            want(none(a) == c["assignment"] and [h is not None for h in held] == c["reserved"]
                 and runs == c["runs"], name)
            continue
        mech = c["mechanism"]
        if mech == "deferred_acceptance":
            a = da(start, school, key, cap)
        elif mech == "first_choice_first":
            n = len(start) - 1
            owner = [p for p in range(n) for _ in range(start[p], start[p + 1])]
            phase = [e - start[owner[e]] for e in range(len(school))]
            cr = c.get("choice_rounds")
            a = fcf(start, school, key, cap, phase, cr if cr is not None else float("inf"))
        elif mech == "serial_dictatorship":
            n = len(start) - 1
            left = list(cap)
            a = [UNPLACED] * n
            for p in c["order"]:
                for e in range(start[p], start[p + 1]):
                    if left[school[e]] > 0:
                        left[school[e]] -= 1
                        a[p] = school[e]
                        break
        else:
            bad.append(name + ": unknown mechanism")
            continue
        want(none(a) == c["assignment"], name + " assignment %r" % none(a))
        if "waitlists" in c:
            want(waitlists_index(start, school, key, a, m) == c["waitlists"], name + " waitlists")

    if os.path.exists(os.path.join(d, "classes.json")):
        v = load("classes.json")
        for c in v["class_assignment"]:
            studs = [(1 if x["gender"] == "M" else 0, x["groups"], x["family"]) for x in c["students"]]
            keys = ["0x%x" % stratum_key(g, gr) for g, gr, _ in studs]
            want(keys == c.get("stratum_keys", keys), "classes.json: %s stratum keys" % c["name"])
            try:
                k, class_of, relaxed = assign_classes(studs, c["classes"], c["max_size"],
                                                      c["families"], Stream(H(c["key"])))
                got = {"class_of": class_of, "k": k, "relaxed_swaps": relaxed}
            except ClassError as e:
                got = {"error": str(e)}
            if "want_err" in c:
                want(got.get("error") == c.get("message", got.get("error")) and "error" in got,
                     "classes.json: %s must fail with %r, got %r" % (c["name"], c.get("message"), got))
            else:
                want(got == c["expected"], "classes.json: %s %r" % (c["name"], got))
        for c in v["teacher_draw"]:
            try:
                got = draw_teachers(c["classes"], c["teachers"], Stream(H(c["key"])))
            except ClassError:
                got = None
            want(got == c.get("expected"), "classes.json: %s %r" % (c["name"], got))
        for c in v["quota"]:
            got = hamilton(c["seats"], c["cohorts"], Stream(H(c["key"])))
            want(got == c["expected"], "classes.json: %s %r" % (c["name"], got))

    v = load("e2e.json")
    bdir = os.path.join(d, "e2e", "bundle")
    try:
        rep = verify(read_bundle(bdir))
        ok = all(x["status"] != "fail" for x in rep["checks"])
        e = v["expected"]
        want(ok and rep["seed"] == e["seed"] and rep["input_root"] == e["input_root"]
             and rep["results_root"] == e["results_root"], "e2e.json: the bundle verifies")
    except Unusable as ex:
        bad.append("e2e.json: bundle unusable: %s" % ex)

    v = load("bundle_tamper.json")
    import shutil
    import tempfile
    for c in v["cases"]:
        tmp = tempfile.mkdtemp(prefix="fairdraw-vector-")
        try:
            for f in os.listdir(bdir):
                shutil.copy(os.path.join(bdir, f), tmp)
            path = os.path.join(tmp, c["file"])
            if c.get("delete"):
                os.remove(path)
            else:
                with open(path, "rb") as fh:
                    b = fh.read()
                if c["find"].encode() not in b:
                    bad.append("bundle_tamper.json: %s: text to find is absent" % c["name"])
                    continue
                with open(path, "wb") as fh:
                    fh.write(b.replace(c["find"].encode(), c["replace"].encode(), 1))
            try:
                rep = verify(read_bundle(tmp))
                fails = [x["id"] for x in rep["checks"] if x["status"] == "fail"]
                code = 1 if fails else 0
            except Unusable:
                fails, code = [], 2
            want(code == c["want_exit"] and sorted(fails) == sorted(c["want_fail"]),
                 "bundle_tamper.json: %s (exit %d, failed %s)" % (c["name"], code, fails))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return bad


# ---------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------

def main(argv):
    args = [a for a in argv[1:]]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) == 2 and args[0] == "--vectors":
        try:
            bad = check_vectors(args[1])
        except (OSError, KeyError, ValueError, TypeError) as e:
            sys.stderr.write("unusable vectors folder: %s\n" % e)
            return 2
        for b in bad:
            print("FAIL " + b)
        print("vectors: %s" % ("all reproduced" if not bad else "%d failures" % len(bad)))
        return 1 if bad else 0
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: fairdraw_verify.py DIR [--json] | --vectors VECTORS_DIR\n")
        return 2
    progress = None
    if not as_json and sys.stderr.isatty():
        def progress(msg):
            sys.stderr.write("\r\x1b[K… %s" % msg)
            sys.stderr.flush()
    try:
        files = read_bundle(args[0])
        rep = verify(files, progress)
    except (Unusable, OSError, RecursionError) as e:
        if progress:
            sys.stderr.write("\r\x1b[K")
        if as_json:
            print(json.dumps({"result": "unusable", "error": str(e), "implementation": "python"}))
        sys.stderr.write("unusable input: %s\n" % e)
        return 2
    if progress:
        sys.stderr.write("\r\x1b[K")
    ok = all(c["status"] != "fail" for c in rep["checks"])
    rep["result"] = "verified" if ok else "failed"
    rep["trust"] = ""
    rep["implementation"] = "python"
    if as_json:
        print(json.dumps(rep, sort_keys=True, ensure_ascii=False))
    else:
        print("Round: %s  (independent Python verifier)" % rep["round_id"])
        if rep["domain"] == "rehearsal":
            print("*** REHEARSAL bundle — not a real draw ***")
        for c in rep["checks"]:
            extra = ""
            if c["status"] == "fail":
                extra = "\n         " + c["detail"]
            elif c["detail"]:
                extra = " (%s)" % c["detail"]
            print("  %-4s %-5s %s%s" % (c["id"], c["status"].upper(), c["name"], extra))
        for s in rep["signers"]:
            print("  signer %s [%s] %s" % (s["name"], s["fingerprint"], s["role"]))
        if ok:
            print("VERIFIED round %s — %d applicants, %d placed, %d schools; seed %s; results root %s"
                  % (rep["round_id"], rep["applicants"], rep["placed"], rep["schools"], rep["seed"],
                     rep["results_root"]))
        else:
            first = next(c for c in rep["checks"] if c["status"] == "fail")
            print("FAILED %s: %s" % (first["id"], first["detail"]))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # a bug here must never read as "the bundle is wrong" (exit 1)
        sys.stderr.write("internal error of the Python verifier (please report): %r\n" % (e,))
        sys.exit(2)
