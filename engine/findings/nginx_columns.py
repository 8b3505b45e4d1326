"""The nginx access detector over a batch of records (a chunk of a big log), column-wise.

Same findings as :meth:`NginxAccessDetector.feed` record by record: same counts, evidence, first
and last seen. What every record touches is done with numpy over the whole batch:

* the site's minute (request count, rate-spike threshold): the minute rolls over where the
  running maximum of the records' minutes rises;
* each client address's 10-minute window (requests and 4xx for the scanner's error share):
  addresses are sorted apart and every address's next window start is found for all of them at
  once with a search over a per-address running maximum of the times.

What only some records do (5xx, probe paths, 404s, failed logins, a spiking minute) then runs
record by record in file order, through the detector's own methods, reading that state as it was
at the record. Reports to one finding keep their order; reports to different findings are
independent, so the passes may visit them in any order.
"""

from __future__ import annotations

import math

import numpy as np
from alsate.engine.findings import nginx
from alsate.engine.findings.access_batch import AccessBatch
from alsate.engine.findings.engine import FindingSink
from alsate.engine.findings.nginx import (
    SCAN_ERROR_SHARE,
    SCAN_WINDOW,
    NginxAccessDetector,
    _Site,
    login_failure,
    wp_login_post,
)


def feed_access(detector: NginxAccessDetector, batch: AccessBatch, sink: FindingSink) -> None:
    n = len(batch)
    if not n:
        return
    addresses = dict.fromkeys(batch.addresses)
    cut = _address_table_cleared_at(detector, batch, addresses)
    if cut is None:
        _feed(detector, batch, addresses, sink)
        return
    if cut:
        part = batch.slice(0, cut)
        _feed(detector, part, dict.fromkeys(part.addresses), sink)
    detector._ips.clear()
    feed_access(detector, batch.slice(cut, n), sink)


def _address_table_cleared_at(detector: NginxAccessDetector, batch: AccessBatch, addresses: dict) -> int | None:
    """The record at which ``feed`` would clear the address table (a new address past the limit)."""
    table = detector._ips
    limit = nginx.MAX_ADDRESSES
    if len(table) + len(addresses) - 1 <= limit:
        return None  # even if every address were new
    new = [a for a in addresses if a not in table]
    if len(table) + len(new) - 1 <= limit:
        return None
    nth = max(0, limit + 1 - len(table))  # the new address that finds the table over the limit
    return batch.addresses.index(new[nth])


def _feed(detector: NginxAccessDetector, batch: AccessBatch, addresses: dict, sink: FindingSink) -> None:
    path_flags = detector.path_flags
    flags = [path_flags(path or "") | wp_login_post(method, path or "")
             for method, path in zip(batch.methods, batch.paths, strict=True)]
    line_flags = np.array(flags, dtype=np.int64)[batch.request_index]
    status = batch.status_array
    _site(detector, batch, sink)
    windows = _AddressWindows(detector, batch, addresses, (status >= 400) & (status < 500))
    probe = (line_flags & 1) != 0
    login = ((line_flags & 4) != 0) & ((status == 401) | (status == 403) | ((status == 200) & ((line_flags & 8) != 0)))
    events = np.flatnonzero(probe | (status == 404) | login).tolist()
    if not events:
        return
    origin, addresses, ts, statuses = batch.origin, batch.addresses, batch.ts, batch.statuses
    paths, request_index = batch.paths, batch.request_index
    scan404 = detector.scan404
    for i in events:
        ip, t, code = addresses[i], ts[i], statuses[i]
        request = int(request_index[i])
        path = paths[request] or ""
        bits = flags[request]
        rid = batch.record_id(i)
        if bits & 1:
            detector.probe(origin, ip, path, code, bits, batch.sent_text(i), t, rid, sink, batch.template_key(i))
        elif code == 404:
            hit = scan404.add(ip, t, rid, path.split("?", 1)[0])
            if hit is not None:
                requests, errors, before, errors_before = windows.state(i)
                if errors + errors_before >= SCAN_ERROR_SHARE * (requests + before):
                    detector.scanner(origin, ip, hit, t, sink, batch.template_key(i))
                else:
                    scan404.reset(ip)
        if login_failure(bits, code):
            detector.login_failed(ip, path, t, rid, sink, batch.template_key(i))


def _site(detector: NginxAccessDetector, batch: AccessBatch, sink: FindingSink) -> None:
    """Request counts per minute, rate spikes and 5xx bursts of the batch's site."""
    origin = batch.origin
    site = detector.site(origin)
    total = site.total
    n = len(batch)
    minutes = (batch.ts_array // 60).astype(np.int64)
    running = np.maximum.accumulate(np.concatenate(([total.minute], minutes)))
    rolls = np.flatnonzero(minutes > running[:-1]).tolist()
    rolled = dict(zip(rolls, minutes[rolls].tolist(), strict=True))
    starts = rolls if rolls and rolls[0] == 0 else [0, *rolls]
    errors = np.flatnonzero(batch.status_array >= 500).tolist()
    next_error = 0
    for j, start in enumerate(starts):
        stop = starts[j + 1] if j + 1 < len(starts) else n
        minute = rolled.get(start)
        if minute is not None:
            total.add(batch.ts[start])  # the minute's first record rolls the count over, as in feed
            total.count -= 1  # counted again with the rest of the minute below
            site.new_minute(minute)
        _spikes(detector, site, batch, start, stop, sink)
        while next_error < len(errors) and errors[next_error] < stop:
            i = errors[next_error]
            next_error += 1
            path = batch.paths[batch.request_index[i]] or ""
            detector.server_error(origin, site, batch.positions[i], batch.statuses[i], path.split("?", 1)[0],
                                  batch.ts[i], sink, batch.template_key(i))


def _spikes(detector: NginxAccessDetector, site: _Site, batch: AccessBatch, start: int, stop: int,
            sink: FindingSink) -> None:
    """Records ``start..stop-1``, all in the site's current minute: counted, and reported if it spikes."""
    total = site.total
    count = total.count
    if site.spiking:
        first = start
    elif site.spike_at == math.inf:
        first = stop
    else:
        first = start + max(0, math.ceil(site.spike_at) - count - 1)
    if first >= stop:
        site.positions += batch.positions[start:stop]
        site.addresses += batch.addresses[start:stop]
        total.count = count + stop - start
        return
    origin = batch.origin
    site.positions += batch.positions[start:first]
    site.addresses += batch.addresses[start:first]
    for i in range(first, stop):
        site.positions.append(batch.positions[i])
        site.addresses.append(batch.addresses[i])
        total.count = count + i - start + 1
        if site.spiking:
            detector.report_spike(origin, site, [batch.positions[i]], [batch.addresses[i]], batch.ts[i], sink,
                                  batch.template_key(i))
        else:
            site.spiking = True
            detector.report_spike(origin, site, site.positions, site.addresses, batch.ts[i], sink,
                                  batch.template_key(i))


class _AddressWindows:
    """Each client address's scanner window over the batch: ``feed``'s ``[start, requests, 4xx,
    previous requests, previous 4xx]`` at any record, and written back to the detector at the end.

    A window starts at an address's first record and again at its first record more than
    SCAN_WINDOW after the window's start; the previous window's counts carry over unless that
    record came more than twice SCAN_WINDOW after it.
    """

    def __init__(self, detector: NginxAccessDetector, batch: AccessBatch, number: dict[str, int | None],
                 client_error: np.ndarray) -> None:
        """``number``: the batch's distinct addresses in order of appearance (its values are set here)."""
        n = len(batch)
        addresses = list(number)
        for k, address in enumerate(addresses):
            number[address] = k
        which = np.fromiter(map(number.__getitem__, batch.addresses), dtype=np.int64, count=n)
        order = np.argsort(which.astype(np.uint16) if len(addresses) < 65536 else which, kind="stable")
        group = which[order]
        t = batch.ts_array[order]
        errors = client_error[order].astype(np.int64)
        count = len(addresses)
        first = np.searchsorted(group, np.arange(count))
        last = np.r_[first[1:], n]
        # The state each address comes in with (a new one starts a window at its first record).
        table = detector._ips
        fresh = [0.0, 0, 0, 0, 0]
        states = np.array([table.get(address, fresh) for address in addresses], dtype=np.float64).T
        known = np.array([address in table for address in addresses], dtype=bool)
        start = np.where(known, states[0], t[first])
        carried = states[1:].astype(np.int64)
        if _FirstAfter.exact_for(t, start, count):
            columns = _windows_at_once(group, t, errors, first, last, start, carried)
        else:
            columns = _windows_one_by_one(t, errors, first, last, start, carried)
        window_start, requests, client_errors, prev_requests, prev_errors = columns
        self._sorted_at = np.empty(n, dtype=np.int64)
        self._sorted_at[order] = np.arange(n)
        self._columns = (requests, client_errors, prev_requests, prev_errors)
        ends = (last - 1).tolist()
        starts = window_start[ends].tolist()
        finals = [column[ends].tolist() for column in self._columns]
        for k, address in enumerate(addresses):
            table[address] = [starts[k], finals[0][k], finals[1][k], finals[2][k], finals[3][k]]

    def state(self, i: int) -> tuple[int, int, int, int]:
        """``(requests, 4xx, previous requests, previous 4xx)`` of record ``i``'s address, as of record ``i``."""
        k = self._sorted_at[i]
        return tuple(int(column[k]) for column in self._columns)  # type: ignore[return-value]


def _windows_at_once(group: np.ndarray, t: np.ndarray, errors: np.ndarray, first: np.ndarray, last: np.ndarray,
                     start: np.ndarray, carried: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(window start, requests, 4xx, previous requests, previous 4xx)`` at each record (sorted by
    address): every address's next window start found for all of them at once."""
    n = len(t)
    after = _FirstAfter(group, t)
    restart = np.zeros(n, dtype=bool)
    fresh = np.zeros(n, dtype=bool)
    active = np.arange(len(first))
    current = start.copy()
    while len(active):
        at = after.find(active, current[active] + SCAN_WINDOW)
        inside = at < last[active]
        active, at = active[inside], at[inside]
        restart[at] = True
        fresh[at] = t[at] - current[active] > 2 * SCAN_WINDOW
        current[active] = t[at]
    positions = np.arange(n)
    latest = np.maximum.accumulate(np.where(restart, positions, -1))
    group_first = first[group]
    initial = latest < group_first  # still in the window the address came in with
    window = np.where(initial, group_first, latest)
    cumulative = np.cumsum(errors)
    before_window = cumulative[window] - errors[window]
    requests = positions - window + 1 + np.where(initial, carried[0][group], 0)
    client_errors = cumulative - before_window + np.where(initial, carried[1][group], 0)
    # A new window carries the counts the address had just before it, unless it came after a long gap.
    previous_at = np.maximum(window - 1, 0)
    came_in = window == group_first
    prev_requests = np.where(came_in, carried[0][group], requests[previous_at])
    prev_errors = np.where(came_in, carried[1][group], client_errors[previous_at])
    prev_requests = np.where(initial, carried[2][group], np.where(fresh[window], 0, prev_requests))
    prev_errors = np.where(initial, carried[3][group], np.where(fresh[window], 0, prev_errors))
    window_start = np.where(initial, start[group], t[window])
    return window_start, requests, client_errors, prev_requests, prev_errors


def _windows_one_by_one(t: np.ndarray, errors: np.ndarray, first: np.ndarray, last: np.ndarray, start: np.ndarray,
                        carried: np.ndarray) -> tuple[np.ndarray, ...]:
    """What :func:`_windows_at_once` gives, record by record with ``feed``'s own arithmetic (for
    times that are not whole seconds, where a float sum could round differently)."""
    n = len(t)
    out = np.zeros((5, n), dtype=np.float64)
    times, errs = t.tolist(), errors.tolist()
    for k, (begin, end) in enumerate(zip(first.tolist(), last.tolist(), strict=True)):
        window = float(start[k])
        requests, client_errors, before, errors_before = carried[:, k].tolist()
        for i in range(begin, end):
            ts = times[i]
            if ts - window > SCAN_WINDOW:
                fresh = ts - window > 2 * SCAN_WINDOW
                window, before, errors_before = ts, 0 if fresh else requests, 0 if fresh else client_errors
                requests = client_errors = 0
            requests += 1
            client_errors += errs[i]
            out[:, i] = (window, requests, client_errors, before, errors_before)
    counts = out[1:].astype(np.int64)
    return out[0], counts[0], counts[1], counts[2], counts[3]


class _FirstAfter:
    """For records sorted by group, with times in whole seconds: the first record of group ``g``
    whose time is past ``x``, for many groups at once (a search over the running maximum of
    ``g * width + time``, exact in a float while it stays below 2**52)."""

    def __init__(self, group: np.ndarray, t: np.ndarray) -> None:
        self.low = float(t.min())
        self.span = float(t.max()) - self.low
        self.width = self.span + 2.0
        self.running = np.maximum.accumulate(group * self.width + (t - self.low))

    @staticmethod
    def exact_for(t: np.ndarray, start: np.ndarray, groups: int) -> bool:
        """Whether times ``t`` and window starts ``start`` allow it: whole seconds ($time_local
        gives nothing else), small enough for every sum to be exact."""
        if not len(t):
            return False
        limit = 2.0 ** 50
        span = float(t.max()) - float(t.min())
        return (bool(np.all(t == np.floor(t))) and bool(np.all(start == np.floor(start)))
                and float(np.abs(t).max()) < limit and float(np.abs(start).max()) < limit
                and (span + 2.0) * (groups + 1) < limit)

    def find(self, groups: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Index of the first record of each of ``groups`` with time > its ``x`` (past the group if none)."""
        bound = np.clip(x - self.low, -0.5, self.span + 0.5)
        return np.searchsorted(self.running, groups * self.width + bound, side="right")
