"""The main job: the conformance check, from a fresh machine with only python3.

    python3 scripts/conformance.py                       # check the embedded local sandbox
    python3 scripts/conformance.py --base-url https://api.m3ter.com --bill-id ... --statement-job-id ...

Creates .venv with the pinned dependencies on first use, then runs ``m3ter-conformance`` with the
arguments given (see ``--help``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from bootstrap import reexec_in_venv

    reexec_in_venv("dev")
    from m3ter_contract.conformance.cli import main

    raise SystemExit(main(sys.argv[1:]))
