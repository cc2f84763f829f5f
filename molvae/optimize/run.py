"""Property-guided search in the latent space: a latent genetic algorithm, CMA-ES, gradient ascent.

- ``ga`` (the default): a genetic algorithm (:mod:`molvae.optimize.engines.ga`): the best molecules found so
  far breed children by crossover and mutation of their latent vectors and by decoder-guided
  edits of their tokens (:mod:`molvae.optimize.engines.edits`); with a budget of distinct molecules, a
  Gaussian-process surrogate (:mod:`molvae.optimize.surrogates.gp`) picks which of the decoded children get
  scored.
- ``cma``: CMA-ES (the ``cma`` package) over z — and, with
  ``condition="search"``, over the decoder's condition values too — scored by the real
  objective on decoded molecules, so it works for any objective, user functions included.
  Several runs go in lock step (one decoding batch per generation) and restart when they stop.
- ``gradient``: many starting points z (from the prior, or around each seed) climb the
  model's property head by Adam, with a prior penalty (and a trust region around a seed).
  Only for properties the head predicts (and plogp ≈ logP − SA from them).
- ``gradient+cma``: gradient ascent, then CMA-ES runs that refine the best points found (a
  quarter of them) or explore from the prior (the rest).

The genetic algorithm is the default because it reached better scores per objective call than
CMA-ES on the multi-property objectives of ``benchmarks/optimize_vs_ga.py`` (the README gives
the figures). CMA-ES remains best for penalised logP with guards off (it reaches the long
alkyl chains); the gradient's in-distribution optima stop earlier.

Every latent point is decoded several times (greedily, then sampled at ``temperature``) under
a condition vector: favourable values of the objective's properties the model is conditioned
on (``condition="auto"``), the seed's own properties when starting from a seed, or values the
search chooses. Every decoded molecule is checked and scored with RDKit (the head is never the
final word), deduplicated and ranked.

This module holds the settings, the results and :func:`optimize`; the engines are in
:mod:`molvae.optimize.oracle`, the objective in :mod:`molvae.optimize.objectives` and scoring in
:mod:`molvae.optimize.scoring`.

>>> result = model.optimize("qed", budget=2000, seed=0)      # doctest: +SKIP
>>> result.candidates[0].smiles, result.candidates[0].score  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from molvae.errors import ConfigError
from molvae.io.tomlfile import check_keys
from molvae.optimize.objectives import Objective, as_objective
from molvae.optimize.types import (  # re-exported: the optimisation API is importable from here
    CONDITIONS,
    METHODS,
    Candidate,
    OptimizationResult,
    SearchSettings,
    SeedError,
)

if TYPE_CHECKING:  # pragma: no cover
    from molvae.api import MolVAE

__all__ = [
    "CONDITIONS",
    "METHODS",
    "Candidate",
    "OptimizationResult",
    "SearchSettings",
    "SeedError",
    "optimize",
    "search_settings",
    "settings_dict",
]


def optimize(
    model: MolVAE,
    objective: Objective | Mapping[str, Any] | str,
    seeds: Sequence[str] | None = None,
    top: int | None = 100,
    progress: bool | Callable[[int, float], None] = False,
    settings: SearchSettings | None = None,
    guards: Any = None,
    **kwargs: Any,
) -> OptimizationResult:
    """Search the latent space of ``model`` for molecules that score well on ``objective``.

    Args:
        objective: an :class:`~molvae.optimize.objectives.Objective`, a dict in its TOML schema, a
            ``.toml`` path, or one property name / ``module:function`` to maximise.
        seeds: start from these molecules (each optimised separately; similarity is to the
            seed a candidate came from). Default: the objective's seeds, else the prior.
        top: keep this many candidates (per seed); ``None`` keeps all.
        progress: show a progress bar with the best score so far (or call ``progress(decoded, best)``).
        settings / kwargs: :class:`SearchSettings` (``method``, ``budget``, ``seed``, ...).
        guards: the drug-likeness guards results must pass (:mod:`molvae.chem.guards`): ``None``
            keeps the objective's (on by default), ``False`` switches them off, ``True`` or a
            dict of :class:`~molvae.chem.guards.Guards` fields sets them.

    Raises :class:`~molvae.errors.ConfigError` for a bad objective or setting and
    :class:`SeedError` for a seed the model cannot encode.
    """
    settings = settings or SearchSettings()
    if kwargs:
        search_settings(kwargs, "settings")  # unknown names and bad values are a ConfigError
        settings = replace(settings, **kwargs)
    if top is not None and top < 1:
        raise ConfigError(f"top must be positive (or None for all), got {top}")
    obj = as_objective(objective, seeds or ())
    if guards is not None:
        from molvae.chem.guards import as_guards

        obj = replace(obj, constraints=replace(obj.constraints, guards=as_guards(guards)))
    from molvae.optimize.oracle import Search

    search = Search(model, obj, settings, progress)
    search.run()
    return search.result(top)


def search_settings(d: Mapping[str, Any], where: str = "search") -> dict[str, Any]:
    """Validated ``[search]`` settings from a dict (unknown keys and bad values are errors)."""
    from dataclasses import fields

    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a table")
    check_keys(d, (f.name for f in fields(SearchSettings)), where)
    try:
        SearchSettings(**d)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return dict(d)


def settings_dict(s: SearchSettings) -> dict[str, Any]:
    """The settings as a plain dict (written next to results)."""
    return asdict(s)
