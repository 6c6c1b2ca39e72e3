"""Apply an OpenAPI Overlay 1.0 document to the spec (see ``m3ter_dev.overlay``); run inside .venv.

.venv/bin/python scripts/apply_overlay.py drift.yaml           # e.g. from m3ter-conformance --suggest-overlay
.venv/bin/python scripts/apply_overlay.py drift.yaml --check   # exit 1 when it would change spec/
"""

import sys

from m3ter_dev.overlay import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
