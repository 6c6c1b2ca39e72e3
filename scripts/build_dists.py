"""Build the sdists and wheels of the client and the harness into dist/ (see ``m3ter_dev.dists``).

    python3 scripts/build_dists.py [--outdir DIR]

Runs inside .venv (created on first use).
"""

import sys

from m3ter_dev.bootstrap import reexec_in_venv

if __name__ == "__main__":
    reexec_in_venv("dev")
    from m3ter_dev.dists import main  # needs .venv's packages (build), so only after the re-exec

    raise SystemExit(main(sys.argv[1:]))
