"""Print the generated/CHANGELOG.md entry the next regeneration would write (see ``m3ter_dev.changelog``).

.venv/bin/python scripts/changelog.py
"""

from m3ter_dev.changelog import main

if __name__ == "__main__":
    raise SystemExit(main())
