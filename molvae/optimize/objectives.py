"""What a latent-space search optimises: objective terms, how they combine, and hard constraints.

An :class:`Objective` is plain data, filled from keyword arguments, command-line options or a
TOML file (unknown keys are an error); :class:`molvae.optimize.scoring.Scorer` scores molecules with it.

>>> obj = Objective.build(maximize=["qed"], constraints={"max_heavy_atoms": 38})
>>> obj.terms[0].goal, obj.constraints.max_heavy_atoms
('maximize', 38)

TOML form (``molvae optimize --config objective.toml``)::

    combine = "sum"               # or "desirability": weighted geometric mean of 0-1 desirabilities
    seeds = ["COc1ccccc1"]        # start from these molecules (and measure similarity to them)

    [[objective]]
    property = "qed"              # any registered property ...
    goal = "maximize"             # maximize | minimize | target | range
    weight = 1.0

    [[objective]]
    function = "mypkg.dock:score" # ... or your own function: list of SMILES -> list of floats
    goal = "minimize"

    [constraints]
    similarity = 0.4              # Tanimoto (Morgan r=2) to the seed >= 0.4
    require = ["c1ccccc1"]        # SMARTS every result must contain
    forbid = ["[N+](=O)[O-]"]     # SMARTS no result may contain
    max_heavy_atoms = 38
    guards = true                 # drug-likeness guards (molvae.chem.guards; the default), false, or a table:
                                  # guards = {max_sa = 5.0, max_chain = false}
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from molvae.chem.guards import Guards, as_guards
from molvae.chem.properties import resolve
from molvae.errors import ConfigError, UnknownPropertyError
from molvae.io.tomlfile import check_keys, toml_value
from molvae.io.tomlfile import read_toml as read_toml_file

GOALS = ("maximize", "minimize", "target", "range")
COMBINE = ("sum", "desirability")

# Where desirability goes from 0 to 1 when a term gives no low/high: typical drug-like ranges.
TYPICAL_RANGE: dict[str, tuple[float, float]] = {
    "logp": (-2.0, 6.0),
    "qed": (0.0, 1.0),
    "sa": (1.0, 10.0),
    "mw": (100.0, 600.0),
    "tpsa": (0.0, 160.0),
    "hbd": (0.0, 6.0),
    "hba": (0.0, 12.0),
    "rotb": (0.0, 12.0),
    "plogp": (-10.0, 10.0),
    "heavy_atoms": (5.0, 50.0),
}

_TERM_KEYS = {"property", "function", "goal", "target", "low", "high", "weight", "tolerance"}
_CONSTRAINT_KEYS = {"similarity", "require", "forbid", "max_heavy_atoms", "guards"}
_TOP_KEYS = {
    "objective",
    "combine",
    "constraints",
    "seeds",
    "search",
}  # [search]: molvae.optimize.config.search_settings


@dataclass(frozen=True)
class Term:
    """One thing to optimise: a registered property or a user function, and what to do with it.

    ``goal``: ``maximize``, ``minimize``, ``target`` (``target`` value) or ``range`` (``low`` to
    ``high``). In a weighted sum a term contributes ``weight`` times the value (maximize), minus
    the value (minimize), minus the distance to the target or to the range. As a desirability
    (0 to 1) maximize/minimize ramp linearly between ``low`` and ``high`` (defaults: a typical
    range of the property), target and range fall linearly to 0 at ``tolerance`` away.
    """

    property: str | None = None
    function: str | None = None  # "package.module:function"
    goal: str = "maximize"
    target: float | None = None
    low: float | None = None
    high: float | None = None
    weight: float = 1.0
    tolerance: float | None = None

    def __post_init__(self) -> None:
        if (self.property is None) == (self.function is None):
            raise ConfigError("an objective term needs exactly one of 'property' or 'function'")
        if self.property is not None:
            object.__setattr__(self, "property", resolve([self.property])[0])
        elif ":" not in self.function or not all(self.function.partition(":")[::2]):  # type: ignore[operator,union-attr]
            raise ConfigError(f"objective function {self.function!r}: write package.module:function")
        goal = str(self.goal).strip().lower()
        aliases = {"max": "maximize", "maximise": "maximize", "min": "minimize", "minimise": "minimize"}
        goal = aliases.get(goal, goal)
        if goal not in GOALS:
            raise ConfigError(f"objective {self.name}: unknown goal {self.goal!r}; use {', '.join(GOALS)}")
        object.__setattr__(self, "goal", goal)
        for key in ("target", "low", "high", "weight", "tolerance"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise ConfigError(f"objective {self.name}: {key} must be a number, got {v!r}")
        if goal == "target" and self.target is None:
            raise ConfigError(f"objective {self.name}: goal 'target' needs a target value")
        if goal == "range" and (self.low is None or self.high is None):
            raise ConfigError(f"objective {self.name}: goal 'range' needs low and high")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ConfigError(f"objective {self.name}: low ({self.low:g}) must be below high ({self.high:g})")
        if self.weight <= 0:
            raise ConfigError(f"objective {self.name}: weight must be positive, got {self.weight:g}")
        if self.tolerance is not None and self.tolerance <= 0:
            raise ConfigError(f"objective {self.name}: tolerance must be positive")

    @builtins.property  # the field ``property`` shadows the builtin in this class body
    def name(self) -> str:
        return self.property or self.function  # type: ignore[return-value]

    def raw(self, v: float) -> float:
        """Contribution to a weighted sum (before the weight): larger is better."""
        if self.goal == "maximize":
            return v
        if self.goal == "minimize":
            return -v
        if self.goal == "target":
            return -abs(v - self.target)  # type: ignore[operator]
        return -max(0.0, self.low - v, v - self.high)  # type: ignore[operator]

    def _bounds(self) -> tuple[float, float]:
        lo, hi = TYPICAL_RANGE.get(self.property or "", (None, None))
        lo = self.low if self.low is not None else lo
        hi = self.high if self.high is not None else hi
        if lo is None or hi is None:
            raise ConfigError(f"objective {self.name}: as a desirability it needs low and high")
        return lo, hi

    def _tolerance(self) -> float:
        if self.tolerance is not None:
            return self.tolerance
        if self.property in TYPICAL_RANGE:
            lo, hi = TYPICAL_RANGE[self.property]
            return (hi - lo) / 4.0
        raise ConfigError(f"objective {self.name}: as a desirability it needs a tolerance")

    def desirability(self, v: float) -> float:
        """0 (unacceptable) to 1 (ideal)."""
        if self.goal in ("maximize", "minimize"):
            lo, hi = self._bounds()
            d = (v - lo) / (hi - lo)
            return min(1.0, max(0.0, d if self.goal == "maximize" else 1.0 - d))
        return max(0.0, 1.0 + self.raw(v) / self._tolerance())


@dataclass(frozen=True)
class Constraints:
    """Hard constraints: a molecule that breaks one is never a result.

    ``similarity``: Tanimoto similarity (Morgan fingerprints, radius 2, 2048 bits) to the seed
    the search started from must be at least this; it needs seeds. ``guards``: the
    drug-likeness rules of :class:`molvae.chem.guards.Guards` (on by default; ``False`` for none).
    """

    similarity: float | None = None
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    max_heavy_atoms: int | None = None
    guards: Guards = field(default_factory=Guards)

    def __post_init__(self) -> None:
        object.__setattr__(self, "guards", as_guards(self.guards))
        for key in ("require", "forbid"):
            v = getattr(self, key)
            if isinstance(v, str):
                v = (v,)
            if not all(isinstance(s, str) for s in v):
                raise ConfigError(f"constraints.{key} must be a list of SMARTS strings")
            object.__setattr__(self, key, tuple(v))
        if self.similarity is not None and not (
            isinstance(self.similarity, (int, float)) and 0 <= self.similarity <= 1
        ):
            raise ConfigError(f"constraints.similarity must be between 0 and 1, got {self.similarity!r}")
        if self.max_heavy_atoms is not None and (not isinstance(self.max_heavy_atoms, int) or self.max_heavy_atoms < 1):
            raise ConfigError(f"constraints.max_heavy_atoms must be a positive integer, got {self.max_heavy_atoms!r}")


@dataclass(frozen=True)
class Objective:
    """Terms, how they combine (``sum`` or ``desirability``), hard constraints and seed molecules."""

    terms: tuple[Term, ...]
    combine: str = "sum"
    constraints: Constraints = field(default_factory=Constraints)
    seeds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if not self.terms:
            raise ConfigError("nothing to optimise: give at least one objective (e.g. maximize qed)")
        if self.combine not in COMBINE:
            raise ConfigError(f"unknown combine {self.combine!r}; use {' or '.join(COMBINE)}")
        names = [t.name for t in self.terms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"objective {', '.join(dup)} given more than once")
        if self.combine == "desirability":
            for t in self.terms:
                t.desirability(0.0)  # raises when a function term lacks low/high
        if self.constraints.similarity is not None and not self.seeds:
            raise ConfigError("a similarity constraint needs seed molecules to be similar to")

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        maximize: Iterable[str] = (),
        minimize: Iterable[str] = (),
        target: Mapping[str, float] | None = None,
        range: Mapping[str, tuple[float, float]] | None = None,  # noqa: A002 - the goal's name
        weights: Mapping[str, float] | None = None,
        combine: str = "sum",
        constraints: Constraints | Mapping[str, Any] | None = None,
        seeds: Sequence[str] = (),
        base: Objective | None = None,
    ) -> Objective:
        """An objective from short forms; a name containing ``:`` is a user function.

        >>> Objective.build(maximize=["qed"], target={"logp": 2.5}).terms[1].goal
        'target'

        ``base`` (e.g. read from a TOML file) is extended: its terms come first, and given
        constraints, seeds and a non-default ``combine`` replace its own.
        """
        weights = {k.strip().lower() if ":" not in k else k.strip(): float(v) for k, v in (weights or {}).items()}
        terms: list[Term] = list(base.terms) if base else []

        def add(name: str, **kw: Any) -> None:
            name = name.strip()
            key: dict[str, Any] = dict(function=name) if ":" in name else dict(property=name)
            w = weights.pop(name if ":" in name else name.lower(), 1.0)
            terms.append(Term(**key, weight=w, **kw))

        for n in maximize:
            add(n, goal="maximize")
        for n in minimize:
            add(n, goal="minimize")
        for n, v in (target or {}).items():
            add(n, goal="target", target=float(v))
        for n, (lo, hi) in (range or {}).items():
            add(n, goal="range", low=float(lo), high=float(hi))
        if weights:
            named = {t.name for t in terms}
            for n, w in weights.items():  # a weight for a term that came from the base file
                if n not in named:
                    raise ConfigError(f"--weight {n}: no objective of that name")
                terms = [replace(t, weight=w) if t.name == n else t for t in terms]
        if isinstance(constraints, Mapping):
            constraints = _constraints_from(constraints, "constraints")
        if base is not None:
            constraints = constraints or base.constraints
            combine = combine if combine != "sum" else base.combine
            seeds = tuple(seeds) or base.seeds
        return cls(tuple(terms), combine, constraints or Constraints(), tuple(seeds))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "objective") -> Objective:
        """The TOML schema as a dict (see the module docstring); unknown keys are an error."""
        check_keys(d, _TOP_KEYS, where)
        raw_terms = d.get("objective", [])
        if isinstance(raw_terms, Mapping):
            raw_terms = [raw_terms]
        if not isinstance(raw_terms, list):
            raise ConfigError(f"{where}: 'objective' must be a list of tables ([[objective]])")
        terms = []
        for i, t in enumerate(raw_terms, start=1):
            if not isinstance(t, Mapping):
                raise ConfigError(f"{where}: objective #{i} must be a table")
            check_keys(t, _TERM_KEYS, f"{where}: objective #{i}")
            try:
                terms.append(Term(**t))
            except (ConfigError, UnknownPropertyError) as exc:
                raise type(exc)(f"{where}: objective #{i}: {exc}") from None
            except TypeError as exc:
                raise ConfigError(f"{where}: objective #{i}: {exc}") from None
        seeds = d.get("seeds", ())
        if isinstance(seeds, str) or not all(isinstance(s, str) for s in seeds):
            raise ConfigError(f"{where}: seeds must be a list of SMILES strings")
        constraints = _constraints_from(d.get("constraints", {}), f"{where}: constraints")
        try:
            return cls(tuple(terms), str(d.get("combine", "sum")), constraints, tuple(seeds))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Objective:
        """Read an objective file. Raises :class:`ConfigError` naming the file and the problem."""
        return as_objective(Path(path))


def to_toml(objective: Objective, search: Mapping[str, Any] | None = None) -> str:
    """TOML text of an objective (and search settings) that :meth:`Objective.from_toml` reads back."""
    lines = [
        "# molvae optimize: objective and search settings (resolved)",
        f"combine = {toml_value(objective.combine)}",
    ]
    if objective.seeds:
        lines.append(f"seeds = {toml_value(list(objective.seeds))}")
    for t in objective.terms:
        lines += ["", "[[objective]]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in asdict(t).items() if v is not None]
    c = {k: v for k, v in asdict(objective.constraints).items() if v not in (None, ()) and k != "guards"}
    guards = objective.constraints.guards
    if guards != Guards():
        c["guards"] = {k: (False if v is None else v) for k, v in asdict(guards).items()} if guards.enabled else False
    if c:
        lines += ["", "[constraints]"] + [f"{k} = {toml_value(v)}" for k, v in c.items()]
    if search:
        lines += ["", "[search]"] + [f"{k} = {toml_value(v)}" for k, v in search.items() if v is not None]
    return "\n".join(lines) + "\n"


def _constraints_from(d: Any, where: str) -> Constraints:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a table")
    check_keys(d, _CONSTRAINT_KEYS, where)
    try:
        return Constraints(**d)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of an objective file; :class:`ConfigError` when it is missing or not TOML."""
    return read_toml_file(path, "objective file")


def as_objective(objective: Objective | Mapping[str, Any] | str | Path, seeds: Sequence[str] = ()) -> Objective:
    """An :class:`Objective` from itself, a dict in the TOML schema, a ``.toml`` path, or one name to maximise.

    ``seeds``, when given, replace the objective's own.
    """
    seeds = tuple(seeds or ())
    if isinstance(objective, Objective):
        return replace(objective, seeds=seeds) if seeds else objective
    if isinstance(objective, (str, Path)) and (isinstance(objective, Path) or objective.lower().endswith(".toml")):
        d = read_toml(objective)
        return Objective.from_dict({**d, "seeds": list(seeds)} if seeds else d, where=str(objective))
    if isinstance(objective, Mapping):
        return Objective.from_dict({**objective, "seeds": list(seeds)} if seeds else objective)
    if isinstance(objective, str):
        return Objective.build(maximize=[objective], seeds=seeds)
    raise ConfigError(f"cannot read an objective from {type(objective).__name__}")
