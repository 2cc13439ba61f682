"""The `gigstack-async` command line (also `python -m gigstack_async`).

```console
gigstack-async demo
gigstack-async sat download --from 2024-01 --to 2024-12 --rfc-type received --out ./cfdi
gigstack-async --help
```

rich (the `cli` extra) draws the live progress and tables; without it the CLI prints plain lines.
"""

from gigstack_async.cli.app import main

__all__ = ["main"]
