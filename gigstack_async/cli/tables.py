"""Tables: drawn with rich in a terminal, as aligned plain text otherwise.

A column with a fixed `width` makes the table streamable: pages rendered one at a time line up,
so a long listing never has to be held in memory to be aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gigstack_async.cli.ui import Ui

Row = Sequence[str]


@dataclass(frozen=True)
class Col:
    header: str
    align: Literal["left", "right"] = "left"
    width: int | None = None
    style: str | None = None
    # Ids and dates are useless when folded: rich shrinks other columns instead.
    no_wrap: bool = False


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def plain_lines(cols: Sequence[Col], rows: Sequence[Row], *, header: bool = True) -> list[str]:
    """Fixed-width text: column widths are the fixed ones, or the widest cell."""
    widths = [
        col.width
        if col.width is not None
        else max([len(col.header), *(len(row[i]) for row in rows)])
        for i, col in enumerate(cols)
    ]

    def line(cells: Row) -> str:
        parts = []
        for col, width, cell in zip(cols, widths, cells, strict=True):
            cell = _fit(cell, width) if col.width is not None else cell
            parts.append(cell.rjust(width) if col.align == "right" else cell.ljust(width))
        return "  ".join(parts).rstrip()

    lines = [line([col.header for col in cols])] if header else []
    lines.extend(line(row) for row in rows)
    return lines


def rich_table(
    cols: Sequence[Col], rows: Sequence[Row], *, title: str | None = None, header: bool = True
) -> object:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        show_header=header,
        # The same box with or without a header, so that streamed pages line up.
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
    )
    for col in cols:
        table.add_column(
            col.header,
            justify=col.align,
            width=col.width,
            no_wrap=col.no_wrap or col.width is not None,
            overflow="ellipsis" if col.width is not None else "fold",
            style=col.style,
        )
    for row in rows:
        table.add_row(*row)
    return table


def print_table(
    ui: Ui,
    cols: Sequence[Col],
    rows: Sequence[Row],
    *,
    title: str | None = None,
    header: bool = True,
) -> None:
    if ui.fancy:
        ui.render(rich_table(cols, rows, title=title, header=header))
        return
    if title:
        ui.out(title)
    for text in plain_lines(cols, rows, header=header):
        ui.out(text)
