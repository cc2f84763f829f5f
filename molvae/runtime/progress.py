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


class LineProgress:
    """A tqdm-like counter writing ``desc: n/total unit (p%), rate/s, elapsed`` lines to a stream."""

    def __init__(
        self,
        total: int | None = None,
        desc: str | None = None,
        unit: str = "it",
        initial: int = 0,
        file: TextIO | None = None,
        percent: float = LINE_PERCENT,
        seconds: float = LINE_SECONDS,
    ):
        self.total, self.desc, self.unit, self.n = total, desc or "progress", unit, initial
        self.file = file
        self.percent, self.seconds = percent, seconds
        self.start = self._last_time = time.monotonic()
        self._last_n = self._initial = initial
        self._closed = False

    def _line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = (self.n - self._initial) / elapsed if elapsed > 0 else 0.0
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" ({100.0 * self.n / self.total:.0f}%)" if self.total else ""
        return f"{self.desc}: {done} {self.unit}{pct}, {rate:.0f} {self.unit}/s, {elapsed:.0f} s"

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
) -> Any:
    """A progress counter: tqdm on a terminal, :class:`LineProgress` lines otherwise, nothing if ``disable``.

    Use it like tqdm (``update``, ``set_postfix_str``, ``close``, or as a context manager).
    """
    if disable:
        return _Off()
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave)
    return LineProgress(total, desc, unit, initial)
