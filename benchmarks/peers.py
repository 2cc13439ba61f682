"""Generate the peer SDKs from `openapi/gigstack.yaml`, at bench time, into `.bench/` (git-ignored).

- openapi-python-client (httpx + attrs), run as a subprocess of the venv's Python, from the local
  spec file, with post-generation hooks disabled (they shell out to a `ruff` on PATH, which only
  reformats): offline and deterministic.
- pydantic v2 models from datamodel-code-generator with `--output-model-type
  pydantic_v2.BaseModel` and the naming flags of codegen/models.py.

Both are cached under a key made of the spec's hash, the generators' versions and the flags, so
a second run (and the smoke test) reuses them. The spec is fed to both generators unmodified.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType

from codegen.models import FLAGS as CODEGEN_FLAGS

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "gigstack.yaml"
DEFAULT_CACHE = ROOT / ".bench"

OPC_PACKAGE = "gigstack_opc"
PYDANTIC_MODULE = "gigstack_pydantic"

# codegen/models.py's own flags, so both model sets name things alike; minus what only serves
# the attrs template (template dir, custom formatter, extra imports, file header).
_ATTRS_ONLY = (
    "--output-model-type=",
    "--custom-template-dir=",
    "--custom-formatters=",
    "--additional-imports=",
    "--custom-file-header",
)
PYDANTIC_FLAGS = (
    "--output-model-type=pydantic_v2.BaseModel",
    *(flag for flag in CODEGEN_FLAGS if not flag.startswith(_ATTRS_ONLY)),
)
OPC_CONFIG = "post_hooks: []\n"


@dataclass
class Peers:
    """Where the generated peers live, and what their generators said."""

    directory: Path
    cached: bool
    seconds: float
    opc_warnings: list[str] = field(default_factory=list)
    pydantic_warnings: list[str] = field(default_factory=list)

    def activate(self) -> None:
        """Make `gigstack_opc` and `gigstack_pydantic` importable in this process."""
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))

    def opc(self, module: str = "") -> ModuleType:
        self.activate()
        return importlib.import_module(OPC_PACKAGE + (f".{module}" if module else ""))

    def pydantic(self) -> ModuleType:
        self.activate()
        return importlib.import_module(PYDANTIC_MODULE)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def cache_key() -> str:
    digest = hashlib.sha256(SPEC.read_bytes())
    for part in (
        _version("openapi-python-client"),
        _version("datamodel-code-generator"),
        _version("pydantic"),
        OPC_CONFIG,
        *PYDANTIC_FLAGS,
    ):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def _meaningful(output: str) -> list[str]:
    """Generator chatter minus progress lines."""
    lines = [line.strip() for line in output.splitlines()]
    return [line for line in lines if line and not line.startswith("Generating ")]


def ensure_peers(cache_dir: Path = DEFAULT_CACHE) -> Peers:
    """Generate both peers unless this exact spec + generator versions are cached already."""
    target = cache_dir / f"peers-{cache_key()}"
    manifest = target / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text(encoding="utf-8"))
        return Peers(
            target,
            cached=True,
            seconds=float(info["seconds"]),
            opc_warnings=list(info["opc_warnings"]),
            pydantic_warnings=list(info["pydantic_warnings"]),
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="peers-", dir=cache_dir))
    try:
        config = work / "opc-config.yaml"
        config.write_text(OPC_CONFIG, encoding="utf-8")
        bindir = Path(sys.executable).parent
        opc_cli = bindir / "openapi-python-client"
        opc_command = (
            [str(opc_cli)] if opc_cli.exists() else [sys.executable, "-m", "openapi_python_client"]
        )
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        opc = subprocess.Popen(
            [
                *opc_command,
                "generate",
                f"--path={SPEC}",
                f"--output-path={work / OPC_PACKAGE}",
                "--meta=none",
                f"--config={config}",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pyd = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "datamodel_code_generator",
                f"--input={SPEC}",
                f"--output={work / (PYDANTIC_MODULE + '.py')}",
                *PYDANTIC_FLAGS,
            ],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        opc_out, _ = opc.communicate(timeout=300)
        pyd_out, _ = pyd.communicate(timeout=300)
        if opc.returncode != 0:
            raise RuntimeError(f"openapi-python-client failed:\n{opc_out}")
        if pyd.returncode != 0:
            raise RuntimeError(f"datamodel-code-generator failed:\n{pyd_out}")
        seconds = time.perf_counter() - started
        info = {
            "spec": str(SPEC.relative_to(ROOT)),
            "seconds": round(seconds, 2),
            "opc_warnings": _meaningful(opc_out),
            "pydantic_warnings": _meaningful(pyd_out),
            "openapi-python-client": _version("openapi-python-client"),
            "datamodel-code-generator": _version("datamodel-code-generator"),
        }
        (work / "manifest.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        try:
            work.rename(target)
        except OSError:  # a concurrent run got there first: theirs is identical
            shutil.rmtree(work, ignore_errors=True)
        return Peers(
            target,
            cached=False,
            seconds=seconds,
            opc_warnings=list(info["opc_warnings"]),
            pydantic_warnings=list(info["pydantic_warnings"]),
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
