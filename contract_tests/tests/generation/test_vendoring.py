"""The generated package works as a vendored copy, with nothing but its runtime dependencies importable."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# httpx and what it imports, msgspec, httpx-retries: the runtime dependencies and theirs.
ALLOWED = {"httpx", "httpcore", "h11", "anyio", "sniffio", "idna", "certifi", "msgspec", "httpx_retries"}

SCRIPT = textwrap.dedent(
    """
    import sys

    ALLOWED = set(sys.argv[1].split(","))

    class OnlyRuntimeDependencies:
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in sys.stdlib_module_names or top in ALLOWED or top == "m3ter_billing" or top.startswith("_"):
                return None
            raise ImportError(f"the vendored package imported {name!r}")

    sys.meta_path.insert(0, OnlyRuntimeDependencies())

    import httpx
    import m3ter_billing
    assert m3ter_billing.__file__.startswith(sys.argv[2]), m3ter_billing.__file__

    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t" * 20, "token_type": "Bearer", "expires_in": 18000})
        if request.url.path.endswith("/bills/b1"):
            return httpx.Response(200, json={"id": "b1", "version": 2, "status": "APPROVED", "newField": 1})
        return httpx.Response(404, json={"message": "not found"})

    client = m3ter_billing.M3terBilling(
        base_url="https://api.example.test", org_id="o", api_key="k", api_secret="s" * 12,
        transport=httpx.MockTransport(handler),
    )
    bill = client.bills.retrieve("b1")
    assert bill.version == 2 and bill.status is m3ter_billing.BillStatus.APPROVED
    assert bill.additional_properties == {"newField": 1}
    try:
        client.statement_jobs.retrieve("missing")
    except m3ter_billing.NotFoundError as exc:
        assert exc.status_code == 404
    else:
        raise AssertionError("expected NotFoundError")
    print("ok")
    """
)


def test_a_vendored_copy_runs_with_only_its_runtime_dependencies(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    shutil.copytree(ROOT / "generated" / "m3ter_billing", vendor / "m3ter_billing")
    result = subprocess.run(
        [
            sys.executable,
            "-c",  # with -c the current directory, the vendor folder, comes first on sys.path
            SCRIPT,
            ",".join(sorted(ALLOWED)),
            str(vendor),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=vendor,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
