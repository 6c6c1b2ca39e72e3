"""Classify the changes between two versions of the spec (see ``m3ter_dev.spec_diff.cli``); inside .venv.

.venv/bin/python scripts/spec_diff.py --base origin/main    # a git revision against the working tree
.venv/bin/python scripts/spec_diff.py --kinds               # the classification table
"""

import sys

from m3ter_dev.spec_diff.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
