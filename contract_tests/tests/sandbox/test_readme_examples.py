"""The README's sandbox section runs as written: each ```python block of "As a test dependency" is run in a
fresh interpreter (a block that defines tests is run by pytest, with the fixtures the installed plugin
registers), from an empty folder, with no M3TER_* setting, so nothing reaches a real organization."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SECTION = "### As a test dependency"


def _blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.index("\n## ", start)
    return re.findall(r"^```python\n(.*?)^```$", readme[start:end], re.S | re.M)


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("M3TER_")}


def test_the_section_has_the_examples_it_promises() -> None:
    blocks = _blocks()
    assert len(blocks) >= 3
    assert any("clock=clock.now, sleep=clock.advance" in block for block in blocks)
    assert any("def test_" in block for block in blocks)


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_each_example_runs_as_written(index: int, tmp_path: Path) -> None:
    block = _blocks()[index]
    script = tmp_path / ("test_readme_example.py" if "def test_" in block else "readme_example.py")
    script.write_text(block, encoding="utf-8")
    if "def test_" in block:
        # pytest-asyncio (installed here, maybe not for the reader) warns about its own unset option in a
        # folder without configuration; the example needs no asyncio, so its warnings stay errors.
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"]
        command.append(str(script))
    else:
        command = [sys.executable, "-W", "error", str(script)]
    result = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    if "def test_" in block:
        assert f"{block.count('def test_')} passed" in result.stdout
