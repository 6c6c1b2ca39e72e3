"""Regenerate generated/ from spec/ and overrides/, byte for byte; ``--check`` fails on drift.

    python scripts/regenerate.py           # rewrite generated/
    python scripts/regenerate.py --check   # exit 1 and print the diff when generated/ is stale

The generator (openapi-python-client) and formatter (ruff) are the versions pinned in pyproject.toml;
this script refuses to run with others, because another version writes other bytes.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import changelog  # noqa: E402  (scripts/changelog.py: generated/CHANGELOG.md from the classified spec changes)

SPEC = ROOT / "spec" / "m3ter-billing.yaml"
OVERRIDES = ROOT / "overrides"
GENERATED = ROOT / "generated"
PACKAGE = "m3ter_billing"
# Every tool whose version changes the bytes written: the generator, its template engine, the formatter.
PINNED = {"openapi-python-client": "0.29.1", "jinja2": "3.1.6", "ruff": "0.17.6"}


def package_version(spec: Path = SPEC, overrides: Path = OVERRIDES) -> str:
    """The generated package's version: the spec's ``info.version`` and the overrides' revision."""
    info_version = str(yaml.safe_load(spec.read_text())["info"]["version"])
    revision = int((overrides / "REVISION").read_text().strip())
    return f"{info_version}.{revision}"


def _check_pins() -> None:
    for name, version in PINNED.items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"regenerate: {name} is not installed ({version} is pinned); run python3 scripts/bootstrap.py")
        if found != version:
            sys.exit(f"regenerate: {name} {found} is installed, {version} is pinned; run python3 scripts/bootstrap.py")


def _run(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"regenerate: {' '.join(args[:3])} failed:\n{result.stdout}\n{result.stderr}")


def build(destination: Path, spec: Path = SPEC, overrides: Path = OVERRIDES) -> None:
    """Write the generated project for ``spec`` + ``overrides`` into ``destination`` (which must not exist)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = yaml.safe_load((overrides / "config.yaml").read_text())
        config["package_version_override"] = package_version(spec, overrides)
        config_path = Path(tmp) / "config.yaml"
        config_path.write_text(yaml.safe_dump(config))
        _run(
            [
                sys.executable,
                "-m",
                "openapi_python_client",
                "generate",
                "--path",
                str(spec),
                "--config",
                str(config_path),
                "--custom-template-path",
                str(overrides / "templates"),
                "--meta",
                "uv",
                "--output-path",
                str(destination),
                "--fail-on-warning",
            ],
            cwd=Path(tmp),
        )
    for module in sorted((overrides / "package").glob("*.py")):
        shutil.copyfile(module, destination / PACKAGE / module.name)
    (destination / PACKAGE / "py.typed").write_text("")
    gitignore = destination / ".gitignore"
    if gitignore.exists():
        gitignore.unlink()
    try:
        changelog.update(destination, GENERATED if spec == SPEC else None, spec, package_version(spec, overrides))
    except changelog.VersionError as exc:
        sys.exit(f"regenerate: {exc}")
    ruff = [sys.executable, "-m", "ruff"]
    _run([*ruff, "check", "--no-cache", "--fix", "--quiet", "."], cwd=destination)
    _run([*ruff, "format", "--no-cache", "--quiet", "."], cwd=destination)


def _files(root: Path) -> set[Path]:
    ignored = {"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"}
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and not ignored.intersection(p.parts)}


def _lines(path: Path) -> list[str] | None:
    """The file's lines, or None when it is not UTF-8 text (a binary file is reported, not diffed)."""
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def diff(fresh: Path, committed: Path) -> str:
    """A unified diff from ``committed`` to ``fresh`` ('' when they are the same)."""
    out: list[str] = []
    fresh_files, committed_files = _files(fresh), _files(committed) if committed.exists() else set()
    for rel in sorted(fresh_files | committed_files):
        a, b = committed / rel, fresh / rel
        if rel in fresh_files and rel in committed_files and filecmp.cmp(a, b, shallow=False):
            continue
        old = _lines(a) if rel in committed_files else []
        new = _lines(b) if rel in fresh_files else []
        if old is None or new is None:
            out.append(f"Binary files generated/{rel} and regenerated/{rel} differ\n")
            continue
        out.extend(difflib.unified_diff(old, new, f"generated/{rel}", f"regenerated/{rel}"))
        if not out or not out[-1].endswith("\n"):
            out.append("\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if generated/ is stale")
    args = parser.parse_args(argv)
    _check_pins()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "generated"
        build(fresh)
        changes = diff(fresh, GENERATED)
        if args.check:
            if changes:
                sys.stdout.write(changes)
                print("generated/ is stale: run `python scripts/regenerate.py` and commit the result", file=sys.stderr)
                return 1
            print("generated/ is up to date")
            return 0
        if GENERATED.exists():
            shutil.rmtree(GENERATED)
        shutil.copytree(fresh, GENERATED)
        print("generated/ rewritten" if changes else "generated/ already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
