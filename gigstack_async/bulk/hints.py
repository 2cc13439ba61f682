"""The machine's hints made typeable: the journal's folder (and month) put into every
`gigstack-async journal show|adopt|resend|split` command.

The state machine (`bulk.machine`) is pure and knows neither where its journal lives nor how
the user named it, so its texts say `gigstack-async journal adopt 2024-03 <id>`. Whatever shows
a text to the user (`MonthResult`, the CLI's summary, `journal show`) renders it with the
folder, or the journal file when it is not the folder's default: a command copied from a hint
then runs as printed.
"""

from __future__ import annotations

import re
import shlex

_COMMAND = re.compile(
    r"(?P<command>gigstack-async journal (?:show|adopt|resend|split))"
    r"(?P<month> \d{4}-\d{2}(?![\w-]))?"
)

_REBIND = re.compile(r"gigstack-async journal rebind(?= |`|$)")


def with_journal(text: str | None, month: str, journal: str | None) -> str | None:
    """`text` with `journal` (a folder or file, as the user gave it) inserted into each journal
    command, and `month` where a command names none. Unchanged when `journal` is None (a run
    without a journal file has nothing these commands could open)."""
    if text is None or journal is None:
        return text
    folder = shlex.quote(journal)

    def render(found: re.Match[str]) -> str:
        key = (found.group("month") or "").strip() or month
        return f"{found.group('command')} {folder} {key}"

    return _REBIND.sub(f"gigstack-async journal rebind {folder}", _COMMAND.sub(render, text))
