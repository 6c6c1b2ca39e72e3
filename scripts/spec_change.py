"""The spec-change pipeline, the same locally and in CI (see ``m3ter_dev.spec_change``).

    python3 scripts/spec_change.py --base origin/main --check --tests

Runs inside .venv (created on first use) unless ``--no-bootstrap`` is given.
"""

import sys

from m3ter_dev.bootstrap import reexec_in_venv

if __name__ == "__main__":
    own = sys.argv[1 : sys.argv.index("--")] if "--" in sys.argv else sys.argv[1:]  # after --: pytest's
    if "--no-bootstrap" not in own:
        reexec_in_venv("dev")
    from m3ter_dev.spec_change import main  # needs .venv's packages (yaml), so only after the re-exec

    raise SystemExit(main(sys.argv[1:]))
