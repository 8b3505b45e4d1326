"""A run of nginx access-log records column-wise: what the batched detectors and templates read.

Built from a chunk of :class:`~alsate.engine.formats.nginx_access.AccessColumns` (lines the fast
path took, in file order). Each distinct request line is split once; records are grouped by
(request, status), which fixes their template.
"""

from __future__ import annotations

from array import array

import numpy as np
from alsate.engine.formats.nginx_access import split_request


class AccessBatch:
    """Records ``0..n-1`` of one access log, column-wise.

    ``request_index[i]`` points into ``methods``/``paths`` (one per distinct request line);
    ``pair[i]`` into ``fields``, one ``{method, path, status}`` per distinct (request, status)
    as a parsed record's ``extra`` holds them, whose first record is ``first[pair]``. ``keys``/``entry`` (record ``i``'s template key is
    ``keys[entry[i]]``) are filled in by the templates view.
    """

    __slots__ = ("origin", "positions", "ts", "ts_array", "effective", "addresses", "statuses", "status_array",
                 "sent", "methods", "paths", "request_index", "fields", "first", "pair", "keys", "entry")

    def __init__(self, origin: str, positions: list[int], ts: list[float], effective: list[int],
                 addresses: list[str], requests: list[str] | None, statuses: list[int], sent: list[str] | None,
                 ) -> None:
        n = len(ts)
        self.origin = origin
        self.positions = positions
        self.ts = ts
        self.ts_array = np.frombuffer(array("d", ts), dtype=np.float64)
        self.effective = np.frombuffer(array("q", effective), dtype=np.int64)
        self.addresses = addresses
        self.statuses = statuses
        self.status_array = np.frombuffer(array("q", statuses), dtype=np.int64)
        self.sent = sent
        if requests is None:
            distinct: dict = {None: 0}
            self.request_index = np.zeros(n, dtype=np.int64)
        else:
            distinct = dict.fromkeys(requests)
            for number, request in enumerate(distinct):
                distinct[request] = number
            self.request_index = np.fromiter(map(distinct.__getitem__, requests), dtype=np.int64, count=n)
        # A request line splits into method and path; an empty or missing one has neither.
        self.methods: list[str | None] = []
        self.paths: list[str | None] = []
        for request in distinct:
            method, path = split_request(request)[:2] if request else (None, None)
            self.methods.append(method)
            self.paths.append(path)
        # Statuses are three digits (0 when not logged): (request, status) as one number.
        codes, self.first, self.pair = np.unique(self.request_index * 1000 + self.status_array, return_index=True,
                                                 return_inverse=True)
        self.pair = self.pair.reshape(-1)
        self.fields: list[dict] = []
        for code in codes.tolist():
            request, status = divmod(code, 1000)
            method = self.methods[request]
            self.fields.append({"status": status} if method is None else
                               {"method": method, "path": self.paths[request], "status": status})
        self.keys: list[str] = []
        self.entry = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ts)

    def record_id(self, i: int) -> str:
        """``Record.id`` of record ``i``."""
        return f"{self.origin}#{self.positions[i]}"

    def template_key(self, i: int) -> str:
        return self.keys[self.entry[i]]

    def sent_text(self, i: int) -> str:
        """``$body_bytes_sent`` of record ``i`` as the detector reads it (``0`` when not logged)."""
        return self.sent[i] if self.sent is not None else "0"

    def slice(self, start: int, stop: int) -> AccessBatch:
        """Records ``start..stop-1`` as a batch of their own (template keys kept)."""
        part = object.__new__(AccessBatch)
        part.origin = self.origin
        part.positions = self.positions[start:stop]
        part.ts = self.ts[start:stop]
        part.ts_array = self.ts_array[start:stop]
        part.effective = self.effective[start:stop]
        part.addresses = self.addresses[start:stop]
        part.statuses = self.statuses[start:stop]
        part.status_array = self.status_array[start:stop]
        part.sent = self.sent[start:stop] if self.sent is not None else None
        part.methods, part.paths, part.fields, part.keys = self.methods, self.paths, self.fields, self.keys
        part.request_index = self.request_index[start:stop]
        part.pair = self.pair[start:stop]
        part.first = np.zeros(0, dtype=np.int64)  # the templates view is fed before a batch is sliced
        part.entry = self.entry[start:stop]
        return part
