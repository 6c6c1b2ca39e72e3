"""CPU per entity of the conformance check, this tree against an earlier commit, side by side in one run.

    .venv/bin/python benchmarks/conformance_cost.py [--sizes 1000,10000] [--before REF] [--rounds 1]

``--before`` (default: the merge base of HEAD and ``main``) is checked out with ``git worktree add`` into a
temporary directory (removed at the end); each measurement runs in a fresh child process whose PYTHONPATH puts
that tree's ``contract_tests`` and ``generated`` first, so the same interpreter and dependencies run the old
code and the new. A child builds an in-process sandbox on a manual clock (rate limit off) with the seeded
entities plus generated ones (4/5 bills of 0-8 line items, 1/5 statement jobs; the seeded 2,000-item bill
included), runs ``check_sandbox`` (every read through the ASGI app, no socket; statement downloads on) and
reports ``time.process_time`` per entity, observations, findings and peak RSS (``ru_maxrss``). CPU per entity
includes the sandbox answering, the client decoding and the judge: what a user of the embedded check pays.
Rounds alternate before/after; the best of each is kept. Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import asyncio, json, resource, sys, time
from m3ter_contract.conformance.embedded import add_bills, add_statement_jobs, check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import Spec
from m3ter_contract.sandbox import ManualClock, Sandbox

n = int(sys.argv[1])
sandbox = Sandbox(clock=ManualClock(), rate_limit=None)
bills = add_bills(sandbox, n * 4 // 5, seed=0)
add_statement_jobs(sandbox, n // 5, bills)
spec = Spec.load()
started = time.process_time()
result = asyncio.run(check_sandbox(sandbox, Options(rate=1e9), spec=spec))
cpu = time.process_time() - started
entities = len(sandbox.bill_ids) + len(sandbox.statement_job_ids)
print(json.dumps({
    "entities": entities,
    "observations": result.observations,
    "findings": len(result.findings),
    "problems": len(result.problems),
    "cpu": cpu,
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(tree: Path, size: int) -> dict[str, float]:
    path = os.pathsep.join([str(tree / "contract_tests"), str(tree / "generated")])
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(size)], env=env, capture_output=True, text=True, check=False, cwd=tree
    )
    if done.returncode != 0:
        raise RuntimeError(f"the child for {tree} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="entity counts (default 1000,10000)")
    parser.add_argument("--before", default=None, help="git ref of the old code (default: merge base with main)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per size (best kept)")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",")]
    ref = (
        args.before
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="conformance-cost-") as scratch:
        old = Path(scratch) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), ref], cwd=ROOT, check=True, capture_output=True)
        try:
            print(f"conformance CPU per entity: before = {ref[:12]}, after = this tree ({ROOT.name})")
            print(
                f"{'entities':>9} {'before ms':>10} {'after ms':>9} {'ratio':>6} {'obs':>7} {'findings b/a':>13} "
                f"{'maxrss MiB b/a':>15}"
            )
            for size in sizes:
                best: dict[str, dict[str, float]] = {}
                for _ in range(args.rounds):
                    for label, tree in (("before", old), ("after", ROOT)):
                        got = measure(tree, size)
                        if label not in best or got["cpu"] < best[label]["cpu"]:
                            best[label] = got
                before, after = best["before"], best["after"]
                per_before = before["cpu"] / before["entities"] * 1000
                per_after = after["cpu"] / after["entities"] * 1000
                print(
                    f"{int(after['entities']):9d} {per_before:10.2f} {per_after:9.2f} {per_before / per_after:5.2f}x "
                    f"{int(after['observations']):7d} {int(before['findings']):6d}/{int(after['findings']):<6d} "
                    f"{before['maxrss_mib']:7.0f}/{after['maxrss_mib']:<7.0f}"
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
