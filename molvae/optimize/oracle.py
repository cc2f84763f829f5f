"""The oracle every search engine works through: it decodes latent points, scores the molecules,
keeps the budget and the pool of results, and builds the final result.

Search points are latent vectors z (and, when the engine searches the condition, the searched
condition values after them). :meth:`Oracle.evaluate` decodes each point greedily and by
sampling under its group's condition (a seed, or the prior), scores every molecule with the
objective, records those that meet every constraint and returns an :class:`Evaluation`: a
fitness per point to minimise (minus the score when feasible, else a large number plus how far
the molecule missed, worst of all for invalid decodes and molecules a user function failed on)
and which points found a molecule new to the search.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rdkit import DataStructs

from molvae.chem.guards import rule_of
from molvae.chem.molecules import canonical_smiles, mol_from_smiles
from molvae.chem.properties import PROPERTIES, compute_mol
from molvae.nn.model import make_condition
from molvae.optimize.objectives import Objective
from molvae.optimize.scoring import Scorer
from molvae.optimize.surrogates.head import related_conditions
from molvae.optimize.types import (
    INFEASIBLE,
    WORST,
    Candidate,
    CurvePoint,
    OptimizationResult,
    SearchSettings,
    SeedError,
)
from molvae.runtime.progress import progress_bar
from molvae.runtime.signals import StopSignals

if TYPE_CHECKING:  # pragma: no cover
    from molvae.chem.checks import Checked
    from molvae.nn.codec import LatentCodec

log = logging.getLogger(__name__)


class SearchStopped(Exception):
    """Raised by :meth:`Oracle.evaluate` once a stop signal has arrived: it unwinds the engine,
    whatever loop it is in; :func:`molvae.optimize.run.run_search` catches it and keeps the pool."""


@dataclass(frozen=True)
class Evaluation:
    """What :meth:`Oracle.evaluate` returns, one entry per point evaluated."""

    fitness: np.ndarray  # to minimise: minus the score when feasible; INFEASIBLE + miss; WORST when invalid
    new: np.ndarray  # bool: the point decoded a molecule new to the search


@dataclass
class Record:
    """A feasible molecule in the pool: its group (seed), score, similarity and the point it came from."""

    smiles: str
    group: int
    score: float
    similarity: float | None
    step: int
    method: str
    x: np.ndarray  # latent point (and searched condition values) it was decoded from


class Oracle:
    """One search's decoding, scoring and bookkeeping; engines call :meth:`evaluate` until
    :meth:`spent`, then :meth:`result` ranks what was found.

    ``search_condition``: the engine may search the decoder's condition values (points are then
    ``latent_dim + len(searched)`` wide; see :attr:`searched`).
    """

    def __init__(
        self,
        codec: LatentCodec,
        objective: Objective,
        settings: SearchSettings,
        progress: bool | Callable[[int, float], None] = False,
        search_condition: bool = False,
    ):
        self.codec, self.objective, self.s = codec, objective, settings
        self.scorer = Scorer(objective)
        #: the search's random streams: numpy for the engines' choices, torch for the decoder
        self.rng = np.random.default_rng(settings.seed)
        self.g = codec.generator(settings.seed)
        self.dev = codec.device
        # seeds: canonical SMILES, latent vectors, fingerprints, conditions
        self.seeds: list[str] = []
        if objective.seeds:
            enc = codec.encode_batch(list(objective.seeds))
            if enc.rejects:
                _, smi, reason = enc.rejects[0]
                raise SeedError(f"cannot encode seed {smi}: {reason}")
            self.seeds = [canonical_smiles(s) for s in objective.seeds]  # type: ignore[misc]
            self.seed_z = enc.z.astype(np.float32)
        self.n_groups = max(1, len(self.seeds))
        self.seed_eval = self.scorer.evaluate(self.seeds, guard=False) if self.seeds else []
        self.total_budget = settings.budget * self.n_groups
        self.calls0, self.distinct0 = self.scorer.n_scored, len(self.scorer.cache)  # the seeds are not in the budget
        self.objective0 = self.scorer.objective_seconds
        self.max_decoded = self.total_budget if settings.budget_counts == "decoded" else 50 * self.total_budget
        # the condition each group decodes with: standardised values and mask, [groups, P]
        self.cond_index = related_conditions(objective, codec)  # property index -> favourable std value
        self.cond_v, self.cond_m = self._base_conditions()
        searched = settings.condition == "search" and bool(self.cond_index) and search_condition
        #: indices of the condition entries the search moves (points carry their values after z)
        self.searched = sorted(self.cond_index) if searched else []
        # bookkeeping
        self.pool: dict[tuple[int, str], Record] = {}
        self.seen: set[tuple[int, str]] = set()
        self.infeasible: set[tuple[int, str]] = set()
        self.decoded = self.invalid = self.repaired = self.step = 0
        self.seconds = 0.0
        self.best = np.full(self.n_groups, -np.inf)
        self.closest = [0.0] * self.n_groups  # highest similarity to each seed of any valid molecule decoded
        self.parsed: dict[str, Any] = {}  # canonical SMILES -> RDKit molecule, of the batch being chosen (see mol)
        self.history: list[tuple[int, int, float]] = []
        self.curve: list[CurvePoint] = []
        self._progress = progress
        #: the signals that stop the search (see :func:`molvae.optimize.run.run_search`), and the one received
        self.stop: StopSignals | None = None
        self.interrupted: str | None = None
        self._bar = None
        if progress is True:
            self._bar = progress_bar(self.total_budget, "optimize", unit="mol")

    # ------------------------------------------------------------------ conditions
    @property
    def latent_dim(self) -> int:
        return self.codec.latent_dim

    @property
    def width(self) -> int:
        """The length of a search point: z, then the searched condition values."""
        return self.codec.latent_dim + len(self.searched)

    def _base_conditions(self) -> tuple[np.ndarray, np.ndarray]:
        p = len(self.codec.property_names)
        v = np.zeros((self.n_groups, p), dtype=np.float32)
        m = np.zeros((self.n_groups, p), dtype=np.float32)
        if self.s.condition == "none":
            return v, m
        if self.seeds:  # the seed's own properties: decodes stay close to the seed
            names = self.codec.property_names
            props = np.array([[self.codec.properties_of(s)[n] for n in names] for s in self.seeds])
            v[:] = np.clip(self.codec.scaler.transform(props), -4, 4)
            m[:] = 1.0
        for i, fav in self.cond_index.items():
            v[:, i] = fav if not self.seeds else (v[:, i] + fav) / 2.0  # a step towards favourable values
            m[:, i] = 1.0
        return v, m

    def condition(self, x: np.ndarray, group: np.ndarray) -> torch.Tensor:
        """The decoder's condition input for search points ``x`` of groups ``group``."""
        v, m = self.cond_v[group].copy(), self.cond_m[group]
        if self.searched:
            v[:, self.searched] = np.clip(x[:, self.latent_dim :], -4, 4)
        return make_condition(torch.from_numpy(v), torch.from_numpy(m)).to(self.dev)

    # ------------------------------------------------------------------ budget
    def used(self) -> int:
        """Budget spent, in the unit of ``budget_counts``: molecules decoded, or distinct valid molecules."""
        return self.decoded if self.s.budget_counts == "decoded" else len(self.scorer.cache) - self.distinct0

    def spent(self, end: int | None = None) -> bool:
        """Whether the budget (or a phase ending at ``end``) is used up, or decoding hit its cap."""
        return self.used() >= (self.total_budget if end is None else end) or self.decoded >= self.max_decoded

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        x: np.ndarray,
        group: np.ndarray,
        method: str,
        end: int | None = None,
        temperature: float | None = None,
        template: torch.Tensor | None = None,
        keep: Callable[[list[str]], list[str]] | None = None,
    ) -> Evaluation:
        """Decode each point ``samples_per_z`` times, score, record; fitness to minimise per point.

        With ``temperature`` given, each point is decoded once at that temperature instead, with
        the tokens of ``template`` (one row per point, ``<pad>`` where free) imposed: see
        :meth:`molvae.nn.codec.LatentCodec.decode_latents`. ``keep`` chooses, from the valid decodes new to
        the scorer, those to score; the others are dropped unscored, as if never decoded (their
        points' fitness is the worst). Stops exactly at the budget (or at ``end``, in the same
        unit): points past it are not decoded and molecules past it not scored; their fitness is
        the worst. Raises :class:`SearchStopped` when :attr:`stop` has received a signal.
        """
        room = self._next_step(end)
        s, n = self.s, len(x)
        samples = s.samples_per_z if temperature is None else 1
        by_decodes = s.budget_counts == "decoded"
        n_dec = max(0, min(room if by_decodes else n * samples, self.max_decoded - self.decoded))
        m = min(n, -(-n_dec // samples))  # points worth decoding
        z = torch.from_numpy(np.ascontiguousarray(x[:m, : self.latent_dim], dtype=np.float32)).to(self.dev)
        cond = self.condition(x[:m], group[:m])
        # properties=(): the search scores molecules itself, and only new ones
        checked = (
            self.codec.decode_latents(
                z,
                cond,
                temperature=temperature or 0.0,
                generator=self.g,
                batch_size=s.batch_size,
                properties=(),
                n_jobs=1,
                template=None if template is None else template[:m],
                molecules=keep is not None,
            )
            if m
            else []
        )
        if samples > 1 and m:
            reps = samples - 1
            checked += self.codec.decode_latents(
                z.repeat(reps, 1),
                cond.repeat(reps, 1),
                temperature=s.temperature,
                generator=self.g,
                batch_size=s.batch_size,
                properties=(),
                n_jobs=1,
                molecules=keep is not None,
            )
        checked = checked[:n_dec]
        point = np.tile(np.arange(m), samples)[: len(checked)]
        return self._score(x, group, method, checked, point, room, keep)

    def evaluate_smiles(
        self,
        smiles: list[str],
        x: np.ndarray,
        group: np.ndarray,
        method: str,
        end: int | None = None,
        keep: Callable[[list[str]], list[str]] | None = None,
    ) -> Evaluation:
        """Score molecules an engine made without the decoder (graph edits), one per point, as
        :meth:`evaluate` scores decodes: the same check every decode passes
        (:func:`molvae.chem.checks.check_smiles`: an invalid one counts as an invalid decode), the
        same budget, ``keep`` and bookkeeping. ``x`` is the point each came from (its parent's)."""
        from molvae.chem.checks import check_smiles

        room = self._next_step(end)
        n_dec = max(0, min(room if self.s.budget_counts == "decoded" else len(smiles), self.max_decoded - self.decoded))
        checked = check_smiles(smiles[:n_dec], molecules=keep is not None)
        return self._score(x, group, method, checked, np.arange(len(checked)), room, keep)

    def _next_step(self, end: int | None) -> int:
        """Start an evaluation: raise :class:`SearchStopped` once a stop signal has arrived, count
        the step, and return the room left in the budget (or before ``end``)."""
        if self.stop is not None and self.stop.received:
            raise SearchStopped(self.stop.received)
        self.step += 1
        return (self.total_budget if end is None else end) - self.used()

    def _score(
        self,
        x: np.ndarray,
        group: np.ndarray,
        method: str,
        checked: list[Checked],
        point: np.ndarray,
        room: int,
        keep: Callable[[list[str]], list[str]] | None,
    ) -> Evaluation:
        """Score checked molecules (``point``: the index of the point each came from), record
        them, and return the fitness of each of the ``len(x)`` points (see :meth:`evaluate`)."""
        n, by_decodes = len(x), self.s.budget_counts == "decoded"
        if keep is not None:
            self.parsed = {c.smiles: c.mol for c in checked if c.smiles is not None and c.mol is not None}
            fresh = list(dict.fromkeys(c.smiles for c in checked if c.valid and c.smiles not in self.scorer.cache))
            dropped = set(fresh) - set(keep(fresh))  # type: ignore[arg-type]
            kept = [k for k, c in enumerate(checked) if c.smiles not in dropped]
            point, checked = point[kept], [checked[k] for k in kept]
        fitness = np.full(n, WORST)
        new = np.zeros(n, dtype=bool)
        valid = [c.smiles for c in checked if c.smiles is not None]
        evals = iter(self.scorer.evaluate(valid, limit=None if by_decodes else room))
        self.parsed = {}
        for i, c in zip(point, checked):
            if c.valid and c.smiles not in self.scorer.cache:
                break  # past the last new molecule the budget allows
            self.decoded += 1
            if not c.valid:
                self.invalid += 1
                continue
            self.repaired += bool(c.repair)
            ev = next(evals)
            g = int(group[i])
            key = (g, ev.smiles)
            sim = None
            if self.seeds:
                sim = DataStructs.TanimotoSimilarity(self.seed_eval[g].fingerprint, ev.fingerprint)
                if ev.smiles != self.seeds[g]:
                    self.closest[g] = max(self.closest[g], sim)
            if ev.failed:
                f = WORST
            else:
                short = (
                    0.0
                    if sim is None or self.objective.constraints.similarity is None
                    else max(0.0, self.objective.constraints.similarity - sim)
                )
                if ev.violation > 0 or short > 0:
                    f = INFEASIBLE + ev.violation + 10.0 * short
                    self.infeasible.add(key)
                else:
                    f = -ev.score
                    if key not in self.pool and not (self.seeds and ev.smiles == self.seeds[g]):
                        self.pool[key] = Record(ev.smiles, g, ev.score, sim, self.step, method, x[i].copy())
                        self.best[g] = max(self.best[g], ev.score)
            new[i] |= key not in self.seen
            self.seen.add(key)
            fitness[i] = min(fitness[i], f)
        best = float(np.max(self.best))
        self.history.append((self.step, self.decoded, best))
        top = heapq.nlargest(10, (r.score for r in self.pool.values()))
        self.curve.append(
            CurvePoint(
                self.scorer.n_scored - self.calls0, self.decoded, best, sum(top) / len(top) if top else -math.inf
            )
        )
        if self._bar is not None:
            if math.isfinite(best):  # before the update, so that the line it writes shows it
                self._bar.set_postfix(best=f"{best:.4g}", refresh=False)
            self._bar.update(self.used() - self._bar.n)  # in the budget's unit, so it ends at 100 %
        elif callable(self._progress):
            self._progress(self.decoded, best)
        return Evaluation(fitness, new)

    # ------------------------------------------------------------------ engines' helpers
    def mol(self, smiles: str) -> Any:
        """The RDKit molecule of ``smiles``: for a molecule ``keep`` is choosing from, the one the
        decoding check parsed (no second parse); else parsed now (None when RDKit rejects it)."""
        mol = self.parsed.get(smiles)
        return mol if mol is not None else mol_from_smiles(smiles)

    def starts(self, per_group: int) -> tuple[np.ndarray, np.ndarray]:
        """Starting latent points: prior draws, or the seed (first) and points around it."""
        d = self.latent_dim
        noise = self.rng.standard_normal((self.n_groups * per_group, d)).astype(np.float32)
        group = np.repeat(np.arange(self.n_groups), per_group)
        if not self.seeds:
            return self.codec.prior_points(noise, self.rng), group
        noise[::per_group] = 0.0
        return self.seed_z[group] + self.s.radius * noise, group

    def close(self) -> None:
        """End the progress bar (call once the engine has returned)."""
        if self._bar is not None:
            self._bar.close()

    # ------------------------------------------------------------------ results
    def result(self, top: int | None) -> OptimizationResult:
        """The ``top`` best candidates of each group (all with None), with every count."""
        kept: list[Record] = []
        for g in range(self.n_groups):
            mine = sorted((r for r in self.pool.values() if r.group == g), key=lambda r: (-r.score, r.step))
            kept.extend(mine[:top] if top is not None else mine)
        names = list(PROPERTIES)
        novel = self.codec.is_novel([r.smiles for r in kept])
        cands = []
        for r, nov in zip(kept, novel):
            ev = self.scorer.cache[r.smiles]
            props = dict(zip(names, compute_mol(mol_from_smiles(r.smiles), names)))
            cands.append(
                Candidate(
                    r.smiles,
                    r.score,
                    dict(ev.values),
                    props,
                    r.similarity,
                    self.seeds[r.group] if self.seeds else None,
                    nov,
                    r.step,
                    r.method,
                )
            )
        guarded = Counter(
            rule_of(self.scorer.cache[smi].guard) for _, smi in self.infeasible if self.scorer.cache[smi].guard
        )
        res = OptimizationResult(
            candidates=cands,
            objective=self.objective,
            settings=self.s,
            seeds=list(self.seeds),
            seed_scores=[e.score for e in self.seed_eval],
            n_decoded=self.decoded,
            n_invalid=self.invalid,
            n_repaired=self.repaired,
            n_unique=len(self.seen),
            n_infeasible=len(self.infeasible),
            n_failures=self.scorer.n_failures,
            failures=list(self.scorer.failures),
            history=self.history,
            curve=self.curve,
            objective_seconds=self.scorer.objective_seconds - self.objective0,
            seconds=self.seconds,
            n_scored=self.scorer.n_scored - self.calls0,
            n_guarded=sum(guarded.values()),
            guarded=dict(guarded),
            closest=list(self.closest) if self.seeds else [],
        )
        if res.n_failures:
            log.warning(
                "%d molecules got the worst score because an objective failed on them (first: %s: %s)",
                res.n_failures,
                *res.failures[0],
            )
        return res
