"""Sampling many molecules from a model: streamed, de-duplicated, accounted for.

:meth:`MolVAE.generate`, :meth:`~MolVAE.generate_iter`, :meth:`~MolVAE.generate_to_file` and
:meth:`~MolVAE.sample` take the same options (:class:`SampleOptions`); this module does the work
through the model's :class:`~molvae.nn.codec.LatentCodec`. The RDKit checks of a batch run in worker processes
(:class:`~molvae.chem.checks.ChemistryPool`) while the model samples the next one.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch

from molvae.chem.checks import CHUNK, POOL_ABOVE, Checked, CheckedChunk, ChemistryPool, reason_kind
from molvae.errors import BadInputError, Interrupted
from molvae.io.writers import MoleculeWriter, TableWriter, output_format, sibling
from molvae.nn import checkpoint
from molvae.nn.codec import LatentCodec, check_prior_draws
from molvae.nn.model import check_sampling_setting
from molvae.runtime.parallel import resolve_jobs, torch_threads
from molvae.runtime.progress import progress_bar
from molvae.runtime.signals import StopSignals

log = logging.getLogger(__name__)

#: molecules sampled at once on a CPU: the decoder's state stays in cache (bf16: 20-35% faster than 4,096)
CPU_BATCH = 1024
#: prior draws per conditioned molecule (SampleOptions; the README has the errors at 1 and 16)
PRIOR_DRAWS = 16

Condition = Mapping[str, float]


class SampleOptions(TypedDict, total=False):
    """Keyword options of every ``generate*`` method of :class:`~molvae.api.MolVAE`.

    - ``condition``: requested property values, e.g. ``{"logp": 2.5}``; others are left free.
    - ``temperature``: softmax temperature of the decoder (0 = greedy; default: the model's
      ``default_temperature``, which its checkpoint sets; 1 samples the model's own distribution).
    - ``guidance``: classifier-free guidance on the ``condition`` (default 0: none): each decoder
      step's logits are pushed away from those with no property given, by this factor, so that
      molecules follow the requested values more closely (the README gives the errors measured
      on the model shipped until 2026-12-07 at 0.25, 0.5 and 1; sampling costs twice as much).
    - ``prior_draws``: with a ``condition``, each molecule's latent point is the one of this many
      prior draws whose property-head prediction is nearest the request (default 16; 1 = a plain
      draw): molecules follow the condition more closely (the README gives the errors), at no
      measurable cost. Without a condition, with ``around`` or a ``scaffold``, it does nothing.
    - ``seed``: random seed for reproducible samples (the same ``seed`` and ``batch_size`` give
      the same molecules whatever ``n_jobs`` is).
    - ``unique``: drop duplicates (by 64-bit hashes of the canonical SMILES) and keep sampling
      until ``n`` unique valid molecules are found, within a sample limit.
    - ``around``: sample near this molecule: z = encode(around) + radius * N(0, I); without a
      ``condition``, the seed's own properties are the condition.
    - ``radius``: standard deviation of the noise added around the seed (default 0.5).
    - ``flatten``: an ``around`` or scaffold seed molecule whose stereo or charges the model has
      no tokens for is used without them (charges neutralised where RDKit can), with a warning
      (default True; False makes it an error).
    - ``batch_size``: molecules sampled at once on the model (default 1024 on a CPU, 32768 on a GPU).
    - ``n_jobs``: worker processes for the RDKit checks of large requests (default: all cores).
    - ``scaffold``: SMILES or SMARTS of a core every molecule must contain (RDKit substructure
      match); sampling then goes around encodings of molecules that contain it (see
      :mod:`molvae.generate.scaffold`) and stops after ``n`` such molecules or the sample limit (default
      ``50 * n``); samples without the core are counted in ``n_without_scaffold``.
    - ``scaffold_seeds``: molecules that contain the core, to start the scaffold search from.
    - ``properties``: the registry properties computed for each molecule (default: the model's
      own; ``[]`` for none). Fewer is faster: QED and SA cost the most. Not with ``scaffold``.
    """

    condition: Condition | None
    temperature: float | None
    guidance: float
    prior_draws: int
    seed: int | None
    unique: bool
    around: str | None
    radius: float
    flatten: bool
    batch_size: int | None
    n_jobs: int | None
    scaffold: str | None
    scaffold_seeds: Sequence[str]
    properties: Sequence[str] | str | None


@dataclass(frozen=True)
class GenerationRequest:
    """One sampling request: ``n`` molecules, the :class:`SampleOptions`, and a sample limit."""

    n: int
    condition: Condition | None = None
    temperature: float | None = None  # None: the model's default_temperature
    guidance: float = 0.0  # classifier-free guidance on the condition (0: none)
    prior_draws: int = PRIOR_DRAWS  # prior points per molecule, the nearest to the condition kept
    seed: int | None = None
    unique: bool = False
    around: str | None = None
    radius: float = 0.5
    flatten: bool = True
    batch_size: int | None = None
    n_jobs: int | None = None
    scaffold: str | None = None
    scaffold_seeds: Sequence[str] = ()
    properties: Sequence[str] | str | None = None  # property columns computed (default: the model's)
    max_samples: int | None = None  # with unique: stop after this many samples (default 20 * n)

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {self.n}")
        check_sampling_setting("guidance", self.guidance, "none")
        check_prior_draws(self.prior_draws)
        if self.properties is not None:
            from molvae.chem.properties import resolve

            if self.scaffold is not None:
                raise BadInputError("choosing the property columns is not supported with a scaffold")
            object.__setattr__(self, "properties", tuple(resolve(self.properties)))

    def temperature_for(self, codec: LatentCodec) -> float:
        """The decoder temperature: the one asked for, else the model's default."""
        return codec.sampling_temperature(self.temperature)

    def property_names(self, codec: LatentCodec) -> list[str]:
        """The properties computed for each molecule: those asked for, else the model's own."""
        return codec.property_names if self.properties is None else list(self.properties)

    @property
    def limit(self) -> int:
        """How many molecules may be sampled in all."""
        if self.scaffold is not None:
            return self.max_samples or 50 * self.n
        return (self.max_samples or 20 * self.n) if self.unique else self.n


@dataclass
class Generation:
    """What :meth:`MolVAE.generate` returns: kept molecules and an account of the rest.

    ``n_sampled == len(molecules) + len(invalid) + n_duplicates + n_without_scaffold`` always;
    ``n_repaired`` of the ``molecules`` were repaired (:attr:`Checked.repair` says how).
    """

    molecules: list[Checked]
    novel: list[bool]
    invalid: list[Checked] = field(default_factory=list)
    n_duplicates: int = 0
    n_sampled: int = 0
    n_without_scaffold: int = 0
    n_repaired: int = 0


@dataclass
class GenerationChunk:
    """One chunk of :meth:`MolVAE.generate_iter`: kept molecules and an account of the rest.

    Summed over all chunks, ``n_sampled == len(molecules) + len(invalid) + n_duplicates +
    n_without_scaffold``; ``n_repaired`` of the ``molecules`` were repaired.
    """

    molecules: list[Checked] = field(default_factory=list)
    novel: list[bool] = field(default_factory=list)
    invalid: list[Checked] = field(default_factory=list)
    n_duplicates: int = 0
    n_sampled: int = 0
    n_without_scaffold: int = 0
    n_repaired: int = 0


@dataclass(repr=False)
class GenerationSummary:
    """What :meth:`MolVAE.generate_to_file` returns: counts and the first molecules written.

    ``n_sampled == n_written + n_invalid + n_duplicates + n_without_scaffold`` always; ``n_repaired``
    of the ``n_written`` molecules were repaired (hydrogens restored: :func:`~molvae.chem.checks.restore_hydrogens`). Its repr
    is the counts and the paths on one line; the first molecules are in ``first``.

    >>> GenerationSummary(Path("out.csv"), Path("out.rejects.csv"), n_sampled=3, n_written=2, n_invalid=1)
    GenerationSummary(path='out.csv', n_sampled=3, n_written=2, n_invalid=1, n_duplicates=0, n_without_scaffold=0, n_novel=0, rejects_path='out.rejects.csv')
    """

    path: Path
    rejects_path: Path
    n_sampled: int = 0
    n_written: int = 0
    n_invalid: int = 0
    n_duplicates: int = 0
    n_without_scaffold: int = 0
    n_novel: int = 0
    first: list[Checked] = field(default_factory=list)
    first_novel: list[bool] = field(default_factory=list)
    invalid_kinds: Counter[str] = field(default_factory=Counter)  # n_invalid by kind of reason (radical electrons, ...)
    n_repaired: int = 0

    def __repr__(self) -> str:
        counts = ("n_sampled", "n_written", "n_invalid", "n_duplicates", "n_without_scaffold", "n_novel")
        fields = [f"path={str(self.path)!r}", *(f"{k}={getattr(self, k)}" for k in counts)]
        return f"{type(self).__name__}({', '.join(fields)}, rejects_path={str(self.rejects_path)!r})"


@dataclass(frozen=True)
class StreamSpec:
    """What :func:`stream_checked` samples: z = ``center`` + ``radius`` * N(0, I) (or N(0, I)),
    decoded under ``condition`` at ``temperature`` with ``generator``, checked with the
    ``properties`` computed, ``wanted(produced)`` more molecules at a time; ``expected`` is the
    number the caller expects in all (it decides whether worker processes pay off)."""

    wanted: Callable[[int], int]
    temperature: float
    generator: torch.Generator
    condition: Condition | None = None
    guidance: float = 0.0
    prior_draws: int = 1
    center: torch.Tensor | None = None
    radius: float = 0.0
    properties: Sequence[str] = ()
    n_jobs: int | None = None
    batch_size: int | None = None
    expected: int = 0


def stream_checked(codec: LatentCodec, spec: StreamSpec) -> Iterator[CheckedChunk]:
    """Checked samples in sampling order, chunk by chunk, the chemistry overlapped with sampling.

    ``spec.wanted(produced)`` says how many more molecules to sample now (0: stop). A batch is
    sampled on the model only when the :class:`~molvae.chem.checks.ChemistryPool` has room, so
    memory stays bounded. Without an explicit ``n_jobs``, fewer than ``POOL_ABOVE`` ``expected``
    molecules are checked in this process (a pool would cost more than it saves).
    """
    bs = spec.batch_size or (32768 if codec.device.type == "cuda" else CPU_BATCH)
    jobs = resolve_jobs(spec.n_jobs) if spec.n_jobs is not None or spec.expected >= POOL_ABOVE else 1
    id_dtype = torch.uint8 if len(codec.vocab) < 256 else torch.int16
    g, center = spec.generator, spec.center
    # With worker processes on every core, the CPU sampler gets one thread: OpenMP threads that
    # wait at every decoder step for a core a worker holds make sampling many times slower.
    threads = 1 if jobs > 1 and codec.device.type == "cpu" else torch.get_num_threads()

    def batches() -> Iterator[np.ndarray]:
        produced, size = 0, min(bs, CHUNK)  # small first batches: the workers start at once
        while (m := min(size, spec.wanted(produced))) > 0:
            with torch_threads(threads):
                cond = codec.condition_tensor(spec.condition, m, warn=produced == 0)
                if center is not None:
                    z = center + spec.radius * torch.randn((m, codec.latent_dim), generator=g, device=codec.device)
                else:
                    z = codec.conditioned_prior_latents(m, cond, spec.prior_draws, g)
                ids = codec.model.generate(
                    z,
                    cond,
                    temperature=spec.temperature,
                    generator=g,
                    first_allowed=codec.first_allowed,
                    dtype=codec.sample_dtype,
                    guidance=spec.guidance,
                )
            produced, size = produced + m, min(bs, 2 * size)
            arr = ids.to(id_dtype).cpu().numpy()
            for s in range(0, m, CHUNK):
                yield arr[s : s + CHUNK]

    with ChemistryPool(codec.vocab, spec.properties, jobs) as pool:
        yield from pool.imap(batches())


def generate_chunks(codec: LatentCodec, req: GenerationRequest) -> Iterator[GenerationChunk]:
    """The molecules of ``req`` chunk by chunk, in sampling order (see :meth:`MolVAE.generate_iter`).

    A request with a ``scaffold`` is served by :func:`molvae.generate.scaffold.scaffold_chunks` instead.
    """
    g = codec.generator(req.seed)
    center, condition = None, req.condition
    if req.around is not None:
        around = codec.encodable(req.around, req.flatten)
        center = torch.from_numpy(codec.encode([around])).to(codec.device)
        condition = codec.properties_of(around) if condition is None else condition
    n, limit, unique = req.n, req.limit, req.unique
    kept = sampled = 0

    def budget(produced: int) -> int:
        if not unique:
            return n - produced
        return 0 if kept >= n else min(limit - produced, int((n - kept) * 1.25) + 16)

    names = req.property_names(codec)
    seen: set[int] = set()
    spec = StreamSpec(
        wanted=budget,
        temperature=req.temperature_for(codec),
        generator=g,
        condition=condition,
        guidance=req.guidance,
        prior_draws=req.prior_draws,
        center=center,
        radius=req.radius,
        properties=names,
        n_jobs=req.n_jobs,
        batch_size=req.batch_size,
        expected=n,
    )
    parts = stream_checked(codec, spec)
    for part in parts:
        chunk = GenerationChunk()
        checked = part.checked(names)
        hashes = iter(checkpoint.hash64([c.smiles for c in checked if c.smiles is not None]).tolist())
        kept_hashes = []
        for c in checked:
            if kept >= n or sampled >= limit:
                break  # surplus samples are not part of the request
            sampled += 1
            chunk.n_sampled += 1
            if not c.valid:
                chunk.invalid.append(c)
                continue
            h = next(hashes)
            if unique:
                if h in seen:
                    chunk.n_duplicates += 1
                    continue
                seen.add(h)
            chunk.molecules.append(c)
            chunk.n_repaired += bool(c.repair)
            kept_hashes.append(h)
            kept += 1
        known = checkpoint.in_table(codec.train_hashes, np.asarray(kept_hashes, dtype=np.int64))
        chunk.novel = (~known).tolist()
        if chunk.n_sampled:
            yield chunk
        if kept >= n or sampled >= limit:
            break
    if unique and kept < n:
        log.warning("found only %d unique valid molecules of %d requested in %d samples", kept, n, sampled)


def collect(chunks: Iterator[GenerationChunk]) -> Generation:
    """All chunks in one :class:`Generation`."""
    result = Generation(molecules=[], novel=[])
    for chunk in chunks:
        result.molecules.extend(chunk.molecules)
        result.novel.extend(chunk.novel)
        result.invalid.extend(chunk.invalid)
        result.n_duplicates += chunk.n_duplicates
        result.n_sampled += chunk.n_sampled
        result.n_without_scaffold += chunk.n_without_scaffold
        result.n_repaired += chunk.n_repaired
    return result


class GenerationInterrupted(Interrupted):
    """:meth:`MolVAE.generate_to_file` stopped on SIGINT/SIGTERM after the chunk it was writing;
    ``summary`` counts what was sampled and written until then (the file holds exactly those
    molecules; it is removed when it holds none)."""

    def __init__(self, signal_name: str, summary: GenerationSummary, requested: int):
        self.summary = summary
        kept = (
            f"{summary.path} holds the {summary.n_written} molecules written before the stop"
            if summary.n_written
            else f"no molecule was written, so there is no {summary.path}"
        )
        super().__init__(
            signal_name,
            f"generation interrupted by {signal_name} after {summary.n_sampled} samples "
            f"({requested} molecules requested): {kept}",
        )


def write_generation(
    codec: LatentCodec,
    path: str | Path,
    req: GenerationRequest,
    chunks: Iterator[GenerationChunk],
    rejects: str | Path | None = None,
    keep_first: int = 24,
    progress: bool = False,
) -> GenerationSummary:
    """The ``chunks`` of ``req`` written to ``path`` as they come (see :meth:`MolVAE.generate_to_file`).

    A run that writes no molecule, or fails, leaves no file at ``path`` (the rejects file stays:
    it says why). SIGINT or SIGTERM stop it after the current chunk: the file keeps what was
    written and :class:`GenerationInterrupted` is raised with the counts.
    """

    output_format(path)  # fail on a bad name before any work
    summary = GenerationSummary(path=Path(path), rejects_path=Path(rejects or sibling(path, "rejects")))
    chunks = iter(chunks)
    started = time.monotonic()  # the first chunk is sampled and checked before the bar exists: count its time
    out: MoleculeWriter | None = None
    with StopSignals("writing the current chunk, then stopping") as stop:
        try:
            first = next(chunks, None)  # a bad request (unknown property, seed) fails here, before the file is touched
            out = MoleculeWriter(path, [*req.property_names(codec), "novel"])
            with out:
                rest = itertools.chain([first] if first is not None else [], chunks)
                _write_chunks(out, req, summary, rest, keep_first, progress, stop, started)
        except Exception:
            if out is not None:  # a failure leaves no output file (not even a header)
                summary.path.unlink(missing_ok=True)
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # stop the sampler and its worker processes now
                close()
    if summary.n_written == 0:
        summary.path.unlink(missing_ok=True)
    if stop.received:
        raise GenerationInterrupted(stop.received, summary, req.n)
    return summary


def _write_chunks(
    out: MoleculeWriter,
    req: GenerationRequest,
    summary: GenerationSummary,
    chunks: Iterator[GenerationChunk],
    keep_first: int,
    progress: bool,
    stop: StopSignals,
    started: float,
) -> None:
    """Write ``chunks`` to ``out`` and the rejects file, and count them, until they end or ``stop``
    has received a signal."""
    bar = progress_bar(req.n, "generating", unit="mol", disable=not progress, started=started)
    with bar, TableWriter(summary.rejects_path, ["selfies", "reason"]) as rej:
        for chunk in chunks:
            out.write(
                {"smiles": m.smiles, **m.properties, "novel": nov} for m, nov in zip(chunk.molecules, chunk.novel)
            )
            rej.write((c.selfies, c.reason) for c in chunk.invalid)
            room = keep_first - len(summary.first)
            if room > 0:
                summary.first.extend(chunk.molecules[:room])
                summary.first_novel.extend(chunk.novel[:room])
            summary.n_sampled += chunk.n_sampled
            summary.n_written += len(chunk.molecules)
            summary.n_invalid += len(chunk.invalid)
            summary.invalid_kinds.update(reason_kind(c.reason) for c in chunk.invalid)
            summary.n_duplicates += chunk.n_duplicates
            summary.n_without_scaffold += chunk.n_without_scaffold
            summary.n_repaired += chunk.n_repaired
            summary.n_novel += sum(chunk.novel)
            bar.update(len(chunk.molecules) if req.unique or req.scaffold else chunk.n_sampled)
            if stop.received:
                break
