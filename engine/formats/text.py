"""Plain text: any line alsate cannot place in a known format."""

from __future__ import annotations

from alsate.engine.formats.base import ParserBase
from alsate.engine.records import Record, SourceKind


class TextParser(ParserBase):
    kind = SourceKind.TEXT

    def _parse(self, line: str, pos: int) -> Record | None:
        record = self.unparsed(line, pos)
        return record._replace(extra=None)
