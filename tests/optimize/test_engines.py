"""The engine registry: a new method is one module and one registry line, and the CLI, the API's
validation and the settings reader follow; a TOML request runs the same search from Python and
from the command line."""

from __future__ import annotations

import csv
import sys
import textwrap

import pytest
from click.testing import CliRunner

from molvae.errors import ConfigError
from molvae.optimize import engines
from molvae.optimize.config import read_request, search_settings, settings_dict
from molvae.optimize.engines import EngineSpec, register
from molvae_cli.main import cli

TOY = '''
"""A toy engine: fresh prior points until the budget is spent."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Settings:
    batch: int = 32


def run(oracle, settings):
    while not oracle.spent():
        x = oracle.rng.standard_normal((settings.batch, oracle.width)).astype(np.float32)
        oracle.evaluate(x, np.zeros(len(x), dtype=int), "toy")
'''


@pytest.fixture
def toy_engine(tmp_path, monkeypatch):
    (tmp_path / "toy_engine_xyz.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(engines.ENGINES, "toy", EngineSpec("toy", "toy_engine_xyz", "prior draws, for a test"))
    yield "toy"
    sys.modules.pop("toy_engine_xyz", None)


def test_a_new_engine_is_one_module_and_one_registry_line(toy_engine, tiny_model, tmp_path):
    assert register is not None and "toy" in engines.names()
    res = tiny_model.optimize("qed", method="toy", batch=16, budget=100, seed=0, top=None)
    assert res.n_decoded == 100 and res.candidates and {c.method for c in res.candidates} == {"toy"}
    assert search_settings({"method": "toy", "batch": 8}).engine.batch == 8
    with pytest.raises(ConfigError, match="unknown"):
        search_settings({"method": "toy", "no_such_setting": 1})
    help_text = CliRunner().invoke(cli, ["optimize", "--help"]).output
    assert "toy" in help_text.replace("\n", " ")
    out = tmp_path / "toy.csv"
    run = CliRunner().invoke(
        cli, ["optimize", "-m", str(tiny_model.source), "--maximize", "qed", "--method", "toy", "--budget", "60",
              "-o", str(out), "-q"]
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert {r["method"] for r in csv.DictReader(open(out))} == {"toy"}


def test_an_unknown_method_names_the_registered_ones(tiny_model):
    with pytest.raises(ConfigError, match="ga, cma, gradient, gradient\\+cma"):
        tiny_model.optimize("qed", method="annealing", budget=10)
    run = CliRunner().invoke(cli, ["optimize", "--maximize", "qed", "--method", "annealing", "-o", "x.csv"])
    assert run.exit_code == 2 and "annealing" in run.output


def test_settings_of_another_method_are_ignored_and_round_trip(caplog):
    s = search_settings({"method": "ga", "steps": 10, "stall": 1000, "budget": 50})
    assert s.engine.stall == 1000 and "steps" not in settings_dict(s)
    assert any("steps" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)
    assert search_settings(settings_dict(s)) == s
    with pytest.raises(ConfigError, match="stall must be positive|must be positive"):
        search_settings({"stall": 0})


def test_a_toml_request_runs_the_same_search_from_python_and_the_cli(tiny_model, tmp_path):
    config = tmp_path / "obj.toml"
    config.write_text(
        textwrap.dedent(
            """
            [[objective]]
            property = "qed"
            goal = "maximize"

            [constraints]
            max_heavy_atoms = 30

            [search]
            budget = 150
            seed = 3
            stall = 100
            """
        )
    )
    objective, settings = read_request(str(config))
    assert settings.budget == 150 and settings.engine.stall == 100 and objective.constraints.max_heavy_atoms == 30
    api = tiny_model.optimize(str(config), top=None)
    assert api.settings == settings and api.n_decoded == 150
    out = tmp_path / "cli.csv"
    run = CliRunner().invoke(
        cli, ["optimize", "-m", str(tiny_model.source), "--config", str(config), "--top", "0", "-o", str(out), "-q"]
    )
    assert run.exit_code == 0, run.output
    rows = list(csv.DictReader(open(out)))
    assert [r["smiles"] for r in rows] == [c.smiles for c in api.candidates]
