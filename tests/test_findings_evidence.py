"""A finding's evidence: frozen chunks shared by every snapshot, trimmed to the first and the latest ids."""

from __future__ import annotations

import gc

import pytest
from alsate.engine.findings import FindingsEngine
from alsate.engine.findings.evidence import CHUNK, Evidence, EvidenceLog


def ids(start: int, stop: int) -> list[str]:
    return [f"access.log#{n}" for n in range(start, stop)]


def test_evidence_reads_like_the_tuple_of_its_ids():
    log = EvidenceLog()
    for rid in ids(0, 2 * CHUNK + 77):
        log.append(rid)
    ev = log.freeze()
    expected = tuple(ids(0, 2 * CHUNK + 77))
    assert len(ev) == len(expected) and tuple(ev) == expected and ev == expected and ev == list(expected)
    for index in (0, 1, CHUNK - 1, CHUNK, 2 * CHUNK, -1, -78, -len(expected)):
        assert ev[index] == expected[index]
    for cut in (slice(0, 5), slice(CHUNK - 3, CHUNK + 3), slice(-100, None), slice(None, None, 3), slice(5, 2),
                slice(-5000, -10), slice(2 * CHUNK, None)):
        assert ev[cut] == expected[cut]
    with pytest.raises(IndexError):
        ev[len(expected)]
    assert ev != expected[:-1] and (ev == "not a sequence of ids") is False
    assert Evidence() == () and len(Evidence()) == 0


def test_snapshots_share_the_frozen_chunks_and_copy_at_most_the_open_one():
    log = EvidenceLog()
    for rid in ids(0, 12 * CHUNK + 10):
        log.append(rid)
    one, two = log.freeze(), log.freeze()
    assert one == two
    assert all(a is b for a, b in zip(one._parts[:-1], two._parts[:-1], strict=True))  # the same 12 chunks
    assert len(one._parts[-1]) == 10  # only the open chunk is new in each snapshot
    log.append("access.log#new")
    assert len(one) == 12 * CHUNK + 10 and log.freeze()[-1] == "access.log#new"  # a snapshot does not move
    gc.collect()
    assert not any(gc.is_tracked(part) for part in one._parts)  # id tuples: the GC stops walking them


def test_trim_keeps_the_first_and_at_least_the_latest_ids():
    log = EvidenceLog()
    total = 20 * CHUNK + 123
    for rid in ids(0, total):
        log.append(rid)
    dropped = log.trim(first=1000, latest=5 * CHUNK)
    ev = log.freeze()
    assert dropped == total - len(ev) and len(ev) >= 1000 + 5 * CHUNK and len(ev) < 1000 + 6 * CHUNK
    assert ev[:1000] == tuple(ids(0, 1000))
    tail = ev[1000:]
    assert tail == tuple(ids(total - len(tail), total))
    assert log.trim(first=1000, latest=5 * CHUNK) == 0  # nothing more to drop until more ids come
    small = EvidenceLog()  # a head chunk still needed among the latest is cut only down to them
    for rid in ids(0, CHUNK + 10):
        small.append(rid)
    small.trim(first=5, latest=100)
    assert small.freeze() == (*ids(0, 5), *ids(CHUNK + 10 - 100, CHUNK + 10))


def test_the_engine_skips_an_id_given_twice_in_a_row_and_snapshots_do_not_copy_long_evidence():
    engine = FindingsEngine(persist_templates=False)
    for round_ in range(3):
        batch = ids(round_ * 3 * CHUNK, (round_ + 1) * 3 * CHUNK)
        engine.report("test.stream:x", detector="test", title="a stream", category="availability", severity=3,
                      ts=1000.0 + round_, evidence=[batch[0], *batch])
    first = engine.get("test.stream:x")
    assert first.count == 9 * CHUNK and first.evidence == tuple(ids(0, 9 * CHUNK))
    engine.report("test.stream:x", detector="test", title="a stream", category="availability", severity=3,
                  ts=1004.0, evidence=["access.log#x"])
    second = engine.get("test.stream:x")
    assert second.evidence[-1] == "access.log#x" and len(first.evidence) == 9 * CHUNK
    assert sum(a is b for a, b in zip(first.evidence._parts, second.evidence._parts, strict=False)) == 9
