"""openapi/*.yaml → one bundle: the spec is split per tag on disk and merged in memory.

Every file is a small OpenAPI 3.0.3 document whose `$ref`s are written as if all files were one
document (`#/components/schemas/Client` may live in another file). `load_bundle()` reads the files
sorted by name (catalogs.yaml is data, not API surface, and is skipped), merges `paths` and every
`components` section, and refuses a path+method or a component defined twice. The result is
what codegen generates from and what the contract and fuzz tests validate against.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "openapi"
CATALOGS_FILE = "catalogs.yaml"
# The file that carries the document-level keys (info, servers, security) of the bundle.
BASE_FILE = "gigstack.yaml"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class BundleError(ValueError):
    """The spec files cannot be merged into one document (a duplicate, or a malformed file)."""


def spec_files(spec_dir: Path = SPEC_DIR) -> list[Path]:
    """The API spec files of `spec_dir`, sorted by name (catalogs.yaml excluded)."""
    return sorted(
        (p for p in spec_dir.glob("*.yaml") if p.name != CATALOGS_FILE), key=lambda p: p.name
    )


def _read(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise BundleError(f"{path.name}: not a YAML mapping")
    return loaded


def merge(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Merge named OpenAPI documents, in the order given, into one bundle.

    Document-level keys (openapi, info, servers, security) come from the first document that
    has them. `tags` are concatenated without repeats. A path present in several documents
    gets the union of its methods; the same method twice is a BundleError, and so is a
    component name defined twice (identical `securitySchemes` excepted: every file may declare
    the shared bearer scheme to stay a valid document on its own).
    """
    bundle: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    path_owner: dict[tuple[str, str], str] = {}
    components: dict[str, dict[str, Any]] = {}
    component_owner: dict[tuple[str, str], str] = {}
    tags: list[Any] = []
    tag_names: set[str] = set()
    for name, document in documents:
        document = copy.deepcopy(dict(document))
        for key, value in document.items():
            if key in ("paths", "components", "tags"):
                continue
            bundle.setdefault(key, value)
        for tag in document.get("tags") or []:
            tag_name = str(tag.get("name")) if isinstance(tag, dict) else str(tag)
            if tag_name not in tag_names:
                tag_names.add(tag_name)
                tags.append(tag)
        for path, item in (document.get("paths") or {}).items():
            if not isinstance(item, dict):
                raise BundleError(f"{name}: path {path!r} is not a mapping")
            merged = paths.setdefault(path, {})
            for key, value in item.items():
                owner = path_owner.get((path, key))
                if owner is not None:
                    what = f"{key.upper()} {path}" if key in METHODS else f"{path} {key!r}"
                    raise BundleError(f"{what} is defined in both {owner} and {name}")
                path_owner[(path, key)] = name
                merged[key] = value
        for section, entries in (document.get("components") or {}).items():
            target = components.setdefault(section, {})
            for entry, value in (entries or {}).items():
                owner = component_owner.get((section, entry))
                if owner is not None:
                    if section == "securitySchemes" and target[entry] == value:
                        continue
                    raise BundleError(
                        f"components/{section}/{entry} is defined in both {owner} and {name}"
                    )
                component_owner[(section, entry)] = name
                target[entry] = value
    if tags:
        bundle["tags"] = tags
    bundle["paths"] = paths
    bundle["components"] = components
    return bundle


def load_bundle(spec_dir: Path = SPEC_DIR) -> dict[str, Any]:
    """Every `openapi/*.yaml` but catalogs.yaml, merged into one OpenAPI document (a dict).

    gigstack.yaml goes first (it owns info/servers/security), then the others by name. Raises
    BundleError on a duplicate path+method or component, or a dangling `$ref`.
    """
    files = spec_files(spec_dir)
    if not files:
        raise BundleError(f"no OpenAPI files in {spec_dir}")
    files.sort(key=lambda p: (p.name != BASE_FILE, p.name))
    bundle = merge((path.name, _read(path)) for path in files)
    check_refs(bundle)
    return bundle


def load(source: Path | Mapping[str, Any]) -> dict[str, Any]:
    """A bundle from a directory of spec files, one spec file, or an already loaded document."""
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    if source.is_dir():
        return load_bundle(source)
    return merge([(source.name, _read(source))])


def check_refs(bundle: Mapping[str, Any]) -> None:
    """Every local `$ref` of the bundle must resolve (a typo would otherwise surface late)."""
    missing: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                target: Any = bundle
                for part in ref[2:].split("/"):
                    if not isinstance(target, dict) or part not in target:
                        missing.append(ref)
                        break
                    target = target[part]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(bundle)
    if missing:
        raise BundleError(f"unresolved $ref: {', '.join(sorted(set(missing)))}")


def operations(bundle: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (path, method, operation) of the bundle, in bundle order."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in bundle["paths"].items():
        for method in METHODS:
            if method in item:
                found.append((path, method, item[method]))
    return found


def resolve(bundle: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow `$ref` chains to the node they point at."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise BundleError(f"$ref cycle at {ref}")
        seen.add(ref)
        target: Any = bundle
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return dict(node)


def dump(bundle: Mapping[str, Any], path: Path) -> None:
    """Write a bundle as one YAML document (the input datamodel-code-generator reads)."""
    path.write_text(
        yaml.safe_dump(dict(bundle), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
