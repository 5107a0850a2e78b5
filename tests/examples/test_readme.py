"""The README's examples: every command exists, every file an example reads is in the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from meshsim.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
# files the examples write (outputs) or that an earlier example writes for a later one
WRITTEN = {"out.json", "report.html", "slo.xml", "policies.yaml", "traces.json", "twin.yaml"}


def _commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            code = line.split("#", 1)[0].strip()
            for part in code.split(";"):
                if part.strip().startswith("meshsim "):
                    lines.append(shlex.split(part.split(">", 1)[0]))
    return lines


def test_every_readme_example_names_a_command_and_files_the_repo_has() -> None:
    commands = _commands()
    assert len(commands) >= 10
    for argv in commands:
        assert argv[1] in COMMANDS or argv[1] == "--help", argv
        for arg in argv[2:]:
            if arg.startswith("-") or "=" in arg or not re.search(r"\.(ya?ml|json|prom)$|/$", arg):
                continue
            assert arg in WRITTEN or (ROOT / arg).exists(), f"README example reads {arg}, which the repository lacks"
