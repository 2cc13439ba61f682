"""`python -m gigstack_async.sandbox`: exactly `gigstack-async sandbox` (same options, default
speed and banner), so the two ways the docs show cannot drift apart."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the simulator until Ctrl-C; returns the exit status (see `--help`)."""
    # Imported here: the CLI imports the SDK, which this module's importers may not need.
    from gigstack_async.cli import main as cli_main

    return cli_main(["sandbox", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
