"""A process-pool ``map`` with an optional progress bar, and a torch-threads context."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

from molvae.metrics._features import init_worker

T = TypeVar("T")
R = TypeVar("R")

SERIAL_BELOW = 500  # below this many items a process pool costs more than it saves


def available_cores() -> int:
    """CPU cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` or a value below 1 means every available core."""
    if n_jobs is None or n_jobs < 1:
        return available_cores()
    return int(n_jobs)


def pmap(
    fn: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    progress: bool = False,
    desc: str | None = None,
    initializer: Callable[[], None] = init_worker,
    serial_below: int = SERIAL_BELOW,
    size: Callable[[T], int] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` over ``n_jobs`` worker processes, in order.

    Workers run ``initializer`` first (default: silence RDKit's logs). Fewer than
    ``serial_below`` items, or ``n_jobs == 1``, run in this process (RDKit logs silenced too).
    The progress bar counts ``size(x)`` per item (default 1).

    The pool uses the platform's default start method (fork on Linux), so callers need no
    ``if __name__ == "__main__"`` guard there; worker functions never use torch threads.
    """
    total = len(items) if size is None else sum(size(x) for x in items)
    bar = tqdm(total=total, desc=desc, disable=not progress, unit="mol", leave=False)
    try:
        if n_jobs <= 1 or len(items) < max(2, serial_below):
            from molvae.chem import quiet_rdkit

            out = []
            with quiet_rdkit():
                for x in items:
                    out.append(fn(x))
                    bar.update(1 if size is None else size(x))
            return out
        chunksize = max(1, min(256, len(items) // (n_jobs * 16)))
        n_proc = min(n_jobs, len(items))
        with multiprocessing.get_context().Pool(n_proc, initializer=initializer) as pool:
            out = []
            for x, r in zip(items, pool.imap(fn, items, chunksize=chunksize)):
                out.append(r)
                bar.update(1 if size is None else size(x))
            return out
    finally:
        bar.close()


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
