"""Refuse output paths that can never be created, before anything is planned or sent."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.cli.exitcodes import UsageError


def check_creatable(option: str, path: Path, *, folder: bool) -> None:
    """Raise `UsageError` if `path` lies under an existing file (``--out afile/sub``): no
    folder can be made there, and finding out after the plan (or after billed requests went
    out) is too late. `folder`: `path` itself must also not be a file (for a file path, not a
    folder). An existing path's own kind for --out is checked by `check_out_folder`."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(
                    f"{option}: {path} cannot be created: {parent} is a file, not a folder; "
                    f"give a path whose folders are folders"
                )
            break  # an existing folder: everything above it is a folder too
    if not folder and path.is_dir():
        raise UsageError(f"{option}: {path} is a folder; give a file name")
