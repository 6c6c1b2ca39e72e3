"""Create or refresh .venv with exactly pinned tools; needs only python3 (see ``m3ter_dev.bootstrap``).

python3 scripts/bootstrap.py            # make sure .venv is ready
python3 scripts/bootstrap.py --freeze   # rewrite scripts/constraints.txt from .venv
"""

import sys

from m3ter_dev.bootstrap import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
