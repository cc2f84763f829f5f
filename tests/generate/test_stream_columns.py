"""Generate computes only the property columns asked for (issue 12.10)."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from molvae_cli.main import cli


def _header(path):
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


def test_generate_to_file_computes_only_the_requested_columns(tiny_model, tmp_path):
    out = tmp_path / "g.csv"
    res = tiny_model.generate_to_file(out, 40, seed=0, n_jobs=1, properties=["logp"])
    assert _header(out) == ["smiles", "logp", "novel"]
    assert res.n_written > 0 and all(set(m.properties) == {"logp"} for m in res.first)
    tiny_model.generate_to_file(out, 10, seed=0, n_jobs=1, properties=[])
    assert _header(out) == ["smiles", "novel"]


def test_same_seed_same_molecules_whatever_the_columns(tiny_model, tmp_path):
    a = tiny_model.generate_to_file(tmp_path / "a.csv", 30, seed=3, n_jobs=1)
    b = tiny_model.generate_to_file(tmp_path / "b.csv", 30, seed=3, n_jobs=1, properties="qed")
    assert [m.smiles for m in a.first] == [m.smiles for m in b.first]
    assert [m.properties["qed"] for m in a.first] == pytest.approx([m.properties["qed"] for m in b.first])


def test_cli_properties_option(tiny_run, tmp_path):
    out = tmp_path / "c.csv"
    res = CliRunner().invoke(
        cli, ["generate", "-m", str(tiny_run), "-n", "20", "--seed", "0", "--properties", "mw,hbd", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert _header(out) == ["smiles", "mw", "hbd", "novel"]
    res = CliRunner().invoke(cli, ["generate", "-m", str(tiny_run), "-n", "5", "--properties", "none", "-o", str(out)])
    assert res.exit_code == 0 and _header(out) == ["smiles", "novel"]
    res = CliRunner().invoke(
        cli, ["generate", "-m", str(tiny_run), "-n", "5", "--properties", "potency", "-o", str(out)]
    )
    assert res.exit_code == 2 and "known properties" in res.output


def test_a_bad_request_leaves_an_existing_output_file_alone(tiny_model, tmp_path):
    from molvae.errors import UnknownPropertyError

    out = tmp_path / "kept.csv"
    out.write_text("smiles\nCCO\n")
    with pytest.raises(UnknownPropertyError):
        tiny_model.generate_to_file(out, 10, seed=0, n_jobs=1, condition={"no_such_property": 1.0})
    assert out.read_text() == "smiles\nCCO\n"
