"""Stopping long work cleanly on SIGINT (Ctrl-C) or SIGTERM.

Training, ``generate_to_file`` and the latent search run inside :class:`StopSignals`: the first
signal only sets :attr:`StopSignals.received`, the work stops at its next safe point, keeps what
it has (a checkpoint, the rows written, the best molecules so far) and raises an
:class:`~molvae.errors.Interrupted` error whose ``exit_code`` (130 for SIGINT, 143 for SIGTERM)
the command line exits with. A second signal stops at once (:class:`KeyboardInterrupt`). Worker
processes ignore SIGINT (:func:`molvae.runtime.parallel.init_worker`): Ctrl-C reaches the whole
process group, and the main process decides what it means.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


class StopSignals:
    """While active (in the main thread), SIGINT and SIGTERM set :attr:`received` (the signal's
    name) instead of stopping the process; a second signal raises :class:`KeyboardInterrupt`.

    ``doing`` says what happens next, for the warning logged on the first signal (e.g. "saving a
    checkpoint, then stopping"). Outside the main thread it installs nothing (Python allows
    signal handlers only there) and :attr:`received` stays None.

    >>> with StopSignals("stopping") as stop:
    ...     stop.received is None
    True
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, doing: str = "stopping") -> None:
        self.doing = doing
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        log.warning("%s received: %s (send it again to stop at once)", self.received, self.doing)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name)
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
