"""Progress bars that suit where stderr goes.

On a terminal, :func:`progress_bar` is a tqdm bar. When stderr is not a terminal (a log file, CI,
a batch job), tqdm's carriage-return updates would fill the log with thousands of lines, so a
:class:`LineProgress` writes one plain line instead every :data:`LINE_PERCENT` percent or
:data:`LINE_SECONDS` seconds, whichever comes first, and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

LINE_PERCENT = 10.0  # a plain line at least every this many percent ...
LINE_SECONDS = 30.0  # ... or every this many seconds, whichever comes first


def format_seconds(seconds: float) -> str:
    """A duration as a person reads it: tenths below 10 s (a 0.4 s run is not "0 s"), whole seconds above.

    >>> format_seconds(0.04), format_seconds(3.26), format_seconds(125.4)
    ('0.0 s', '3.3 s', '125 s')
    """
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def format_rate(n: float, seconds: float, unit: str) -> str:
    """``n`` per second over ``seconds``, with no more digits than the clock can support.

    >>> format_rate(1000, 3.3, "mol"), format_rate(5, 0.0, "mol"), format_rate(3, 2.0, "it")
    ('303 mol/s', '- mol/s', '1.5 it/s')
    """
    if seconds <= 0:
        return f"- {unit}/s"
    rate = n / seconds
    return f"{rate:.1f} {unit}/s" if rate < 10 else f"{rate:.0f} {unit}/s"


class LineProgress:
    """A tqdm-like counter writing ``desc: n/total unit (p%), rate/s, elapsed`` lines to a stream.

    ``started`` (a :func:`time.monotonic` value) is when the work began, if before the counter was
    made: the elapsed time and the rate count from it.
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str | None = None,
        unit: str = "it",
        initial: int = 0,
        file: TextIO | None = None,
        percent: float = LINE_PERCENT,
        seconds: float = LINE_SECONDS,
        started: float | None = None,
    ):
        self.total, self.desc, self.unit, self.n = total, desc or "progress", unit, initial
        self.file = file
        self.percent, self.seconds = percent, seconds
        self._last_time = time.monotonic()
        self.start = self._last_time if started is None else min(started, self._last_time)
        self._last_n = self._initial = initial
        self._closed = False

    def _line(self) -> str:
        elapsed = time.monotonic() - self.start
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" ({100.0 * self.n / self.total:.0f}%)" if self.total else ""
        rate = format_rate(self.n - self._initial, elapsed, self.unit)
        return f"{self.desc}: {done} {self.unit}{pct}, {rate}, {format_seconds(elapsed)}"

    def _write(self) -> None:
        stream = self.file or sys.stderr
        stream.write(self._line() + "\n")
        stream.flush()
        self._last_time, self._last_n = time.monotonic(), self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        due_pct = (
            self.total is not None and self.total > 0 and 100.0 * (self.n - self._last_n) / self.total >= self.percent
        )
        if due_pct or time.monotonic() - self._last_time >= self.seconds:
            self._write()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Accepted for tqdm compatibility; the text appears in the next line."""
        self.desc = self.desc.split(" [")[0] + (f" [{s}]" if s else "")

    def set_postfix(self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """tqdm's signature: ``refresh`` is an option, not a value to show."""
        items = {**(ordered_dict or {}), **kwargs}
        self.set_postfix_str(", ".join(f"{k}={v}" for k, v in items.items()))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n != self._last_n:
                self._write()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Off:
    """A disabled progress bar."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    disable: bool = False,
    initial: int = 0,
    leave: bool = False,
    started: float | None = None,
) -> Any:
    """A progress counter: tqdm on a terminal, :class:`LineProgress` lines otherwise, nothing if ``disable``.

    Use it like tqdm (``update``, ``set_postfix_str``, ``close``, or as a context manager).
    ``started``: the :func:`time.monotonic` time the work began, when some of it was done before
    the bar could be made (a first batch, say); elapsed time and rate then count from it, so the
    bar never shows a rate the work did not reach.
    """
    if disable:
        return _Off()
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave)
        if started is not None:  # tqdm counts from its own clock: move its start back by the time already spent
            bar.start_t -= max(0.0, time.monotonic() - started)
        return bar
    return LineProgress(total, desc, unit, initial, started=started)
