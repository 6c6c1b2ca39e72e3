"""Build the two distributions for an index: the client (generated/) and the harness (the root).

    python3 scripts/build_dists.py                 # sdists and wheels into dist/
    python3 scripts/build_dists.py --outdir DIR

Each wheel is built from its sdist (``python -m build``), which proves the sdist holds what a build needs.
The harness names the client by a version range here (``M3TER_CLIENT_REQUIREMENT=version``, read by
hatch_build.py), never by a path of this machine, so the wheels install side by side into any environment:

    pip install dist/m3ter_billing-*.whl dist/m3ter_billing_contract-*.whl
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import CLIENT_REQUIREMENT_ENV
from .layout import GENERATED, ROOT


@dataclass(frozen=True)
class Built:
    """The files of one distribution."""

    sdist: Path
    wheel: Path


class BuildError(RuntimeError):
    """``python -m build`` failed; the message carries its output."""


def build(source: Path, outdir: Path) -> Built:
    """The sdist and the wheel (built from the sdist) of the project in ``source``."""
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(outdir), str(source)],
        env={**os.environ, CLIENT_REQUIREMENT_ENV: "version"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"building {source} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    new = set(outdir.iterdir()) - before
    [sdist] = [path for path in new if path.name.endswith(".tar.gz")]
    [wheel] = [path for path in new if path.suffix == ".whl"]
    return Built(sdist, wheel)


def build_all(outdir: Path) -> dict[str, Built]:
    """Both distributions, by project name."""
    return {"m3ter-billing": build(GENERATED, outdir), "m3ter-billing-contract": build(ROOT, outdir)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (standard library only: ``--help`` and usage errors are answered before .venv is
    created)."""
    parser = argparse.ArgumentParser(
        prog="build_dists.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist", help="where to write them (default: dist/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        built = build_all(args.outdir)
    except BuildError as exc:
        print(f"build_dists: {exc}", file=sys.stderr)
        return 1
    for name, files in built.items():
        print(f"{name}: {files.sdist}\n{' ' * len(name)}  {files.wheel}")
    return 0
