"""Requests to fuzz with: generated in the plainest shape, or near it, and mutated.

Everything here is driven by a seeded :class:`random.Random`, so a run is repeated
exactly from its seed (every failure names the seed and the case's number).
"""

from __future__ import annotations

import json
import random

__all__ = ["TOKEN", "body", "mutate", "plain_request", "request"]

TOKEN = "fuzz-token"

_NAMES = [
    b"Host",
    b"Authorization",
    b"Content-Type",
    b"User-Agent",
    b"Accept",
    b"Accept-Encoding",
    b"traceid",
    b"X-Forwarded-For",
    b"X-Request-Id",
    b"X-Amzn-Trace-Id",
    b"Cookie",
    b"X-a!#$%&'*+-.^_`|~9",
]
# Names that keep a request off the C reader, or that httptools reads in its own way.
_SPECIAL = [
    b"Content-Length",
    b"Transfer-Encoding",
    b"Connection",
    b"Proxy-Connection",
    b"Upgrade",
    b"Expect",
    b"TE",
    b"Keep-Alive",
]
_VALUE_CHARS = bytes(range(0x21, 0x7F))
# Bytes and pieces that the parsers treat specially.
_BYTES = b' \t\r\n:;,\x00\x01\x7f\x80\xff0123456789azAZ-_/?#%+="\\'
_PIECES = [
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"\r\n ",  # obs-fold
    b"\r\n\t",
    b": ",
    b":",
    b"\r\n\r\n",
    b"0",
    b"-1",
    b"+1",
    b"00",
    b" 1",
    b"99999999999999999999",
    b"Content-Length: 0\r\n",
    b"Content-Length: 5\r\n",
    b"content-length: 10\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked, identity\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Connection: upgrade\r\nUpgrade: websocket\r\n",
    b"Expect: 100-continue\r\n",
    b"HTTP/1.0",
    b"HTTP/1.1",
    b"HTTP/2.0",
    b"GET",
    b"post",
    b"/function",
    b"/function?a=b",
    b"/function#f",
    b"/%66unction",
    b"http://h/function",
    b"*",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"\xc3\xa9",
]


def body(rng: random.Random) -> bytes:
    """A JSON envelope as integrator.io sends one (sometimes not quite JSON)."""
    envelope = {
        "diy": True,
        "type": "hook",
        "function": rng.choice(["echo", "asyncEcho", "napper", "raiseCoded", "nowhere"]),
        "options": {"data": [rng.randrange(1000) for _ in range(rng.randrange(4))]},
    }
    if rng.random() < 0.1:
        return rng.choice([b"", b"{", b"[1]", b'{"diy": tru', b"\x00\xff"])
    return json.dumps(envelope, separators=(",", ":") if rng.random() < 0.5 else None).encode()


def _name(rng: random.Random) -> bytes:
    name = rng.choice(_NAMES)
    roll = rng.random()
    if roll < 0.2:
        return name.lower()
    if roll < 0.25:
        return name.upper()
    return name


def _value(rng: random.Random) -> bytes:
    value = bytes(rng.choice(_VALUE_CHARS) for _ in range(rng.randint(1, 24)))
    if rng.random() < 0.3 and len(value) > 2:  # inner spaces are plain
        at = rng.randrange(1, len(value) - 1)
        value = value[:at] + b" " * rng.randint(1, 2) + value[at:]
    return value


def plain_request(rng: random.Random, content: bytes | None = None) -> bytes:
    """A ``POST /function`` in the plainest shape, the one ``_request.c`` must read."""
    content = body(rng) if content is None else content
    headers = [(b"Authorization", b"Bearer " + TOKEN.encode())]
    headers += [(_name(rng), _value(rng)) for _ in range(rng.randrange(8))]
    headers.append((rng.choice([b"Content-Length", b"content-length"]), b"%d" % len(content)))
    rng.shuffle(headers)
    head = b"POST /function HTTP/1.1\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers)
    return head + b"\r\n" + content


def request(rng: random.Random) -> bytes:
    """A request near the plainest shape: a special header, odd spacing, a second one."""
    data = plain_request(rng)
    head, _, content = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for _ in range(rng.randrange(3)):
        roll = rng.random()
        at = rng.randrange(1, len(lines) + 1)
        if roll < 0.5:
            line = rng.choice(_SPECIAL) + b":" + b" " * rng.randrange(3) + _value(rng)
            lines.insert(at, line)
        elif roll < 0.7:
            lines.insert(at, rng.choice(_SPECIAL) + b": " + rng.choice(_PIECES).strip())
        elif roll < 0.85 and len(lines) > 1:
            lines.insert(at, rng.choice(lines[1:]))  # a repeated header
        else:
            lines.insert(at, _name(rng) + b":" + rng.choice([b"", b"\t", b"  "]) + _value(rng))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + content
    if rng.random() < 0.1:
        data += rng.choice([plain_request(rng), data[: rng.randrange(len(data))], b"\r\n"])
    return data


def mutate(rng: random.Random, data: bytes) -> bytes:
    """``data`` with one to four random changes: bytes replaced, added, removed, slices
    repeated or cut, pieces the parsers treat specially put in, the length changed."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        kind = rng.randrange(9)
        if kind == 0 and out:
            out[min(at, len(out) - 1)] = rng.choice(_BYTES)
        elif kind == 1:
            out[at:at] = bytes([rng.choice(_BYTES)])
        elif kind == 2 and out:
            del out[at : at + rng.randint(1, 4)]
        elif kind == 3:
            out[at:at] = rng.choice(_PIECES)
        elif kind == 4 and out:
            start = rng.randrange(len(out))
            out[at:at] = out[start : start + rng.randint(1, 32)]
        elif kind == 5:
            del out[at:]
        elif kind == 6 and out:  # the case of a letter
            at = min(at, len(out) - 1)
            out[at] = out[at] ^ 0x20 if chr(out[at]).isalpha() else out[at]
        elif kind == 7:
            marker = out.find(b"ength: ")
            if marker >= 0:
                start = marker + 7
                end = start
                while end < len(out) and 48 <= out[end] <= 57:
                    end += 1
                number = int(out[start:end] or b"0") + rng.choice([-2, -1, 1, 2, 1000])
                out[start:end] = rng.choice([b"%d", b"0%d", b"+%d", b"%d ", b"%d,%d"]).replace(
                    b"%d", b"%d" % max(number, 0)
                )
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
    return bytes(out)
