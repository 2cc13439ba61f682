"""`make mutate`: mutation testing of the safety core with mutmut, and its report.

Why mutmut: it is the most used mutation tool for Python, maintained, and version 3 switches
mutants in place (no reinstall, no re-import per mutant) and runs only the tests that cover the
mutated function, which keeps a run of the whole safety core to minutes on two cores. cosmic-ray
restarts the test command for every mutant; pytest-gremlins is young. The modules and the tests
that guard them are `[tool.mutmut]` in pyproject.toml.

    python -m mutation                 # every mutant; writes docs/mutation.md
    python -m mutation --sample 40     # a seeded random sample (CI); fails on a new survivor

A survivor is "known" when `mutation/known.toml` lists it, either as `equivalent` (no observable
change, with the one-line reason) or as `todo` (a test still has to kill it). The sample fails on
a survivor that is not known, so new code cannot add untested safety logic; the full run also
fails when a listed `todo` is now killed, so the list only shrinks. Survivors are keyed by
function and change (`module.function: -old / +new`), not by mutmut's numbers, which shift with
every edit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KNOWN = Path(__file__).resolve().parent / "known.toml"
REPORT = ROOT / "docs" / "mutation.md"
MUTMUT = [sys.executable, "-m", "mutmut"]
TIMEOUT_S = 3600
_RESULT = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
_NAME = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ](?P<function>.+)__mutmut_(?P<number>\d+)$")


@dataclass(frozen=True)
class Mutant:
    name: str
    status: str

    @property
    def module(self) -> str:
        match = _NAME.match(self.name)
        return match["module"] if match else self.name.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        match = _NAME.match(self.name)
        return match["function"].replace("ǁ", ".") if match else "?"


def mutmut(*args: str) -> str:
    """Run mutmut in the repository root; its output, or SystemExit with what it said."""
    result = subprocess.run(
        [*MUTMUT, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if result.returncode not in (0, 1):  # mutmut run exits 1 when something survived
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise SystemExit(f"mutmut {' '.join(args)} failed ({result.returncode}):\n{tail}")
    return result.stdout


def results() -> list[Mutant]:
    found = []
    for line in mutmut("results", "--all", "true").splitlines():
        match = _RESULT.match(line)
        if match:
            found.append(Mutant(match["name"], match["status"].strip()))
    return found


def change_of(name: str) -> str:
    """`-old / +new`: the mutated lines, which identify a mutant across renumbering."""
    diff = mutmut("show", name)
    removed = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return f"-{' '.join(removed)} / +{' '.join(added)}"


def key_of(mutant: Mutant) -> str:
    return f"{mutant.module}.{mutant.function}: {change_of(mutant.name)}"


def load_known() -> dict[str, dict[str, str]]:
    """`{"equivalent": {key: reason}, "todo": {key: note}}`."""
    data = tomllib.loads(KNOWN.read_text(encoding="utf-8")) if KNOWN.exists() else {}
    return {
        "equivalent": dict(data.get("equivalent", {})),
        "todo": dict(data.get("todo", {})),
    }


def write_known(known: dict[str, dict[str, str]]) -> None:
    """Rewrite mutation/known.toml (keys and values as TOML basic strings, sorted)."""

    def quoted(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string

    lines = [
        "# Survivors of `make mutate` that are known. [equivalent]: no observable change, with",
        "# the reason. [todo]: a test still has to kill it. Keys: `module.function: -old / +new`.",
        "",
        "[equivalent]",
        *(f"{quoted(k)} = {quoted(v)}" for k, v in sorted(known["equivalent"].items())),
        "",
        "[todo]",
        *(f"{quoted(k)} = {quoted(v)}" for k, v in sorted(known["todo"].items())),
    ]
    KNOWN.write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate() -> list[Mutant]:
    """Make the mutants without running any (mutmut refuses a filter that matches nothing,
    after generating them)."""
    subprocess.run(
        [*MUTMUT, "run", "__generate-only__"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return results()


def run(names: list[str] | None) -> list[Mutant]:
    mutmut("run", "--max-children", "2", *(names or []))
    return results()


def write_report(
    mutants: list[Mutant], keys: dict[str, str], known: dict[str, dict[str, str]]
) -> None:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant in mutants:
        by_module[mutant.module][mutant.status] += 1
    lines = [
        "# Mutation testing of the safety core",
        "",
        "GENERATED by `make mutate` (`python -m mutation`); do not edit by hand.",
        "mutmut changes one thing at a time in the modules below (an operator, a constant, a",
        "condition, a return value...) and runs the tests that cover that code: a **killed**",
        "mutant made a test fail, a **survivor** is a change no test noticed. Survivors are",
        "listed with the reason they are acceptable (`equivalent`: no observable change) or",
        "marked as work left (`todo`).",
        "",
        "| module | mutants | killed | survived | no tests | timeout | other |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for module in sorted(by_module):
        counts = by_module[module]
        other = sum(counts.values()) - sum(
            counts[s] for s in ("killed", "survived", "no tests", "timeout")
        )
        lines.append(
            f"| `{module}` | {sum(counts.values())} | {counts['killed']} | {counts['survived']} | "
            f"{counts['no tests']} | {counts['timeout']} | {other} |"
        )
    survivors = [m for m in mutants if m.status in ("survived", "no tests")]
    lines += ["", f"## Survivors ({len(survivors)})", ""]
    if not survivors:
        lines.append("None.")
    for mutant in sorted(survivors, key=lambda m: m.name):
        key = keys[mutant.name]
        if key in known["equivalent"]:
            verdict = f"equivalent: {known['equivalent'][key]}"
        elif key in known["todo"]:
            verdict = f"todo: {known['todo'][key]}"
        else:
            verdict = "**unexplained**"
        lines.append(f"- `{key}` ({mutant.status}) — {verdict}")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    # A kill must not hang on a random example: the full run and CI's sample both see the
    # derandomized Hypothesis examples (tests/conftest.py), so a survivor stays a survivor.
    os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")
    parser = argparse.ArgumentParser(
        prog="python -m mutation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sample", type=int, help="run only this many mutants, chosen at random")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the sample (default: random)"
    )
    parser.add_argument(
        "--record-todo",
        action="store_true",
        help="(full run) list every unexplained survivor as todo in mutation/known.toml and drop "
        "todos that are killed now: the baseline the CI sample then holds the code to",
    )
    args = parser.parse_args(argv)

    known = load_known()
    if args.sample:
        everything = generate()
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
        chosen = sorted(
            random.Random(seed).sample(
                [m.name for m in everything], min(args.sample, len(everything))
            )
        )
        print(f"mutation sample: {len(chosen)} of {len(everything)} mutants, seed {seed}")
        outcome = {m.name: m for m in run(chosen)}
        mutants = [outcome[name] for name in chosen]
    else:
        mutants = run(None)

    survivors = [m for m in mutants if m.status in ("survived", "no tests")]
    keys = {m.name: key_of(m) for m in survivors}
    counts = Counter(m.status for m in mutants)
    print("mutation: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    unexplained = [
        keys[m.name]
        for m in survivors
        if keys[m.name] not in known["equivalent"] and keys[m.name] not in known["todo"]
    ]
    if args.record_todo and not args.sample:
        surviving = set(keys.values())
        known["todo"] = {k: v for k, v in known["todo"].items() if k in surviving}
        known["todo"].update(dict.fromkeys(unexplained, "not killed yet"))
        write_known(known)
        print(f"recorded {len(unexplained)} new todo(s) in {KNOWN.relative_to(ROOT)}")
        unexplained = []
    failed = False
    if unexplained:
        failed = True
        print(
            f"{len(unexplained)} survivor(s) no test kills and mutation/known.toml does not list:"
        )
        for key in unexplained:
            print(f"  {key}")
    if not args.sample:
        write_report(mutants, keys, known)
        print(f"wrote {REPORT.relative_to(ROOT)}")
        surviving_keys = set(keys.values())
        healed = [key for key in known["todo"] if key not in surviving_keys]
        if healed:
            failed = True
            print("killed now, remove from the todo list in mutation/known.toml:")
            for key in healed:
                print(f"  {key}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
