"""The main job: the conformance check, from a fresh machine with only python3.

    python3 scripts/conformance.py                       # check the embedded local sandbox
    python3 scripts/conformance.py --base-url https://api.m3ter.com --bill-id ... --statement-job-id ...

Creates .venv with the pinned dependencies on first use, then runs ``m3ter-conformance`` with the
arguments given (see ``--help``).
"""

import sys

from m3ter_dev.bootstrap import reexec_in_venv

if __name__ == "__main__":
    reexec_in_venv("dev")
    from m3ter_contract.conformance.command import main  # importable only inside .venv, after the re-exec

    raise SystemExit(main(sys.argv[1:]))
