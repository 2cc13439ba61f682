"""What a reader left out, and why: nothing is dropped silently."""

from __future__ import annotations

import attrs


@attrs.frozen
class SkippedItem:
    """One record, file or package member that was not read, and why.

    `source` is the file or member name; `line` the physical line a record starts on (counted
    from 1, blank lines before the header included), or None when the whole file or member
    was skipped.
    """

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"
