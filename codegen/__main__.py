"""`python -m codegen [--check] [--spec DIR] [--out DIR]`.

Regenerates gigstack_async/_generated/ (models, operations table, resources),
gigstack_async/catalogs.py and docs/coverage.md from openapi/. With --check, generates into a
temporary directory and exits 1 with a diff when the committed files differ (the drift gate in
`make test`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.generate import (
    DEFAULT_CATALOGS,
    DEFAULT_COVERAGE,
    DEFAULT_OUT,
    DEFAULT_SPEC,
    check,
    check_extras,
    generate,
    generate_extras,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the openapi/ directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the generated package")
    parser.add_argument("--catalogs", type=Path, default=DEFAULT_CATALOGS, help="catalogs.py")
    parser.add_argument("--coverage", type=Path, default=DEFAULT_COVERAGE, help="coverage.md")
    parser.add_argument("--check", action="store_true", help="fail if --out is not up to date")
    args = parser.parse_args(argv)
    extras = {"catalogs": args.catalogs, "coverage": args.coverage}
    if args.check:
        diff = check(args.spec, args.out) + check_extras(args.spec, **extras)
        if diff:
            sys.stdout.write(diff)
            sys.stdout.write(
                "\nGenerated code is stale or was edited by hand: run `make codegen`.\n"
            )
            return 1
        print(f"{args.out} is up to date with {args.spec}")
        return 0
    for path in [*generate(args.spec, args.out), *generate_extras(args.spec, **extras)]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
