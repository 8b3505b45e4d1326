"""A finding's evidence ids, held in frozen chunks that every snapshot shares instead of copying.

The findings thread publishes a snapshot of each changed finding every second,
and a long-lived finding holds up to 51,000 ids. A tuple copy of them for each
snapshot is a new container of 51,000 references, and the cyclic GC walks every
new container at its next young collection (~0.7 ms for such a tuple, holding
the GIL the event loop needs). A snapshot (:class:`Evidence`) now refers to the
same frozen chunks of :data:`CHUNK` ids (each walked once, when it is new) plus
a copy of the open chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from typing import overload

#: Ids per frozen chunk.
CHUNK = 4096


class Evidence(Sequence[str]):
    """An immutable sequence of record ids, oldest first (what ``Finding.evidence`` holds)."""

    __slots__ = ("_len", "_parts")

    def __init__(self, parts: tuple[tuple[str, ...], ...] = ()) -> None:
        self._parts = parts
        self._len = sum(map(len, parts))

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._parts)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step != 1:
                return tuple(self)[index]
            return tuple(self._span(start, stop))
        i = index + self._len if index < 0 else index
        if not 0 <= i < self._len:
            raise IndexError("evidence index out of range")
        for part in self._parts:
            if i < len(part):
                return part[i]
            i -= len(part)
        raise AssertionError("unreachable")

    def _span(self, start: int, stop: int) -> Iterator[str]:
        offset = 0
        for part in self._parts:
            end = offset + len(part)
            if end > start and offset < stop:
                yield from part[max(0, start - offset):stop - offset]
            if end >= stop:
                return
            offset = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Evidence, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Evidence({self._len} ids)"


class EvidenceLog:
    """The growing evidence of one finding (engine-internal): append, trim, :meth:`freeze`."""

    __slots__ = ("_frozen", "_len", "_open", "last")

    def __init__(self) -> None:
        self._frozen: list[tuple[str, ...]] = []
        self._open: list[str] = []
        self._len = 0
        #: The newest id (the engine skips an id given twice in a row).
        self.last: str | None = None

    def __len__(self) -> int:
        return self._len

    def append(self, rid: str) -> None:
        self._open.append(rid)
        self.last = rid
        self._len += 1
        if len(self._open) >= CHUNK:
            self._frozen.append(tuple(self._open))
            self._open = []

    def freeze(self) -> Evidence:
        """The ids now, sharing the frozen chunks (the open one is copied: at most :data:`CHUNK` ids)."""
        return Evidence((*self._frozen, tuple(self._open)) if self._open else tuple(self._frozen))

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self.freeze()[index]

    def __eq__(self, other: object) -> bool:
        return self.freeze() == other.freeze() if isinstance(other, EvidenceLog) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def trim(self, first: int, latest: int) -> int:
        """Keep the first ``first`` ids and at least the latest ``latest``, dropping whole chunks between
        them; returns how many ids were dropped."""
        frozen = self._frozen
        if not frozen:
            return 0
        dropped = 0
        head = frozen[0]
        keep_tail = max(0, latest - (self._len - len(head)))  # head ids still needed among the latest
        if len(head) - keep_tail > first:
            dropped = len(head) - keep_tail - first
            frozen[0] = head[:first] + head[len(head) - keep_tail:]
        rest = self._len - dropped - len(frozen[0])
        end = 1
        while end < len(frozen) and rest - len(frozen[end]) >= latest:
            rest -= len(frozen[end])
            dropped += len(frozen[end])
            end += 1
        del frozen[1:end]
        self._len -= dropped
        return dropped


__all__ = ["CHUNK", "Evidence", "EvidenceLog"]
