"""Peak memory of a conformance run over many ids: the worker pool keeps it flat, whatever the id count.

    .venv/bin/python benchmarks/conformance_memory.py [--ids 100000] [--concurrency 16] [--budget-mib 150]

Starts `m3ter-sandbox serve --rate-limit 0` on a free 127.0.0.1 port (its own process; every id of this run
is unknown to it, so it answers 404), writes an ids file of ``--ids`` bill ids, runs `m3ter-conformance`
against it in a child process (`--max-retries 2 --no-state --quiet --report-json`), and prints the child's
peak RSS (``ru_maxrss`` of the waited-for child), wall time, reads per second and the report's problem
count. Exits 1 when the peak is above ``--budget-mib``. Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--budget-mib", type=float, default=150.0)
    args = parser.parse_args(argv)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "m3ter_contract.sandbox.cli", "serve", "--port", "0", "--json", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        details = json.loads(sandbox.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            ids = Path(tmp) / "ids.txt"
            ids.write_text("".join(f"bill missing-{n:07d}\n" for n in range(args.ids)), encoding="utf-8")
            report = Path(tmp) / "report.json"
            env = {
                "M3TER_ORG_ID": details["org_id"],
                "M3TER_API_KEY": details["api_key"],
                "M3TER_API_SECRET": details["api_secret"],
                "PATH": "",
            }
            command = [
                sys.executable,
                "-m",
                "m3ter_contract.conformance.cli",
                "--base-url",
                details["url"],
                "--ids-file",
                str(ids),
                "--rate",
                "10000",
                "--i-know-the-rate-limit",
                "--concurrency",
                str(args.concurrency),
                "--max-retries",
                "2",
                "--no-state",
                "--quiet",
                "--report-json",
                str(report),
            ]
            started = time.perf_counter()
            run = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=False)
            code = run.returncode
            if not report.is_file():
                print(run.stderr[-2000:], file=sys.stderr)
                return 2
            elapsed = time.perf_counter() - started
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
            listed = json.loads(report.read_text(encoding="utf-8"))["problems"]
            problems = len(listed)
            kinds = Counter(problem["kind"] for problem in listed)
            firsts = {problem["kind"]: problem["message"] for problem in reversed(listed)}
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(
        f"{args.ids} ids, concurrency {args.concurrency}: exit {code}, {problems} problems, {elapsed:.1f} s "
        f"({args.ids / elapsed:.0f} reads/s), peak RSS of the check {peak_mib:.1f} MiB (budget {args.budget_mib:g})"
    )
    for kind, count in kinds.most_common():
        print(f"  {count} {kind} problem(s), e.g. {firsts[kind][:160]}")
    return 0 if peak_mib <= args.budget_mib and kinds == Counter({"not-found": args.ids}) else 1


if __name__ == "__main__":
    raise SystemExit(main())
