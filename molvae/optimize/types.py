"""The types of latent-space optimisation: search settings, candidates, results, seed errors.

A leaf module (it imports no other part of the search), so that :mod:`molvae.optimize.run` (the
entry point) and :mod:`molvae.optimize.oracle` (the engines) can both use these types without importing
each other.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molvae.chem.properties import PROPERTIES
from molvae.errors import BadInputError, ConfigError, EncodingError, Interrupted
from molvae.io.plotting import plot_curve
from molvae.optimize import engines
from molvae.optimize.objectives import Objective

INFEASIBLE = 1e9  # search fitness (minimised): a broken constraint ranks below every feasible molecule
WORST = 1e12  # search fitness of invalid decodes and of molecules a user function failed on

BUDGET_COUNTS = ("decoded", "distinct")
CONDITIONS = ("auto", "search", "none")


class SeedError(EncodingError, BadInputError):
    """A seed molecule the model cannot encode (the message names the reason, e.g. missing tokens)."""


@dataclass(frozen=True)
class SearchSettings:
    """How to search, whatever the method. ``budget`` counts decoded molecules, or with
    ``budget_counts="distinct"`` the distinct valid molecules found (per seed when starting from
    seeds); it is met exactly. ``engine`` holds the method's own settings (the ``Settings`` of its
    module in :mod:`molvae.optimize.engines`; None: its defaults). A flat dict of both kinds of
    field is read by :func:`molvae.optimize.config.search_settings`.
    """

    method: str = "ga"  # a name in molvae.optimize.engines.ENGINES
    budget: int = 4000
    budget_counts: str = "decoded"  # decoded | distinct (each scored once unless a guard rejects it; <= 50x decodes)
    samples_per_z: int = 2  # decodes per latent point: one greedy, the rest at ``temperature``
    temperature: float = 0.7
    radius: float = 0.3  # spread of starting points around a seed (latent units)
    condition: str = "auto"  # auto | search (engines that can also search the condition) | none
    batch_size: int = 512
    seed: int | None = 0
    engine: Any = None  # the method's own settings

    def __post_init__(self) -> None:
        check_numbers(self, ("budget", "samples_per_z", "batch_size"), ("radius", "temperature"), optional=False)
        own = engines.settings_class(self.method)  # unknown methods are a ConfigError
        if self.engine is None:
            object.__setattr__(self, "engine", own())
        elif not isinstance(self.engine, own):
            raise ConfigError(f"method {self.method} takes {own.__module__}.Settings, got {type(self.engine).__name__}")
        checks = [
            (
                self.budget_counts in BUDGET_COUNTS,
                f"unknown budget_counts {self.budget_counts!r}; use {' or '.join(BUDGET_COUNTS)}",
            ),
            (self.condition in CONDITIONS, f"unknown condition mode {self.condition!r}; use {', '.join(CONDITIONS)}"),
            (self.budget >= 1, f"budget must be positive, got {self.budget}"),
            (self.samples_per_z >= 1, "samples_per_z must be at least 1"),
            (self.temperature >= 0, "temperature must be non-negative"),
            (self.radius > 0, "radius must be positive"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)


def check_numbers(
    settings: Any, integers: tuple[str, ...] = (), numbers: tuple[str, ...] = (), optional: bool = True
) -> None:
    """A :class:`ConfigError` unless the named fields of ``settings`` are integers / numbers
    (None allowed when ``optional``)."""
    for f in integers:
        v = getattr(settings, f)
        if not (optional and v is None) and (not isinstance(v, int) or isinstance(v, bool)):
            raise ConfigError(f"{f} must be an integer, got {v!r}")
    for f in numbers:
        v = getattr(settings, f)
        if not (optional and v is None) and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"{f} must be a number, got {v!r}")


@dataclass
class Candidate:
    """A molecule the search found: its objective score, every property, where it came from."""

    smiles: str
    score: float
    values: dict[str, float]  # the objective's terms
    properties: dict[str, float] = field(default_factory=dict)  # every registered property
    similarity: float | None = None  # to its seed
    seed: str | None = None
    novel: bool = True
    step: int = 0  # search round in which it was first decoded
    method: str = ""


@dataclass(frozen=True)
class CurvePoint:
    """The search's progress after one batch: objective calls and decodes so far, the best
    score and the mean of the ten best (over all seeds; -inf before any result)."""

    calls: int
    decoded: int
    best: float
    top10: float


@dataclass
class OptimizationResult:
    """Ranked, deduplicated candidates (best first; grouped by seed when starting from seeds).

    Only molecules that meet every constraint are candidates. The counts account for the rest.
    """

    candidates: list[Candidate]
    objective: Objective
    settings: SearchSettings
    seeds: list[str]
    seed_scores: list[float]  # the objective of each seed itself
    n_decoded: int = 0
    n_invalid: int = 0  # decodes RDKit rejected
    n_repaired: int = 0  # valid decodes with hydrogens restored (molvae.chem.checks.restore_hydrogens)
    n_unique: int = 0  # distinct valid molecules (per seed)
    n_infeasible: int = 0  # distinct valid molecules that broke a constraint
    n_failures: int = 0  # molecules a user function raised on or returned no number for
    failures: list[tuple[str, str]] = field(default_factory=list)
    history: list[tuple[int, int, float]] = field(default_factory=list)  # (step, decoded, best so far)
    seconds: float = 0.0
    n_scored: int = 0  # molecules the objective was computed for (its calls; seeds not counted)
    n_guarded: int = 0  # of n_infeasible: distinct valid molecules that broke a drug-likeness guard
    guarded: dict[str, int] = field(default_factory=dict)  # guard rule -> molecules that broke it
    closest: list[float] = field(default_factory=list)  # per seed: highest similarity of any valid decode
    curve: list[CurvePoint] = field(default_factory=list)  # progress after each batch
    objective_seconds: float = 0.0  # of ``seconds``: computing the objective (the rest is the search's own)

    @property
    def search_ms_per_call(self) -> float:
        """The search's own time (decoding, checks, choosing; the objective excluded) per objective call, in ms."""
        return 1000.0 * max(0.0, self.seconds - self.objective_seconds) / max(1, self.n_scored)

    def write_curve(self, csv_path: str | Path, png_path: str | Path | None = None) -> None:
        """The progress curve as CSV (calls, decoded, best, top10) and, with ``png_path``, a plot."""
        with open(csv_path, "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["calls", "decoded", "best", "top10"])
            for p in self.curve:
                w.writerow([p.calls, p.decoded, *(f"{v:.6g}" if math.isfinite(v) else "" for v in (p.best, p.top10))])
        if png_path is not None:
            plot_curve(self.curve, png_path)

    def best(self, seed: str | int | None = None) -> Candidate | None:
        """The best candidate (of one seed, given as its index or SMILES); None when none was found."""
        if seed is None:
            pool = self.candidates
        else:
            key = self.seeds[seed] if isinstance(seed, int) else seed
            pool = [c for c in self.candidates if c.seed == key]
        return max(pool, key=lambda c: c.score, default=None)

    @property
    def columns(self) -> list[str]:
        """Column order of :meth:`rows` (after ``smiles``)."""
        extra = [t.function for t in self.objective.terms if t.function]
        cols = ["objective", *extra, *PROPERTIES]
        if self.seeds:
            cols += ["similarity", "seed"]
        return cols + ["novel", "step", "method"]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per candidate, for :func:`molvae.io.writers.write_molecules`."""
        out = []
        for c in self.candidates:
            r = {
                "smiles": c.smiles,
                "objective": c.score,
                **{k: v for k, v in c.values.items() if ":" in k},
                **c.properties,
                "novel": c.novel,
                "step": c.step,
                "method": c.method,
            }
            if self.seeds:
                r.update(similarity=c.similarity, seed=c.seed)
            out.append(r)
        return out


class OptimizationInterrupted(Interrupted):
    """The search stopped on SIGINT/SIGTERM; ``result`` ranks the molecules found until then (the
    counts say how much of the budget was spent)."""

    def __init__(self, signal_name: str, result: OptimizationResult):
        self.result = result
        super().__init__(
            signal_name,
            f"optimisation interrupted by {signal_name} after {result.n_decoded} decoded molecules "
            f"(budget {result.settings.budget}{' per seed' if result.seeds else ''}): "
            f"the {len(result.candidates)} best found until then are kept",
        )
