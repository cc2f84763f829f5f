"""TOML in one place: reading a settings file, writing values, rejecting unknown keys.

Training configs (:mod:`molvae.train.config`), objective files (:mod:`molvae.optimize.objectives`) and search
settings (:mod:`molvae.optimize.run`) all read and write TOML through these functions, so that
every file gives the same one-line errors.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from molvae.errors import ConfigError


def read_toml(path: str | Path, what: str = "settings file") -> dict[str, Any]:
    """The tables of a TOML file; :class:`ConfigError` when it is missing, not text or not TOML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such {what}: {path}")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None


def toml_value(v: Any) -> str:
    """A value as TOML text: booleans, numbers, strings, (nested) lists of them and inline tables."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):  # an inline table
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_keys(d: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """:class:`ConfigError` naming the unknown keys of ``d`` (and the known ones)."""
    known = set(known)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
