"""Tables: drawn with rich in a terminal, as aligned plain text otherwise.

A column with a fixed `width` makes the table streamable: pages rendered one at a time line up,
so a long listing never has to be held in memory to be aligned.

A table too wide for the terminal is never cut: a month, a request id or a state with a
character missing is worse than useless (a copied id would be wrong). It is printed as a list
instead, one row after the other, each cell whole (`stacked_lines`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gigstack_async.cli.ui import Ui

if TYPE_CHECKING:
    from rich.table import Table

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
) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        show_header=header,
        # The same box with or without a header, so that streamed pages line up.
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        # Two spaces between columns and none at the edges, as in plain text: an 80-column
        # terminal then holds a month, a full request id and a state side by side.
        pad_edge=False,
        collapse_padding=True,
    )
    for col in cols:
        table.add_column(
            col.header,
            justify=col.align,
            width=col.width,
            # A number folded in two ("CFDI / s", "12 / 00") reads as two: right-aligned
            # columns are counts.
            no_wrap=col.no_wrap or col.width is not None or col.align == "right",
            overflow="ellipsis" if col.width is not None else "fold",
            style=col.style,
        )
    for row in rows:
        table.add_row(*row)
    return table


def least_width(cols: Sequence[Col], rows: Sequence[Row], *, header: bool = True) -> int:
    """The narrowest `rich_table` of these rows that cuts no cell and breaks no word: a cell
    that may not wrap (ids, months, states, counts) whole, another at its longest word, two
    spaces between columns."""
    total = 2 * (len(cols) - 1)
    for i, col in enumerate(cols):
        cells = [row[i] for row in rows] + ([col.header] if header else [])
        if col.no_wrap or col.width is not None or col.align == "right":
            total += max(len(cell) for cell in cells)
        else:
            total += max((len(word) for cell in cells for word in cell.split()), default=0)
    return total


def stacked_lines(
    cols: Sequence[Col], rows: Sequence[Row], width: int, *, header: bool = True
) -> list[str]:
    """Each row as a list entry: its first cell, then `header: cell` for each other non-empty
    cell, packed into lines of `width` and split only between cells (a cell longer than a
    line gets a line of its own, which the terminal wraps: nothing is cut)."""
    lines: list[str] = []
    for row in rows:
        line = row[0]
        for col, cell in zip(cols[1:], row[1:], strict=True):
            if not cell:
                continue
            piece = f"{col.header}: {cell}" if header else cell
            if len(line) + 2 + len(piece) <= width:
                line = f"{line}  {piece}"
            else:
                lines.append(line)
                line = f"  {piece}"
        lines.append(line)
    return lines


def print_table(
    ui: Ui,
    cols: Sequence[Col],
    rows: Sequence[Row],
    *,
    title: str | None = None,
    header: bool = True,
) -> None:
    """The table, as wide as it needs; in a terminal too narrow for it, a list (`stacked_lines`).
    A streamed table (fixed column widths) keeps its layout: its pages must line up."""
    width = ui.width
    keep = width is None or any(col.width is not None for col in cols)
    if ui.fancy:
        table = rich_table(cols, rows, title=title, header=header)
        if keep or least_width(cols, rows, header=header) <= (width or 0):
            ui.render(table)
            return
    else:
        lines = plain_lines(cols, rows, header=header)
        if keep or all(len(text) <= (width or 0) for text in lines):
            if title:
                ui.out(title)
            for text in lines:
                ui.out(text)
            return
    assert width is not None
    if title:
        ui.out(title)
    for text in stacked_lines(cols, rows, width, header=header):
        ui.out(text)
