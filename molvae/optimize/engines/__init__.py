"""The search engines, one module each, registered in :data:`ENGINES`.

An engine is a module with a frozen dataclass ``Settings`` (its own knobs, with defaults) and a
function ``run(oracle, settings)`` that spends the :class:`~molvae.optimize.oracle.Oracle`'s
budget by calling :meth:`~molvae.optimize.oracle.Oracle.evaluate` on latent points; it may also
have ``check(codec, objective)``, which raises :class:`~molvae.errors.ConfigError` before any
work when the engine cannot serve an objective. Adding a method means adding its module and one
:func:`register` line: the CLI's ``--method`` choices, the API's validation and the README's
list all come from this table. Engines are imported only when they run, so ``import molvae``
imports none.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from types import ModuleType

from molvae.errors import ConfigError


@dataclass(frozen=True)
class EngineSpec:
    """One search method: its name, the module that implements it and what it is."""

    name: str
    module: str  # imported when the method runs
    summary: str  # one sentence, for --help and the README
    search_condition: bool = False  # can move the decoder's condition values too (condition = "search")


ENGINES: dict[str, EngineSpec] = {}


def register(spec: EngineSpec) -> None:
    """Add (or replace) a search method."""
    ENGINES[spec.name] = spec


register(
    EngineSpec(
        "ga",
        "molvae.optimize.engines.ga",
        "a genetic algorithm on molecules and their latent vectors, with decoder-guided edits (default)",
    )
)
register(EngineSpec("cma", "molvae.optimize.engines.cma", "CMA-ES over the latent space", search_condition=True))
register(EngineSpec("gradient", "molvae.optimize.engines.gradient", "gradient ascent on the property head"))
register(
    EngineSpec(
        "gradient+cma",
        "molvae.optimize.engines.gradient_cma",
        "gradient ascent, then CMA-ES from the best points",
        search_condition=True,
    )
)


def names() -> tuple[str, ...]:
    """The registered methods, in registration order."""
    return tuple(ENGINES)


def spec(name: str) -> EngineSpec:
    """The registered method ``name``; a :class:`ConfigError` naming the choices otherwise."""
    try:
        return ENGINES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown method {name!r}; use {', '.join(ENGINES)}") from None


def load(name: str) -> ModuleType:
    """The module of method ``name`` (imported on first use)."""
    return importlib.import_module(spec(name).module)


def settings_class(name: str) -> type:
    """The ``Settings`` dataclass of method ``name``."""
    return load(name).Settings


def setting_names(name: str) -> set[str]:
    """The names of method ``name``'s own settings."""
    return {f.name for f in fields(settings_class(name))}
