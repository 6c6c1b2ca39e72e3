"""Build the sdists and wheels of the client and the harness into dist/ (see ``m3ter_dev.dists``).

    python3 scripts/build_dists.py [--outdir DIR]

Runs inside .venv (created on first use; ``--help`` and a usage error need none).
"""

import sys

from m3ter_dev.bootstrap import reexec_in_venv

if __name__ == "__main__":
    from m3ter_dev.dists import main, parse_args  # the standard library only; building runs .venv's `build`

    parse_args(sys.argv[1:])  # --help and usage errors before .venv is created or updated
    reexec_in_venv("dev")
    raise SystemExit(main(sys.argv[1:]))
