"""A structural check of a GGUF file before llama.cpp sees it.

llama.cpp trusts much of what a GGUF file says: a damaged LoRA adapter can load
and then crash the process on the first evaluation. :func:`gguf_problem` walks
the header, the metadata and the tensor table with bounds checks and says, in a
few words, what is wrong (or ``None``): a file cut short, counts or lengths
that point past its end, tensor data beyond it, an adapter that is not one.
Only the metadata is read (through ``mmap``), not the weights.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32
#: Bytes of one fixed-size metadata value, by GGUF value type (8: string and 9: array are variable).
_SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
#: ggml tensor types: (elements per block, bytes per block); types not listed are not size-checked.
_BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
           10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
           24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2)}


class _Corrupt(Exception):
    pass


class _Reader:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> int:
        start = self.pos
        if size < 0 or start + size > len(self.data):
            raise _Corrupt("the file ends before its header does (cut short?)")
        self.pos += size
        return start

    def u32(self) -> int:
        return struct.unpack_from("<I", self.data, self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack_from("<Q", self.data, self.take(8))[0]

    def string(self) -> bytes:
        length = self.u64()
        start = self.take(length)
        return self.data[start:start + length]

    def value(self, kind: int) -> object:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.u32(), self.u64()
            if item == _STRING:  # a vocabulary: tens of thousands of strings, so the loop is kept tight
                data, pos, end, length_at = self.data, self.pos, len(self.data), _U64.unpack_from
                for _ in range(count):
                    if pos + 8 > end:
                        raise _Corrupt("the file ends before its header does (cut short?)")
                    pos += 8 + length_at(data, pos)[0]
                if pos > end:
                    raise _Corrupt("the file ends before its header does (cut short?)")
                self.pos = pos
            elif item in _SCALAR_SIZE:
                self.take(_SCALAR_SIZE[item] * count)
            else:
                raise _Corrupt(f"unknown metadata array type {item}")
            return None
        size = _SCALAR_SIZE.get(kind)
        if size is None:
            raise _Corrupt(f"unknown metadata value type {kind}")
        start = self.take(size)
        return int.from_bytes(self.data[start:start + size], "little") if kind in (4, 10) else None


def gguf_problem(path: Path, *, adapter: bool = False) -> str | None:
    """What is wrong with the GGUF file at ``path`` (a few words), or None when it looks whole.

    ``adapter``: the file must be a LoRA adapter (``general.type = adapter``).
    """
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < 24:
            return "the file is too short to be a GGUF file"
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                return _check(_Reader(data), size, adapter)
            except _Corrupt as exc:
                return str(exc)


def _check(reader: _Reader, size: int, adapter: bool) -> str | None:
    if reader.data[:4] != MAGIC:
        return "bad header (not a GGUF file)"
    reader.take(4)
    version = reader.u32()
    if version not in VERSIONS:
        return f"unsupported GGUF version {version}"
    n_tensors, n_kv = reader.u64(), reader.u64()
    if n_tensors > size // 8 or n_kv > size // 8:
        return "the header's counts do not fit the file (damaged?)"
    meta: dict[bytes, object] = {}
    for _ in range(n_kv):
        key = reader.string()
        meta[key] = reader.value(reader.u32())
    alignment = meta.get(b"general.alignment") or DEFAULT_ALIGNMENT
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        return "bad general.alignment"
    tensors = []
    for _ in range(n_tensors):
        reader.string()
        dims = reader.u32()
        if not 1 <= dims <= MAX_DIMS:
            return "a tensor with an impossible shape (damaged?)"
        elements = 1
        for _ in range(dims):
            elements *= reader.u64()
        tensors.append((elements, reader.u32(), reader.u64()))
    data_start = -(-reader.pos // alignment) * alignment
    for elements, kind, offset in tensors:
        end = data_start + offset
        block = _BLOCKS.get(kind)
        if block is not None:
            if elements % block[0]:
                return "a tensor whose size does not match its type (damaged?)"
            end += elements // block[0] * block[1]
        if end > size:
            return f"tensor data runs past the end of the file ({size} bytes: cut short?)"
    general_type = meta.get(b"general.type")
    if adapter and general_type != b"adapter":
        kind_name = general_type.decode("utf-8", "replace") if isinstance(general_type, bytes) else "unknown"
        return f"not a LoRA adapter (general.type: {kind_name})"
    if adapter and not tensors:
        return "a LoRA adapter without tensors"
    return None
