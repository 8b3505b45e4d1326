"""Templates of structured access-log lines: method + normalised path + status class.

No Drain here: an nginx access record already has its fields, so its template is
``GET /api/v1/items/{id} 2xx``. Path segments that carry identifiers (numbers,
UUIDs, hex digests, long mixed tokens) become ``{id}``; the query string is
dropped; the status keeps only its class.
"""

from __future__ import annotations

import re
from typing import Any

_ID_SEGMENT = re.compile(
    r"""^(?:
        \d+                                   # 42
      | [0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}   # uuid
      | (?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}     # digest
      | (?=[\w\-]*\d)(?=[\w\-]*[A-Za-z])[\w\-]{16,}   # long token with digits
    )$""",
    re.VERBOSE,
)
_VERSION = re.compile(r"^v\d{1,2}$")
_NUMBERED = re.compile(r"\d+")
#: Paths longer than this many segments keep their head and end in ``/…``.
MAX_SEGMENTS = 6
_cache: dict[str, str] = {}
_CACHE_MAX = 50_000


def normalise_path(path: str) -> str:
    """``/api/v1/orders/5521?x=1`` -> ``/api/v1/orders/{id}``."""
    cached = _cache.get(path)
    if cached is not None:
        return cached
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if not bare.startswith("/"):
        # absolute-form or garbage request targets (proxy probes, binary noise)
        bare = "/{other}" if "://" not in bare else "/{absolute}"
    parts = bare.split("/")
    out: list[str] = []
    for seg in parts[1:MAX_SEGMENTS + 1]:
        if not seg:
            out.append("")
        elif _ID_SEGMENT.match(seg):
            out.append("{id}")
        elif _VERSION.match(seg):
            out.append(seg)
        elif "." in seg and any(c.isdigit() for c in seg):
            # app.3f2a1c.js, hero-1600.webp: keep the extension, drop the variable name
            out.append("{file}." + seg.rsplit(".", 1)[1][:8])
        else:
            out.append(_NUMBERED.sub("{n}", seg) if len(seg) > 24 else seg)
    text = "/" + "/".join(out)
    if len(parts) > MAX_SEGMENTS + 1:
        text += "/…"
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[path] = text
    return text


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


_templates: dict[tuple[Any, Any, Any], str] = {}


def access_template(extra: dict[str, Any] | None) -> str:
    """The template of one parsed access-log record (its ``extra`` fields)."""
    if not extra:
        return "- {unparsed}"
    key = (extra.get("method"), extra.get("path"), extra.get("status"))
    text = _templates.get(key)
    if text is None:
        if len(_templates) >= _CACHE_MAX:
            _templates.clear()
        text = _templates[key] = _access_template(extra)
    return text


def _access_template(extra: dict[str, Any]) -> str:
    method = extra.get("method") or "-"
    if len(method) > 10 or not method.isalpha():
        method = "{bad}"
    path = extra.get("path")
    status = extra.get("status") or 0
    return f"{method} {normalise_path(path) if path else '-'} {status_class(int(status))}"
