"""Scores of molecules against an :class:`~molvae.optimize.objectives.Objective`: RDKit and user functions.

Each canonical SMILES is scored once (a cache), user functions are called with lists of new
molecules, and a molecule a user function fails on gets the worst score and is counted.

>>> from molvae.optimize.objectives import Objective
>>> obj = Objective.build(maximize=["plogp"], constraints={"max_heavy_atoms": 38})
>>> round(Scorer(obj).evaluate(["COc1cc2c(cc1OC)CC([NH3+])C2"])[0].score, 3)
-2.505
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from molvae.chem.molecules import mol_from_smiles, morgan_fingerprint, quiet_rdkit
from molvae.chem.properties import compute_mol
from molvae.errors import ConfigError
from molvae.optimize.objectives import Objective


def _import_here_or_installed(module_name: str) -> ModuleType:
    """``importlib.import_module``, falling back on the current directory for the top-level
    package only when Python finds it nowhere else (an installed package is never shadowed)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name != top:
            raise  # the module exists, something it imports does not
        found = importlib.machinery.PathFinder.find_spec(top, [os.getcwd()])
        if found is None or found.loader is None:
            raise
        module = importlib.util.module_from_spec(found)
        sys.modules[top] = module
        try:
            found.loader.exec_module(module)
        except BaseException:
            del sys.modules[top]
            raise
        return importlib.import_module(module_name)


def load_function(spec: str) -> Callable[[list[str]], Sequence[float]]:
    """Import ``package.module:function`` (the function may be a dotted attribute path).

    The module is found where Python finds it, or else in the current directory (as with
    ``python -m``), so that ``molvae optimize --objective myscore:score`` finds ``./myscore.py``;
    ``sys.path`` is left as it is.
    """
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = _import_here_or_installed(module_name)
    except Exception as exc:  # ImportError, or the module itself failing on import
        raise ConfigError(f"objective {spec}: cannot import {module_name!r} ({type(exc).__name__}: {exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"objective {spec}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"objective {spec}: {attr!r} is not callable")
    return obj


@dataclass
class Evaluation:
    """A molecule scored against an objective (similarity to seeds is added by the search).

    ``score`` is NaN when a user function failed on the molecule (``failure`` says how);
    ``violation`` > 0 means a constraint other than similarity is broken (0 = feasible).
    ``guard`` names the drug-likeness guard the molecule breaks (``""``: none); such a molecule
    is not scored (``score`` NaN, ``scored`` False) unless asked for with ``guard=False``.
    """

    smiles: str
    score: float
    values: dict[str, float]
    violation: float
    failure: str = ""
    fingerprint: Any = None
    guard: str = ""
    scored: bool = True

    @property
    def failed(self) -> bool:
        return bool(self.failure)


class Scorer:
    """Scores molecules with RDKit and the user's functions; each canonical SMILES is scored once.

    User functions are called with lists of new SMILES. When one raises, it is called again one
    molecule at a time to find the culprits; a molecule on which it raises or returns a
    non-finite number gets the worst score and is counted in :attr:`n_failures`. A molecule
    that breaks a drug-likeness guard (:mod:`molvae.chem.guards`) is never a result, so the
    objective is not computed for it; :attr:`n_scored` counts the molecules it was computed for
    (the objective's calls).
    """

    def __init__(self, objective: Objective):
        from rdkit import Chem

        self.objective = objective
        self.functions = {t.function: load_function(t.function) for t in objective.terms if t.function}
        self.property_names = [t.property for t in objective.terms if t.property]
        c = objective.constraints
        self._smarts: list[tuple[str, bool, Any]] = []
        for kind, patterns in (("require", c.require), ("forbid", c.forbid)):
            for s in patterns:
                with quiet_rdkit():
                    patt = Chem.MolFromSmarts(s)
                if patt is None:
                    raise ConfigError(f"constraints.{kind}: invalid SMARTS {s!r}")
                self._smarts.append((s, kind == "require", patt))
        self.guards = objective.constraints.guards
        self._guards_on = self.guards.enabled
        self._guard_reasons: dict[str, str] = {}  # checked by guard_reason, not yet evaluated
        self.cache: dict[str, Evaluation] = {}
        self.n_scored = 0  # molecules the objective was computed for
        self.objective_seconds = 0.0  # time spent computing the objective (RDKit properties and user functions)
        self.n_failures = 0
        self.failures: list[tuple[str, str]] = []  # (SMILES, reason), the first few hundred

    def combine(self, values: Mapping[str, float]) -> float:
        terms = self.objective.terms
        if self.objective.combine == "sum":
            return float(sum(t.weight * t.raw(values[t.name]) for t in terms))
        total = sum(t.weight for t in terms)
        logd = 0.0
        for t in terms:
            d = t.desirability(values[t.name])
            if d <= 0:
                return 0.0
            logd += t.weight / total * math.log(d)
        return float(math.exp(logd))

    def evaluate(self, smiles: Sequence[str], guard: bool = True, limit: int | None = None) -> list[Evaluation]:
        """Evaluations of canonical SMILES (valid molecules), in order, from the cache when known.

        ``guard=False`` scores molecules that break a guard too (e.g. the seeds a user gave).
        ``limit``: evaluate at most this many molecules new to the cache (in order); the
        evaluations returned then stop before the first molecule left out.
        """
        new = [s for s in dict.fromkeys(smiles) if s not in self.cache or not (guard or self.cache[s].scored)]
        if limit is not None:
            new = new[: max(0, limit)]
        if new:
            self._score_new(new, guard)
        out = []
        for s in smiles:
            if s not in self.cache:
                break
            out.append(self.cache[s])
        return out

    def guard_reason(self, smiles: str, mol: Any) -> str:
        """The guard that the molecule (its canonical SMILES and RDKit molecule) breaks, as
        :meth:`molvae.chem.guards.Guards.check` says (``""``: none, or guards off). A search may ask
        before choosing what to evaluate; the answer is remembered, not computed again."""
        if not self._guards_on:
            return ""
        why = self._guard_reasons.get(smiles)
        if why is None:
            why = self._guard_reasons[smiles] = self.guards.check(mol)
        return why

    def _score_new(self, smiles: list[str], guard: bool = True) -> None:
        parsed = [mol_from_smiles(s) for s in smiles]
        reasons = [self.guard_reason(s, m) if m is not None else "" for s, m in zip(smiles, parsed)]
        for s in smiles:  # in the cache from now on
            self._guard_reasons.pop(s, None)
        skip = [guard and bool(r) for r in reasons]  # never a result: not worth an objective call
        for s, m, why, sk in zip(smiles, parsed, reasons, skip):
            if sk and m is not None:  # a guard reason implies a parsed molecule
                self.cache[s] = Evaluation(
                    s, math.nan, {}, 1.0 + self._violation(m), "", morgan_fingerprint(m), why, scored=False
                )
        keep = [i for i, sk in enumerate(skip) if not sk]
        smiles, mols, guards = [smiles[i] for i in keep], [parsed[i] for i in keep], [reasons[i] for i in keep]
        self.n_scored += len(smiles)
        t0 = time.perf_counter()
        values: list[dict[str, float]] = [
            dict(zip(self.property_names, compute_mol(m, self.property_names))) if m is not None else {} for m in mols
        ]
        failures = ["" if m is not None else "RDKit could not parse it" for m in mols]
        for spec, fn in self.functions.items():
            todo = [i for i, f in enumerate(failures) if not f]
            for i, (v, why) in zip(todo, self._call(spec, fn, [smiles[i] for i in todo])):
                values[i][spec] = v
                if why:
                    failures[i] = why
        self.objective_seconds += time.perf_counter() - t0
        for i, (s, m) in enumerate(zip(smiles, mols)):
            failure = failures[i]
            if not failure:
                bad = [n for n in self.property_names if not math.isfinite(values[i][n])]
                if bad:
                    failure = f"RDKit could not compute {', '.join(bad)}"
            if failure:
                self.n_failures += 1
                if len(self.failures) < 500:
                    self.failures.append((s, failure))
                score = math.nan
            else:
                score = self.combine(values[i])
            violation = (self._violation(m) + (1.0 if guards[i] else 0.0)) if m is not None else math.inf
            self.cache[s] = Evaluation(
                s, score, values[i], violation, failure, morgan_fingerprint(m) if m is not None else None, guards[i]
            )

    def _call(self, spec: str, fn: Callable, smiles: list[str]) -> list[tuple[float, str]]:
        """(value, failure reason) per molecule; never raises for a molecule's sake."""
        if not smiles:
            return []
        try:
            out = list(fn(list(smiles)))
        except Exception as exc:
            if len(smiles) == 1:
                return [(math.nan, f"{spec} raised {type(exc).__name__}: {exc}")]
            return [self._call_one(spec, fn, s) for s in smiles]
        if len(out) != len(smiles):
            raise ConfigError(f"objective {spec} returned {len(out)} values for {len(smiles)} molecules")
        return [_as_value(spec, v) for v in out]

    def _call_one(self, spec: str, fn: Callable, smi: str) -> tuple[float, str]:
        try:
            out = list(fn([smi]))
        except Exception as exc:
            return math.nan, f"{spec} raised {type(exc).__name__}: {exc}"
        if len(out) != 1:
            raise ConfigError(f"objective {spec} returned {len(out)} values for 1 molecule")
        return _as_value(spec, out[0])

    def _violation(self, mol: Any) -> float:
        """How far a molecule is from meeting the SMARTS and size constraints (0 = it meets them)."""
        v = 0.0
        for _, required, patt in self._smarts:
            if mol.HasSubstructMatch(patt) != required:
                v += 1.0
        limit = self.objective.constraints.max_heavy_atoms
        if limit is not None and mol.GetNumHeavyAtoms() > limit:
            v += (mol.GetNumHeavyAtoms() - limit) / 10.0
        return v


def _as_value(spec: str, v: Any) -> tuple[float, str]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan, f"{spec} returned {v!r}, not a number"
    if not math.isfinite(f):
        return math.nan, f"{spec} returned {f}"
    return f, ""
