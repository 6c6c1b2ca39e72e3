"""Client-side CPU instructions per async Retrieve Bill, counted by valgrind's callgrind: a steadier measure
of the async fan-out than wall time on a shared machine (``async_fanout.py`` times the same calls).

    .venv/bin/python benchmarks/async_instructions.py [--calls 500,1500] [--tasks 32] [--only NAMES]

Starts the sandbox (its own process, 127.0.0.1, rate limit off; not counted) and runs each contender of
``async_fanout.py`` under ``valgrind --tool=callgrind`` twice in a fresh process, with the fewer and then
the more calls (32 concurrent tasks, the seeded small bill): the difference divided by the difference in
calls is the instructions one call costs, start-up, imports and the token excluded. Instructions are not
time (cache misses and system calls are not in them). They move far less than wall time, but not nothing:
how the client's reads and the sandbox's replies interleave changes the event loop's work per call, and
that depends on what else runs. The same code counted 796k per call twice on an idle machine and 719k
while a test run shared the cores, so compare versions only on an idle machine, in runs next to each
other. Needs ``valgrind`` on PATH; each contender takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import async_fanout as fanout

DEFAULT = ("ours (aiohttp extra)", "aiohttp + msgspec", "ours (httpx, default)")


async def child(name: str, sandbox: fanout.Sandbox, calls: int, tasks: int) -> None:
    call, close = await fanout.CONTENDERS[name](sandbox)
    await call(sandbox.small)  # the token, imports and connections: in both counts, so not in the difference
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call(sandbox.small)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    await close()


def counted(name: str, sandbox: fanout.Sandbox, calls: int, tasks: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__]
        command += ["--child", name, "--calls", str(calls), "--tasks", str(tasks)]
        env = {**os.environ, "ASYNC_INSTRUCTIONS_SANDBOX": json.dumps(dataclasses.asdict(sandbox))}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{name}: callgrind run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="500,1500", help="the two numbers of calls, comma separated")
    parser.add_argument("--tasks", type=int, default=32, help="concurrent tasks")
    parser.add_argument(
        "--only",
        default="",
        help="parts of async_fanout's contender names, comma separated (default: ours, aiohttp)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sandbox = fanout.Sandbox(**json.loads(os.environ["ASYNC_INSTRUCTIONS_SANDBOX"]))
        asyncio.run(child(args.child, sandbox, int(args.calls), args.tasks))
        return 0
    fewer, more = (int(part) for part in args.calls.split(","))
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH", file=sys.stderr)
        return 2
    parts = [part for part in args.only.split(",") if part]
    names = [name for name in fanout.CONTENDERS if any(part in name for part in parts)] if parts else list(DEFAULT)
    if not names:
        print(f"no contender matches {args.only!r}; known: {sorted(fanout.CONTENDERS)}", file=sys.stderr)
        return 2
    process, sandbox = fanout.start_sandbox()
    try:
        per_call: dict[str, float] = {}
        for name in names:
            low = counted(name, sandbox, fewer, args.tasks)
            high = counted(name, sandbox, more, args.tasks)
            per_call[name] = (high - low) / (more - fewer)
            print(f"  {name:30s} {per_call[name] / 1000:8.0f}k instructions per call", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
    ours, bare = per_call.get("ours (aiohttp extra)"), per_call.get("aiohttp + msgspec")
    default = per_call.get("ours (httpx, default)")
    if ours and bare:
        print(f"aiohttp + msgspec / aiohttp extra: {bare / ours:.2f}x (the instructions ratio; target for req/s 0.6x)")
    if ours and default:
        print(f"default / aiohttp extra: {default / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
