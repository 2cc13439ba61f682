"""Every operation of the docs navigation has an SDK method.

The navigation comes from the stored docs seed (`../shared/seeds/000_…txt`, beside the clone in
CI). Each spec operation says where it sits in that navigation with `x-gigstack-docs-title`
("Section · Sub-section · Title"); a documented page with no operation, or an operation whose
method the client does not have, fails here. Without shared/ the test skips locally, and fails
when CI is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from codegen.coverage import SEPARATOR, render_coverage
from codegen.spec import load_bundle, operations
from gigstack_async import GigstackClient

REPO = Path(__file__).resolve().parents[1]
SEED = Path("seeds") / "000_37a933562e250273.txt"
NAV_ROOT = "gigstack API"
# Sections of the navigation that are not API operations.
NOT_OPERATIONS = ("Catalogs", "Schemas")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _seed() -> Path | None:
    """The seed: $GIGSTACK_SHARED_DIR, else the first shared/ beside the repo or above it."""
    candidates = []
    if os.environ.get("GIGSTACK_SHARED_DIR"):
        candidates.append(Path(os.environ["GIGSTACK_SHARED_DIR"]) / SEED)
    candidates += [parent / "shared" / SEED for parent in REPO.parents]
    return next((path for path in candidates if path.is_file()), None)


def parse_nav(text: str) -> list[tuple[str, ...]]:
    """The leaf pages of the docs navigation under "gigstack API", as title paths."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == NAV_ROOT)
    stack: list[tuple[int, str]] = []
    entries: list[tuple[int, tuple[str, ...]]] = []
    for line in lines[start + 1 :]:
        match = re.match(r"^( *)• (.+)$", line)
        if match is None:
            if line.strip() in METHODS:
                continue
            break  # the end of the navigation block
        depth = len(match.group(1))
        title = match.group(2).strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        stack.append((depth, title))
        entries.append((depth, tuple(t for _, t in stack)))
    leaves = []
    for index, (depth, path) in enumerate(entries):
        has_children = index + 1 < len(entries) and entries[index + 1][0] > depth
        if not has_children:
            leaves.append(path)
    return leaves


def documented_operations(text: str) -> list[str]:
    """Nav leaves that are operations: not guides, catalogs, schemas or top-level pages."""
    found = []
    for path in parse_nav(text):
        if len(path) < 2 or path[0] in NOT_OPERATIONS:
            continue
        title = path[-1]
        if title.endswith("API Guide") or path[0].startswith(title):
            continue  # the section's guide page ("Webhooks", "Descarga Masiva", ...)
        found.append(SEPARATOR.join(path))
    return found


def test_the_nav_parser_reads_sections_and_leaves() -> None:
    nav = (
        "gigstack API\n  • Welcome\n  • Clients\n    • Clients API Guide\n    • List clients\n"
        "      GET\n  • Invoices\n    • Income\n      • Create income invoice\n"
        "    • Cancel invoice\n      DELETE\n  • Webhooks\n    • Webhooks\n    • List webhooks\n"
        "  • Catalogs\n    • Tax Regimes Catalog\n  1. Invoices\n  • not nav\n"
    )
    assert documented_operations(nav) == [
        "Clients · List clients",
        "Invoices · Income · Create income invoice",
        "Invoices · Cancel invoice",
        "Webhooks · List webhooks",
    ]


def test_every_documented_operation_has_an_sdk_method() -> None:
    seed = _seed()
    if seed is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI: the docs seed {SEED} is missing (shared/ must sit beside the clone)")
        pytest.skip(f"no shared/{SEED} beside the repo")
    documented = documented_operations(seed.read_text(encoding="utf-8"))
    assert len(documented) >= 18
    bundle = load_bundle()
    by_title = {}
    for _path, _method, op in operations(bundle):
        title = op.get("x-gigstack-docs-title")
        if title:
            by_title[title] = op
    missing = [title for title in documented if title not in by_title]
    assert not missing, f"documented but not in openapi/: {missing}"

    client = GigstackClient(api_key="sk_test_coverage", base_url="http://127.0.0.1:9")
    for title in documented:
        op = by_title[title]
        target: object = client
        for part in op["x-gigstack-resource"].split("."):
            target = getattr(target, part)
        method = getattr(target, op["x-gigstack-method"], None)
        assert callable(method), (
            f"{title}: no client.{op['x-gigstack-resource']}.{op['x-gigstack-method']}"
        )


def test_coverage_md_lists_every_operation() -> None:
    bundle = load_bundle()
    text = render_coverage(bundle)
    for _path, _method, op in operations(bundle):
        assert f"`client.{op['x-gigstack-resource']}.{op['x-gigstack-method']}()`" in text
    assert (REPO / "docs" / "coverage.md").read_text(encoding="utf-8") == text


def test_a_missing_seed_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    module = sys.modules[__name__]
    monkeypatch.setattr(module, "REPO", tmp_path / "clone")
    # A seed name found nowhere: a real shared/ above tmp_path (a CI folder laid out as
    # <dir>/clone + <dir>/shared) must not make this seed "present".
    monkeypatch.setattr(module, "SEED", Path("seeds") / f"absent-{tmp_path.name}.txt")
    monkeypatch.delenv("GIGSTACK_SHARED_DIR", raising=False)
    assert _seed() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        test_every_documented_operation_has_an_sdk_method()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: the docs seed"):
        test_every_documented_operation_has_an_sdk_method()
