"""User-facing errors: one clear message with file, line and field.

The CLI turns every :class:`MeshsimInputError` into that message and exit code 2;
nothing else the user gave us should ever produce a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InputProblem", "MeshsimInputError"]


@dataclass(frozen=True)
class InputProblem:
    """One problem in one input file."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def render(self) -> str:
        """Return ``file:line:col: field: message`` with the parts that are known."""
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


@dataclass
class MeshsimInputError(Exception):
    """Bad input from the user (scenario, SLO file, trace, mesh configuration)."""

    problems: list[InputProblem] = field(default_factory=list)

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        problems: list[InputProblem] | None = None,
    ) -> None:
        """One problem from ``message`` and its location, and/or the given ``problems``.

        Args:
            message: the first problem's text (None: only ``problems``).
            file: the file ``message`` is about.
            line: the line in that file.
            column: the column in that line.
            field: the dotted field path.
            problems: further problems, after the one ``message`` makes.
        """
        self.problems = list(problems or [])
        if message is not None:
            self.problems.insert(0, InputProblem(message, file=file, line=line, column=column, field=field))
        super().__init__(self.render())

    def render(self) -> str:
        """All problems, one per line."""
        return "\n".join(p.render() for p in self.problems)

    def __str__(self) -> str:
        """All problems, one per line (as :meth:`render`)."""
        return self.render()
