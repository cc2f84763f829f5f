"""One reader of optimisation requests: (objective, settings) from a TOML file, a dict, or the
short forms of the command line, for :meth:`MolVAE.optimize <molvae.api.MolVAE.optimize>` and
``molvae optimize`` alike.

Search settings are read flat (``budget = 2000``, ``stall = 2000``, ``popsize = 12``): the
fields of :class:`~molvae.optimize.types.SearchSettings` and those of the chosen method's own
``Settings``. A field of another method is ignored with a warning (a file written for one method
still runs with another); any other unknown name is a :class:`~molvae.errors.ConfigError`.

>>> objective, settings = read_request("objective.toml", search={"budget": 500})  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from molvae.chem.guards import as_guards
from molvae.errors import ConfigError
from molvae.io.tomlfile import check_keys
from molvae.optimize import engines
from molvae.optimize.objectives import Objective, as_objective, read_toml
from molvae.optimize.types import SearchSettings

log = logging.getLogger(__name__)

COMMON = tuple(f.name for f in fields(SearchSettings) if f.name != "engine")


def search_settings(d: Mapping[str, Any], where: str = "search") -> SearchSettings:
    """Validated settings from a flat dict (common fields and the method's own)."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a table")
    method = d.get("method", SearchSettings.method)
    try:
        own = engines.setting_names(method)
        others = set().union(*(engines.setting_names(m) for m in engines.names())) - own
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    check_keys(d, [*COMMON, *own, *others], where)
    ignored = sorted(set(d) & others)
    if ignored:
        log.warning("%s: %s %s not apply to method %s: ignored", where, ", ".join(ignored),
                    "does" if len(ignored) == 1 else "do", method)  # fmt: skip
    try:
        engine = engines.settings_class(method)(**{k: v for k, v in d.items() if k in own})
        return SearchSettings(**{k: v for k, v in d.items() if k in COMMON}, engine=engine)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def settings_dict(s: SearchSettings) -> dict[str, Any]:
    """The settings as one flat dict (written next to results; :func:`search_settings` reads it back)."""
    d = {k: getattr(s, k) for k in COMMON}
    d.update(asdict(s.engine))
    return d


def with_changes(s: SearchSettings | None, changes: Mapping[str, Any], where: str = "settings") -> SearchSettings:
    """``s`` (default: the defaults) with flat ``changes`` applied and validated."""
    if s is None:
        return search_settings(changes, where)
    if not changes:
        return s
    base = settings_dict(s)
    if "method" in changes and changes["method"] != s.method:  # the old method's own fields do not carry over
        base = {k: v for k, v in base.items() if k in COMMON}
    return search_settings({**base, **changes}, where)


def search_table(source: Any) -> dict[str, Any]:
    """The ``[search]`` table of an objective given as a ``.toml`` path or a dict ({} otherwise)."""
    if isinstance(source, Mapping):
        table = source.get("search", {})
    elif isinstance(source, Path) or (isinstance(source, str) and source.lower().endswith(".toml")):
        table = read_toml(source).get("search", {})
    else:
        return {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source if isinstance(source, (str, Path)) else 'objective'}: search must be a table")
    return dict(table)


def read_request(
    config: str | Path | Mapping[str, Any] | Objective | None = None,
    *,
    maximize: Sequence[str] = (),
    minimize: Sequence[str] = (),
    target: Mapping[str, float] | None = None,
    range: Mapping[str, tuple[float, float]] | None = None,  # noqa: A002 - the goal's name
    weights: Mapping[str, float] | None = None,
    combine: str | None = None,
    similarity: float | None = None,
    require: Sequence[str] = (),
    forbid: Sequence[str] = (),
    max_heavy_atoms: int | None = None,
    seeds: Sequence[str] = (),
    guards: Any = None,
    search: Mapping[str, Any] | None = None,
) -> tuple[Objective, SearchSettings]:
    """The objective and search settings of a request: a config (TOML path, dict or
    :class:`Objective`) extended by short forms.

    Terms given here come after the config's; ``similarity`` and ``max_heavy_atoms`` replace the
    config's constraints of that name, ``require`` and ``forbid`` add to them; ``seeds`` replace
    its seeds; ``search`` (flat settings) overrides its ``[search]`` table. ``guards``: ``None``
    keeps the config's (on by default), ``False`` switches them off, ``True`` or a dict of
    :class:`~molvae.chem.guards.Guards` fields sets them.
    """
    where = str(config) if isinstance(config, (str, Path)) else "objective"
    base = None if config is None else as_objective(config)
    table = search_table(config)
    settings = search_settings({**table, **(search or {})}, f"{where}: search" if table else "search")
    constraints = None
    if any(v not in (None, ()) for v in (similarity, require, forbid, max_heavy_atoms)):
        old = base.constraints if base else None
        constraints = {
            "similarity": similarity if similarity is not None else (old.similarity if old else None),
            "require": tuple(old.require if old else ()) + tuple(require),
            "forbid": tuple(old.forbid if old else ()) + tuple(forbid),
            "max_heavy_atoms": max_heavy_atoms if max_heavy_atoms is not None else (old.max_heavy_atoms if old else None),
        }  # fmt: skip
    if not (maximize or minimize or target or range) and base is None:
        raise ConfigError("nothing to optimise: give a property to maximise, minimise, target or keep in a range")
    objective = Objective.build(
        maximize=maximize,
        minimize=minimize,
        target=target,
        range=range,
        weights=weights,
        combine=combine or "sum",
        constraints=constraints,
        seeds=seeds,
        base=base,
    )
    if guards is not None:
        objective = replace(objective, constraints=replace(objective.constraints, guards=as_guards(guards)))
    return objective, settings
