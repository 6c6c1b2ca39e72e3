"""The one check shared by local runs, tox, pre-commit and CI (see ``m3ter_dev.check``).

python3 scripts/check.py                   # everything (creates .venv with pinned tools first)
python3 scripts/check.py lint tests        # some steps
python3 scripts/check.py tests -- -k auth  # arguments after -- go to pytest
"""

import sys

from m3ter_dev.check import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
