"""One module per command: `register(subparsers)` adds its parser, whose `func` runs it."""
