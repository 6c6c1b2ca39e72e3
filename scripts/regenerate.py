"""Regenerate generated/ from spec/ and overrides/ (see ``m3ter_dev.regenerate``); run inside .venv.

.venv/bin/python scripts/regenerate.py           # rewrite generated/
.venv/bin/python scripts/regenerate.py --check   # exit 1, the diff and the sources to edit when stale
"""

import sys

from m3ter_dev.regenerate import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
