"""Terminal output for the recovery tools: rich when available, plain text otherwise."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
PLAIN_WIDTH = 160  # when not a terminal (pipes, tests): wide enough that cells never wrap


class UI:
    def __init__(self, out=None, err=None, plain: bool = False):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.console = None
        self.err_console = None
        if not plain:
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                tty = _isatty(self.out)
                self.console = Console(file=self.out, highlight=False, width=None if tty else PLAIN_WIDTH)
                self.err_console = Console(file=self.err, highlight=False, width=None if _isatty(self.err) else PLAIN_WIDTH)

    # -- text -----------------------------------------------------------------------

    def say(self, text: str = "", style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        if self.err_console is not None:
            self.err_console.print(text, style="bold red", markup=False, soft_wrap=True)
        else:
            print(text, file=self.err, flush=True)

    def raw(self, text: str) -> None:
        """Text printed exactly as it is (JSON, framed messages)."""
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    # -- tables ---------------------------------------------------------------------

    def table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
              styles: Sequence[str | None] | None = None) -> None:
        """`styles`: one rich style per row (colour on a terminal; plain text ignores it)."""
        rows = [[_cell(value) for value in row] for row in rows]
        if self.console is not None:
            from rich.table import Table

            table = Table(title=title, title_justify="left")
            for name in columns:
                table.add_column(name, overflow="fold")
            for i, row in enumerate(rows):
                table.add_row(*row, style=styles[i] if styles else None)
            self.console.print(table)
            return
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
        lines = [title] if title else []
        lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
        print("\n".join(lines), file=self.out, flush=True)

    # -- progress -------------------------------------------------------------------

    def progress(self, items: Sequence[T], description: str) -> Iterator[T]:
        """Iterate `items` with a progress bar on a terminal (nothing extra otherwise)."""
        if self.err_console is not None and _isatty(self.err) and len(items) > 1:
            from rich.progress import track

            yield from track(items, description=description, console=self.err_console, transient=True)
        else:
            yield from items

    # -- questions ------------------------------------------------------------------

    def confirm(self, question: str) -> bool:
        self.out.write(f"{question} [y/N] ")
        self.out.flush()
        answer = sys.stdin.readline().strip().lower()
        return answer in ("y", "yes")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return "; ".join(map(str, value)) or "-"
    return str(value)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
