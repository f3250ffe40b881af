"""The CLI's progress bar: tqdm on stderr when it is a terminal, one line per file at once."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm


class Bar:
    """A progress callback drawing a tqdm bar; `relabel` names the file once it is known."""

    def __init__(self, bar: tqdm[Any], label: str, *, resumable: bool, quiet: bool) -> None:
        self.bar, self.label, self.resumable, self.quiet = bar, label, resumable, quiet
        self.first = True

    def __call__(self, done: int, total: int | None) -> None:
        if self.resumable and self.first and done > 0 and not self.quiet:
            print(f"{self.label}: resuming from byte {done}", file=sys.stderr)
        self.first = False
        if total is not None and self.bar.total != total:
            self.bar.reset(total=total)
        self.bar.n = done
        self.bar.refresh()

    def relabel(self, path: Path) -> None:
        self.label = path.name
        self.bar.set_description(self.label, refresh=False)


@contextmanager
def progress_bar(
    label: str, *, quiet: bool, resumable: bool = False, line: int = 0
) -> Iterator[Bar]:
    """A progress bar on stderr when it is a terminal, on `line` (one per file uploading at
    once); a resumed upload says so once."""
    enabled = not quiet and sys.stderr.isatty()
    screen = shutil.get_terminal_size()  # a terminal that reports no size counts as 80x24
    bar = tqdm(
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
        file=sys.stderr,
        leave=False,
        ncols=screen.columns,
        nrows=screen.lines,
        position=line,
    )
    try:
        yield Bar(bar, label, resumable=resumable, quiet=quiet)
    finally:
        bar.close()
