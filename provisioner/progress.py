"""Apply's output: one line per finished change, and a live progress bar when on a terminal (rich).

With --no-color or NO_COLOR there is no bar: a live bar needs escape sequences (cursor moves, bold), and
plain output means none at all."""
from __future__ import annotations

import sys
import threading

import click

from . import render
from .scrub import scrub


def stdout_styled() -> bool:
    """Whether click.echo would keep colours on stdout (a terminal, or --color): otherwise output is built plain."""
    return not click.utils.should_strip_ansi(sys.stdout, click.globals.resolve_color_default())


class Progress:
    def __init__(self, total: int, *, enabled: bool):
        self._lock = threading.Lock()
        self._bar = None
        context = click.get_current_context(silent=True)
        plain = context is not None and context.color is False  # --no-color or NO_COLOR
        # Whether click.echo would keep colours on stdout, decided once: the lines are then built plain or
        # styled and written as they are (echo's per-line terminal checks and ANSI stripping cost more than
        # the line itself, on every change).
        self._styled = stdout_styled()
        if enabled and total and not plain:
            # rich only for a bar (a terminal): importing it costs a tenth of a second of a run that prints lines
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                       TimeElapsedColumn)

            self._bar = RichProgress(TextColumn("[bold]Applying"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("{task.description}"), transient=True)
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> "Progress":
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()

    def started(self, change) -> None:
        if self._bar:
            self._bar.update(self._task, description=f"{change.address}: {change.action.value}...")

    def finished(self, result) -> None:
        with self._lock:
            # A failure may quote what the platform echoed: scrubbed like every line.
            line = scrub(render.result_line(result, styled=self._styled or self._bar is not None))
            if self._bar:
                from rich.text import Text

                self._bar.console.print(Text.from_ansi(line), soft_wrap=True)
                self._bar.advance(self._task)
            else:
                # A line of our own words only (no message from anyone) is plain already where colours would be
                # stripped: written as it is. Anything else goes through echo's stripping as ever.
                own_words = result.ok and not result.message
                if own_words and not self._styled:  # plain text of our own: written as it is, in one call
                    stream = sys.stdout
                    stream.write(line + "\n")
                    stream.flush()
                else:
                    click.echo(line)
