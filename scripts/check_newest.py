"""The whole test suite on the newest supported Python, at the pins (see ``m3ter_dev.newest``).

python3 scripts/check_newest.py          # or: python3 scripts/check.py newest
"""

from m3ter_dev.newest import main

if __name__ == "__main__":
    raise SystemExit(main())
