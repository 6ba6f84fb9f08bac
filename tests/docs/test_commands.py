"""README's test command is the one CI runs (.ci/run) and scripts/test runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_and_scripts_run_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    command = blocks[1].strip()  # the second command at the top: run the tests
    assert command.startswith("python -m pytest ") and "\n" not in command, command
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci, ".ci/run does not run README's test command"
    script = (ROOT / "scripts" / "test").read_text()
    assert f'exec {command} "$@"' in script, "scripts/test does not run README's test command"
