"""Worker processes for RDKit work: the one process-pool helper of molvae.

* :func:`resolve_jobs` turns a user's ``n_jobs``/``--jobs`` into a number of processes;
* :func:`executor` makes a :class:`~concurrent.futures.ProcessPoolExecutor` whose workers have
  RDKit's log lines silenced (used directly where work is submitted as it comes, e.g. the
  chemistry of :class:`molvae.chem.checks.ChemistryPool` overlapped with sampling);
* :func:`pmap` is an ordered ``map`` over such a pool with an optional progress bar, run in this
  process for small inputs;
* :func:`torch_threads` sets torch's CPU threads inside a block;
* :func:`quiet_openmp_threads` (called by ``import molvae``) makes torch's idle OpenMP threads
  sleep instead of spinning, and :func:`warn_if_openmp_spins` says when it came too late.

On Linux the workers are forked: no start-up imports and no ``if __name__ == "__main__"`` guard
needed in user scripts; worker functions never use torch threads or the GPU. Elsewhere they are
spawned.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from molvae.runtime.progress import progress_bar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

SERIAL_BELOW = 500  # below this many items a process pool costs more than it saves

_openmp = {"too_late": False, "warned": False}


def quiet_openmp_threads() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: torch's idle OpenMP threads then
    sleep instead of spinning.

    ``import molvae`` calls it, before anything in molvae imports torch: the OpenMP runtime reads
    the variable once, when torch is imported. Spinning threads take the cores that the model's
    next step, molvae's RDKit worker processes and anything else running need: on a busy CPU
    the Python API ran several times slower than the command line, which set the variable itself
    (``benchmarks/api_vs_cli.py`` measures the two). When torch was imported first it is too
    late; :func:`warn_if_openmp_spins` then says so.
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        _openmp["too_late"] = "torch" in sys.modules
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def warn_if_openmp_spins() -> None:
    """Log a warning (once) when torch was imported before molvae could set its thread policy."""
    if _openmp["too_late"] and not _openmp["warned"]:
        _openmp["warned"] = True
        log.warning(
            "torch was imported before molvae with OMP_WAIT_POLICY unset, so torch's idle threads spin: "
            "sampling, search and training can be several times slower on a busy CPU. Import molvae before "
            "torch, or set OMP_WAIT_POLICY=PASSIVE in the environment."
        )


def available_cores() -> int:
    """CPU cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` or a value below 1 means every core this process may use."""
    if n_jobs is None or n_jobs < 1:
        return available_cores()
    return int(n_jobs)


def init_worker() -> None:
    """Pool initialiser: silence RDKit's log lines in the worker process, and leave SIGINT to the
    main process.

    Ctrl-C sends SIGINT to every process of the terminal's process group: a worker that died of
    it would break the pool under the main process, which is the one that decides what an
    interrupt means (stop after the current chunk and keep what was written, for example).
    """
    from rdkit import rdBase

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rdBase.DisableLog("rdApp.*")


class _Pool(ProcessPoolExecutor):
    """A process pool that, when its block ends with an exception (an interrupt included), cancels
    the work still queued instead of finishing it; only the chunks already running are awaited."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


def executor(n_jobs: int, initializer: Callable[[], None] = init_worker) -> ProcessPoolExecutor:
    """``n_jobs`` worker processes for RDKit work (forked on Linux, spawned elsewhere); they ignore
    SIGINT (see :func:`init_worker`), and leaving a ``with`` block on an exception cancels the
    queued work."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with warnings.catch_warnings():  # Python >= 3.12 warns about forking a process with threads
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        return _Pool(n_jobs, mp_context=multiprocessing.get_context(method), initializer=initializer)


def pmap(
    fn: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int | None,
    progress: bool = False,
    desc: str | None = None,
    initializer: Callable[[], None] = init_worker,
    serial_below: int = SERIAL_BELOW,
    size: Callable[[T], int] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` over ``n_jobs`` worker processes, in order.

    Workers run ``initializer`` first (default: silence RDKit's logs). Fewer than
    ``serial_below`` items, or one job, run in this process (RDKit logs silenced too). The
    progress bar (:func:`molvae.runtime.progress.progress_bar`) counts ``size(x)`` per item (default 1).
    """

    n_jobs = resolve_jobs(n_jobs)
    total = len(items) if size is None else sum(size(x) for x in items)
    step: Callable[[T], int] = size if size is not None else (lambda _: 1)
    with progress_bar(total, desc, unit="mol", disable=not progress) as bar:
        if n_jobs <= 1 or len(items) < max(2, serial_below):
            from molvae.chem.molecules import quiet_rdkit

            out = []
            with quiet_rdkit():
                for x in items:
                    out.append(fn(x))
                    bar.update(step(x))
            return out
        chunksize = max(1, min(256, len(items) // (n_jobs * 16)))
        with executor(min(n_jobs, len(items)), initializer) as pool:
            out = []
            for x, r in zip(items, pool.map(fn, items, chunksize=chunksize)):
                out.append(r)
                bar.update(step(x))
            return out


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU kernels on ``n`` threads inside the block; restore the old setting after.

    The metrics use one thread and parallelise over processes instead: on a busy 2-core machine
    two OpenMP threads made ChemNet's LSTM 20 times slower (threads spinning at every time step)
    and the similarity products no faster.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
