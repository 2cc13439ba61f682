"""The package is ready to publish: `python -m build` makes a wheel and an sdist whose metadata is
valid and complete (what `twine check` and PyPI look at), with the files a user needs.

Needs the `release` extra (build, hatchling; part of `dev`): the build runs with
`--no-isolation`, so it needs no network.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.requirements import Requirement

from gigstack_async import __version__

REPO = Path(__file__).resolve().parents[1]
RUNTIME = {"aiohttp": ">=3.11", "attrs": ">=23.2", "cattrs": ">=24.1"}

pytest.importorskip("build", reason="the release extra (make install) provides it")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def _metadata(wheel: Path) -> Metadata:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"gigstack_async-{__version__}.dist-info/METADATA")
    return Metadata.from_email(text, validate=True)  # raises on any invalid field


def test_wheel_metadata_is_valid_and_complete(dist: dict[str, Path]) -> None:
    meta = _metadata(dist["wheel"])
    assert meta.name == "gigstack-async"
    assert str(meta.version) == __version__
    assert meta.summary is not None
    assert "gigstack" in meta.summary
    assert meta.description_content_type == "text/markdown"
    assert meta.description == (REPO / "README.md").read_text(encoding="utf-8")
    assert meta.license_expression == "MIT"
    assert meta.license_files == ["LICENSE"]
    assert str(meta.requires_python) == ">=3.11"
    assert meta.project_urls
    assert all(url.startswith("https://") for url in meta.project_urls.values())
    assert meta.classifiers is not None
    for classifier in ("Typing :: Typed", "Framework :: AsyncIO", "Programming Language :: Python"
                       " :: 3.11", "Development Status :: 3 - Alpha"):  # fmt: skip
        assert classifier in meta.classifiers
    runtime = [r for r in map(Requirement, map(str, meta.requires_dist or [])) if not r.marker]
    assert {r.name: str(r.specifier) for r in runtime} == RUNTIME  # stdlib + these three only


def test_wheel_holds_the_package_the_license_and_the_commands(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"gigstack_async-{__version__}.dist-info/entry_points.txt")
    source = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "gigstack_async").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert source <= names
    assert "gigstack_async/py.typed" in names
    assert f"gigstack_async-{__version__}.dist-info/licenses/LICENSE" in names
    assert not [name for name in names if name.startswith("tests/")]
    parsed = configparser.ConfigParser()
    parsed.read_string(entry_points.decode())
    assert dict(parsed["console_scripts"]) == {"gigstack-async": "gigstack_async.cli:main"}
    assert dict(parsed["pytest11"]) == {"gigstack_async": "gigstack_async.testing"}


def test_sdist_builds_again_from_its_own_files(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "README.md", "pyproject.toml", "PKG-INFO", "gigstack_async/py.typed",
                   "openapi/gigstack.yaml"):  # fmt: skip
        assert needed in names
