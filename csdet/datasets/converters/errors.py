"""Problems found in a converter's input, reported all at once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input (or a warning), tied to a file and,
    for text formats, to a 1-based line."""
    path: Path
    message: str
    line: Optional[int] = None

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else (
            f'{self.path}:{self.line}')
        return f'{where}: {self.message}'


class ConversionError(RuntimeError):
    """The input is invalid; ``problems`` lists everything found.

    Raised before anything is written, so the output folder is untouched.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        lines = '\n'.join(f'  - {problem}' for problem in self.problems)
        super().__init__(f'{len(self.problems)} problem(s) found, nothing was '
                         f'written:\n{lines}')
