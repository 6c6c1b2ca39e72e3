"""The client's declared dependency ranges are true at their floors (see ``m3ter_dev.floors``).

python3 scripts/check_floors.py          # or: python3 scripts/check.py floors
"""

from m3ter_dev.floors import main

if __name__ == "__main__":
    raise SystemExit(main())
