"""Property-guided search in the latent space: :func:`optimize`, the entry point.

The methods are in :mod:`molvae.optimize.engines` (``ga``, the default; ``cma``; ``gradient``;
``gradient+cma``; any other registered there). Every latent point is decoded several times
(greedily, then sampled at ``temperature``) under a condition vector: favourable values of the
objective's properties the model is conditioned on (``condition="auto"``), the seed's own
properties when starting from a seed, or values the search chooses. Every decoded molecule is
checked and scored with RDKit (the property head is never the final word), deduplicated and
ranked by the :class:`~molvae.optimize.oracle.Oracle`.

The genetic algorithm is the default because it reached better scores per objective call than
CMA-ES on the multi-property objectives of ``benchmarks/optimize_vs_ga.py`` (the README gives
the figures). CMA-ES remains best for penalised logP with guards off (it reaches the long
alkyl chains); the gradient's in-distribution optima stop earlier.

>>> result = model.optimize("qed", budget=2000, seed=0)      # doctest: +SKIP
>>> result.candidates[0].smiles, result.candidates[0].score  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from molvae.chem.guards import as_guards
from molvae.errors import ConfigError
from molvae.nn.codec import LatentCodec
from molvae.optimize import engines
from molvae.optimize.config import search_table, with_changes
from molvae.optimize.objectives import Objective, as_objective
from molvae.optimize.oracle import Oracle, SearchStopped
from molvae.optimize.types import OptimizationInterrupted, OptimizationResult, SearchSettings
from molvae.runtime.signals import StopSignals


def optimize(
    codec: LatentCodec,
    objective: Objective | Mapping[str, Any] | str,
    seeds: Sequence[str] | None = None,
    top: int | None = 100,
    progress: bool | Callable[[int, float], None] = False,
    settings: SearchSettings | None = None,
    guards: Any = None,
    flatten: bool = False,
    **kwargs: Any,
) -> OptimizationResult:
    """Search the latent space of ``codec`` for molecules that score well on ``objective``.

    Args:
        objective: an :class:`~molvae.optimize.objectives.Objective`, a dict in its TOML schema,
            a ``.toml`` path, or one property name / ``module:function`` to maximise. The
            ``[search]`` table of a file or dict gives settings (``settings`` and ``kwargs`` win).
        seeds: start from these molecules (each optimised separately; similarity is to the
            seed a candidate came from). Default: the objective's seeds, else the prior.
        top: keep this many candidates (per seed); ``None`` keeps all.
        progress: show a progress bar with the best score so far (or call ``progress(decoded, best)``).
        settings / kwargs: :class:`SearchSettings`, or its fields and the method's own flat
            (``method``, ``budget``, ``seed``, ``stall``, ...; see :mod:`molvae.optimize.config`).
        guards: the drug-likeness guards results must pass (:mod:`molvae.chem.guards`): ``None``
            keeps the objective's (on by default), ``False`` switches them off, ``True`` or a
            dict of :class:`~molvae.chem.guards.Guards` fields sets them.
        flatten: a seed whose stereo or charges the model has no tokens for is searched from (and
            compared with) its form without them (:meth:`~molvae.nn.codec.LatentCodec.encodable`).

    Raises :class:`~molvae.errors.ConfigError` for a bad objective or setting,
    :class:`~molvae.optimize.types.SeedError` for a seed the model cannot encode, and
    :class:`~molvae.optimize.types.OptimizationInterrupted` when SIGINT (Ctrl-C) or SIGTERM stop
    the search: its ``result`` ranks what was found until then.
    """
    if settings is None:
        settings = with_changes(None, {**search_table(objective), **kwargs}, "settings")
    else:
        settings = with_changes(settings, kwargs, "settings")
    if top is not None and top < 1:
        raise ConfigError(f"top must be positive (or None for all), got {top}")
    obj = as_objective(objective, seeds or ())
    if guards is not None:
        obj = replace(obj, constraints=replace(obj.constraints, guards=as_guards(guards)))
    if flatten and obj.seeds:
        obj = replace(obj, seeds=tuple(codec.encodable(s) for s in obj.seeds))
    oracle = run_search(codec, obj, settings, progress)
    result = oracle.result(top)
    if oracle.interrupted:
        raise OptimizationInterrupted(oracle.interrupted, result)
    return result


def run_search(
    codec: LatentCodec,
    objective: Objective,
    settings: SearchSettings,
    progress: bool | Callable[[int, float], None] = False,
) -> Oracle:
    """Run the engine of ``settings.method`` until the budget is spent; the oracle holds what it
    found (:meth:`~molvae.optimize.oracle.Oracle.result` ranks it; its scorer's cache lists every
    molecule scored, in order).

    SIGINT or SIGTERM stop the engine at its next call of the oracle; the oracle then keeps what
    was found until then and names the signal in ``interrupted``.
    """
    spec = engines.spec(settings.method)
    engine = engines.load(settings.method)
    if hasattr(engine, "check"):
        engine.check(codec, objective)
    t0 = time.perf_counter()  # the search's whole time: the seeds' encoding and the scorer's set-up included
    oracle = Oracle(codec, objective, settings, progress, search_condition=spec.search_condition)
    with StopSignals("keeping the best molecules found so far, then stopping") as stop:
        oracle.stop = stop
        try:
            engine.run(oracle, settings.engine)
        except SearchStopped:
            oracle.interrupted = stop.received
        finally:
            oracle.close()
            oracle.stop = None
    oracle.seconds = time.perf_counter() - t0
    return oracle
