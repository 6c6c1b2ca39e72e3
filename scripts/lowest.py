"""The lowest-dependencies check of CI's `lowest` job (see ``m3ter_dev.lowest``).

    python3 scripts/lowest.py constraints harness   # the floors, as pip constraints
    python3 scripts/lowest.py run harness           # install them into a fresh venv and run the tests

Standard library only: runs with a bare python3, before any environment exists.
"""

import sys

from m3ter_dev.lowest import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
