"""The search engines behind :func:`molvae.optimize.run.optimize`: decoding, scoring, CMA-ES, gradients.

Search points are latent vectors z (and, with ``condition="search"``, the searched condition
values after them). :meth:`Search.evaluate` decodes each point greedily and by sampling under
its group's condition (a seed, or the prior), scores every molecule with the objective,
records those that meet every constraint and returns a fitness per point for CMA-ES (which
minimises): minus the score when feasible, else a large number plus how far the molecule
missed, worst of all for invalid decodes and molecules a user function failed on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molvae.chem.properties import PROPERTIES, compute_mol
from molvae.errors import ConfigError
from molvae.optimize.objectives import Objective
from molvae.optimize.scoring import Scorer
from molvae.optimize.surrogates.head import HeadSurrogate, related_conditions
from molvae.optimize.types import INFEASIBLE, WORST, Candidate, OptimizationResult, SearchSettings, SeedError

if TYPE_CHECKING:  # pragma: no cover
    from molvae.api import MolVAE

log = logging.getLogger(__name__)


@dataclass
class _Record:
    smiles: str
    group: int
    score: float
    similarity: float | None
    step: int
    method: str
    x: np.ndarray  # latent point (and searched condition values) it was decoded from


class Search:
    """One search: decodes, scores and records candidates; ``run`` then ``result``."""

    def __init__(
        self,
        model: MolVAE,
        objective: Objective,
        settings: SearchSettings,
        progress: bool | Callable[[int, float], None],
    ):
        from molvae.chem.molecules import canonical_smiles

        self.model, self.objective, self.s = model, objective, settings
        self.scorer = Scorer(objective)
        self.surrogate = HeadSurrogate.build(objective, model)
        method = settings.method
        if "gradient" in method and self.surrogate is None:
            raise ConfigError(
                f"method {method} needs an objective the property head predicts; the model's head "
                f"knows {', '.join(model.property_names)} (and plogp from logp and sa): use method cma"
            )
        if "gradient" in method and not self.surrogate.complete:  # type: ignore[union-attr]
            log.info("the property head predicts only some terms; the gradient follows those, the score counts all")
        self.method = method
        self.rng = np.random.default_rng(settings.seed)
        self.g = model.generator(settings.seed)
        self.dev = model.device
        # seeds: canonical SMILES, latent vectors, fingerprints, conditions
        self.seeds: list[str] = []
        if objective.seeds:
            enc = model.encode_batch(list(objective.seeds))
            if enc.rejects:
                _, smi, reason = enc.rejects[0]
                raise SeedError(f"cannot encode seed {smi}: {reason}")
            self.seeds = [canonical_smiles(s) for s in objective.seeds]  # type: ignore[misc]
            self.seed_z = enc.z.astype(np.float32)
        self.n_groups = max(1, len(self.seeds))
        self.seed_eval = self.scorer.evaluate(self.seeds, guard=False) if self.seeds else []
        self.total_budget = settings.budget * self.n_groups
        self.calls0, self.distinct0 = self.scorer.n_scored, len(self.scorer.cache)  # the seeds are not in the budget
        self.max_decoded = self.total_budget if settings.budget_counts == "decoded" else 50 * self.total_budget
        # the condition each group decodes with: standardised values and mask, [groups, P]
        self.cond_index = related_conditions(objective, model)  # property index -> favourable std value
        self.cond_v, self.cond_m = self._base_conditions()
        self.search_cond = settings.condition == "search" and bool(self.cond_index) and "cma" in method
        self.searched = sorted(self.cond_index) if self.search_cond else []
        # bookkeeping
        self.pool: dict[tuple[int, str], _Record] = {}
        self.seen: set[tuple[int, str]] = set()
        self.infeasible: set[tuple[int, str]] = set()
        self.decoded = self.invalid = self.step = 0
        self.new_points = np.zeros(0, dtype=bool)  # per point of the last evaluate: found a molecule new to the search
        self.best = np.full(self.n_groups, -np.inf)
        self.history: list[tuple[int, int, float]] = []
        self._progress = progress
        self._bar = None
        if progress is True:
            from molvae.runtime.progress import progress_bar

            self._bar = progress_bar(self.total_budget, "optimize", unit="mol")

    # ------------------------------------------------------------------ conditions
    def _base_conditions(self) -> tuple[np.ndarray, np.ndarray]:
        p = len(self.model.property_names)
        v = np.zeros((self.n_groups, p), dtype=np.float32)
        m = np.zeros((self.n_groups, p), dtype=np.float32)
        if self.s.condition == "none":
            return v, m
        if self.seeds:  # the seed's own properties: decodes stay close to the seed
            props = np.array([[self.model.properties_of(s)[n] for n in self.model.property_names] for s in self.seeds])
            v[:] = np.clip(self.model.scaler.transform(props), -4, 4)
            m[:] = 1.0
        for i, fav in self.cond_index.items():
            v[:, i] = fav if not self.seeds else (v[:, i] + fav) / 2.0  # a step towards favourable values
            m[:, i] = 1.0
        return v, m

    def _condition(self, x: np.ndarray, group: np.ndarray) -> torch.Tensor:
        from molvae.nn.model import make_condition

        v, m = self.cond_v[group].copy(), self.cond_m[group]
        if self.searched:
            v[:, self.searched] = np.clip(x[:, self.model.latent_dim :], -4, 4)
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
    ) -> np.ndarray:
        """Decode each point ``samples_per_z`` times, score, record; fitness to minimise per point.

        With ``temperature`` given, each point is decoded once at that temperature instead, with
        the tokens of ``template`` (one row per point, ``<pad>`` where free) imposed: see
        :meth:`molvae.api.MolVAE.decode_latents`. ``keep`` chooses, from the valid decodes new to
        the scorer, those to score; the others are dropped unscored, as if never decoded (their
        points' fitness is the worst). Stops exactly at the budget (or at ``end``, in the same
        unit): points past it are not decoded and molecules past it not scored; their fitness is
        the worst.
        """
        from rdkit import DataStructs

        self.step += 1
        s, n = self.s, len(x)
        samples = s.samples_per_z if temperature is None else 1
        room = (self.total_budget if end is None else end) - self.used()
        by_decodes = s.budget_counts == "decoded"
        n_dec = max(0, min(room if by_decodes else n * samples, self.max_decoded - self.decoded))
        m = min(n, -(-n_dec // samples))  # points worth decoding
        z = torch.from_numpy(np.ascontiguousarray(x[:m, : self.model.latent_dim], dtype=np.float32)).to(self.dev)
        cond = self._condition(x[:m], group[:m])
        # properties=(): the search scores molecules itself, and only new ones
        checked = (
            self.model.decode_latents(
                z,
                cond,
                temperature=temperature or 0.0,
                generator=self.g,
                batch_size=s.batch_size,
                properties=(),
                n_jobs=1,
                template=None if template is None else template[:m],
            )
            if m
            else []
        )
        if samples > 1 and m:
            reps = samples - 1
            checked += self.model.decode_latents(
                z.repeat(reps, 1),
                cond.repeat(reps, 1),
                temperature=s.temperature,
                generator=self.g,
                batch_size=s.batch_size,
                properties=(),
                n_jobs=1,
            )
        checked = checked[:n_dec]
        point = np.tile(np.arange(m), samples)[: len(checked)]
        if keep is not None:
            new = list(dict.fromkeys(c.smiles for c in checked if c.valid and c.smiles not in self.scorer.cache))
            dropped = set(new) - set(keep(new))  # type: ignore[arg-type]
            kept = [k for k, c in enumerate(checked) if c.smiles not in dropped]
            point, checked = point[kept], [checked[k] for k in kept]
        fitness = np.full(n, WORST)
        self.new_points = np.zeros(n, dtype=bool)
        valid = [c.smiles for c in checked if c.smiles is not None]
        evals = iter(self.scorer.evaluate(valid, limit=None if by_decodes else room))
        for i, c in zip(point, checked):
            if c.valid and c.smiles not in self.scorer.cache:
                break  # past the last new molecule the budget allows
            self.decoded += 1
            if not c.valid:
                self.invalid += 1
                continue
            ev = next(evals)
            g = int(group[i])
            key = (g, ev.smiles)
            sim = None
            if self.seeds:
                sim = DataStructs.TanimotoSimilarity(self.seed_eval[g].fingerprint, ev.fingerprint)
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
                        self.pool[key] = _Record(ev.smiles, g, ev.score, sim, self.step, method, x[i].copy())
                        self.best[g] = max(self.best[g], ev.score)
            self.new_points[i] |= key not in self.seen
            self.seen.add(key)
            fitness[i] = min(fitness[i], f)
        best = float(np.max(self.best))
        self.history.append((self.step, self.decoded, best))
        if self._bar is not None:
            if math.isfinite(best):  # before the update, so that the line it writes shows it
                self._bar.set_postfix(best=f"{best:.4g}", refresh=False)
            self._bar.update(self.used() - self._bar.n)  # in the budget's unit, so it ends at 100 %
        elif callable(self._progress):
            self._progress(self.decoded, best)
        return fitness

    # ------------------------------------------------------------------ searches
    def run(self) -> None:
        t0 = time.time()
        try:
            if self.method == "gradient":
                self.gradient(self.total_budget)
            elif self.method == "cma":
                self.cma(self.total_budget, refine=False)
            elif self.method == "ga":
                from molvae.optimize.engines.ga import latent_ga

                latent_ga(self)
            else:
                share = int(self.total_budget * self.s.gradient_share)
                self.gradient(share)
                self.cma(self.total_budget - self.used(), refine=True)
        finally:
            if self._bar is not None:
                self._bar.close()
        self.seconds = time.time() - t0

    def _starts(self, per_group: int) -> tuple[np.ndarray, np.ndarray]:
        """Starting latent points: prior draws, or the seed (first) and points around it."""
        d = self.model.latent_dim
        noise = self.rng.standard_normal((self.n_groups * per_group, d)).astype(np.float32)
        group = np.repeat(np.arange(self.n_groups), per_group)
        if not self.seeds:
            return noise, group
        noise[::per_group] = 0.0
        return self.seed_z[group] + self.s.radius * noise, group

    def gradient(self, budget: int) -> None:
        s = self.s
        per_group = s.restarts or (2 if self.seeds else 32)
        z0, group = self._starts(per_group)
        n = len(z0)
        rounds = max(1, min(s.steps + 1, budget // (n * s.samples_per_z)))
        end = self.used() + budget
        decode_at = set(np.linspace(0, s.steps, rounds).round().astype(int).tolist())
        z = torch.from_numpy(z0).to(self.dev).requires_grad_(True)
        centre = torch.from_numpy(self.seed_z[group]).to(self.dev) if self.seeds else None
        opt = torch.optim.Adam([z], lr=s.lr)
        head = self.model.model.property_head
        pad = np.zeros((n, len(self.searched)), dtype=np.float32)
        for t in range(s.steps + 1):
            if t in decode_at:
                x = np.concatenate([z.detach().cpu().numpy(), pad + self.cond_v[group][:, self.searched]], axis=1)
                self.evaluate(x, group, "gradient", end)
            if t == s.steps or self.spent(end):
                break
            with torch.enable_grad():
                gain = self.surrogate(head(z))  # type: ignore[misc]
                penalty = 0.5 * s.prior_weight * z.pow(2).sum(1)
                if centre is not None:  # stay within about `radius` of the seed
                    penalty = penalty + 0.5 * (z - centre).pow(2).sum(1) / (s.radius**2 * z.size(1))
                loss = (penalty - gain).sum()
                (grad,) = torch.autograd.grad(loss, [z])
            z.grad = grad
            opt.step()

    def cma(self, budget: int, refine: bool) -> None:
        """Lock-step CMA-ES runs, one batch of decodes per generation; stopped runs restart."""
        import cma

        s = self.s
        per_group = s.restarts or (2 if self.seeds else 8)
        end = self.used() + budget
        runs: list[tuple[Any, int]] = []
        for g in range(self.n_groups):
            for k in range(per_group):
                runs.append((self._new_run(cma, g, k, refine), g))
        while not self.spent(end) and runs:
            asks = [np.asarray(es.ask(), dtype=np.float32) for es, _ in runs]
            x = np.concatenate(asks)
            group = np.concatenate([np.full(len(a), g) for a, (_, g) in zip(asks, runs)])
            f = self.evaluate(x, group, "cma", end)
            pos = 0
            for i, (es, g) in enumerate(runs):
                k = len(asks[i])
                es.tell(list(asks[i].astype(np.float64)), f[pos : pos + k].tolist())
                pos += k
                if es.stop():
                    runs[i] = (self._new_run(cma, g, int(self.rng.integers(1 << 30)), refine), g)

    def _new_run(self, cma: Any, group: int, k: int, refine: bool):
        """A CMA-ES run: around a good point found so far (refine), a seed, or the prior."""
        s = self.s
        opts = {"seed": int(self.rng.integers(1, 1 << 30)), "verbose": -9, "CMA_diagonal": False}
        if s.popsize:
            opts["popsize"] = s.popsize
        mine = (
            sorted((r for r in self.pool.values() if r.group == group), key=lambda r: -r.score)[:8]
            if refine and k % 4 == 0
            else []
        )
        cond0 = self.cond_v[group][self.searched]
        if mine:  # a quarter of the runs refine good points found so far, the rest keep exploring
            x0, sigma = mine[(k // 4) % len(mine)].x, s.sigma
        elif self.seeds:
            x0, sigma = np.concatenate([self.seed_z[group], cond0]), s.radius
        else:
            x0, sigma = np.concatenate([np.zeros(self.model.latent_dim, dtype=np.float32), cond0]), 1.0
        return cma.CMAEvolutionStrategy(np.asarray(x0, dtype=np.float64), sigma, opts)

    # ------------------------------------------------------------------ results
    def result(self, top: int | None) -> OptimizationResult:
        kept: list[_Record] = []
        for g in range(self.n_groups):
            mine = sorted((r for r in self.pool.values() if r.group == g), key=lambda r: (-r.score, r.step))
            kept.extend(mine[:top] if top is not None else mine)
        names = list(PROPERTIES)
        from molvae.chem.molecules import mol_from_smiles

        novel = self.model.is_novel([r.smiles for r in kept])
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
        from collections import Counter

        from molvae.chem.guards import rule_of

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
            n_unique=len(self.seen),
            n_infeasible=len(self.infeasible),
            n_failures=self.scorer.n_failures,
            failures=list(self.scorer.failures),
            history=self.history,
            seconds=self.seconds,
            n_scored=self.scorer.n_scored - self.calls0,
            n_guarded=sum(guarded.values()),
            guarded=dict(guarded),
        )
        if res.n_failures:
            log.warning(
                "%d molecules got the worst score because an objective failed on them (first: %s: %s)",
                res.n_failures,
                *res.failures[0],
            )
        return res
