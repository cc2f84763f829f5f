"""Multi-process training with ``torch.distributed`` (DDP), as launched by ``torchrun``.

``torchrun --nproc_per_node N -m molvae_cli train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment;
:func:`setup` sees them and joins the process group (NCCL on GPUs, gloo on CPUs). Without them it
returns a single-process context and nothing else changes.

How molvae splits the work (see :mod:`molvae.train.loop`): ``batch_size`` is the *global* batch.
Every rank draws the same shuffled, length-bucketed global batches and the same random numbers
for them, and processes every ``WORLD_SIZE``-th molecule of each; losses are per-molecule sums
divided by the global batch size, so the averaged gradient is the single-process one and the
training trajectory matches a single process within float tolerance. Rank 0 validates and
writes checkpoints, history and logs. The resumable state (epoch, batch, step, random
generator, optimizer) is global, so a run can resume with a different number of processes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

TIMEOUT = timedelta(minutes=30)  # rank 0 may preprocess a large file while the others wait


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank among ``world_size`` processes on this machine's ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # True when :func:`setup` created the process group

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_(self, t: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """Sum (or ``max``) a tensor over all ranks, in place; a no-op in a single process."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return t


def launched() -> bool:
    """True in a process started by torchrun (or anything that sets ``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """False in the processes of rank > 0 of a launched run (for printing once)."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment, or return a single-process context.

    The backend is NCCL when this run uses CUDA (``device`` ``auto`` or ``cuda``) and gloo
    otherwise; each process takes the GPU of its ``LOCAL_RANK``. Processes other than rank 0
    log warnings only.
    """
    if not launched():
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    owns = False
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and not device.startswith("cpu")
        if use_cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT)
        owns = True
    if rank != 0:
        logging.getLogger("molvae").setLevel(logging.WARNING)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, owns_group=owns)


def teardown(ctx: DistContext) -> None:
    """Leave the process group if :func:`setup` created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
