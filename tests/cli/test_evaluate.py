"""molvae evaluate through the command line: metrics, diagnostics, report, bad input."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from molvae_cli.main import cli
from tests.conftest import moses


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory):
    p = tmp_path_factory.mktemp("ref") / "ref.smi"
    p.write_text("\n".join(moses(400, skip=2000)) + "\n")
    return p


@pytest.mark.slow
def test_evaluate_a_file_of_molecules(tmp_path, small_reference):
    gen = tmp_path / "gen.csv"
    smiles = moses(300, skip=5000) + ["not_a_smiles", "C1CC"]
    gen.write_text("smiles\n" + "\n".join(smiles) + "\n")
    res = run("evaluate", gen, "--reference", small_reference, "--json", tmp_path / "m.json", "-q", "--jobs", 1)
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["n_generated"] == 302 and m["n_valid"] == 300
    assert m["valid"] == pytest.approx(300 / 302)
    for key in ("FCD/Test", "SNN/Test", "Frag/Test", "IntDiv", "IntDiv2", "Filters", "logP", "SA", "QED", "weight"):
        assert m[key] is not None, key
    assert 0.80 < m["IntDiv"] < 0.95  # real drug-like molecules
    assert re.search(r"valid\s+0\.99", res.output)


def test_evaluate_empty_and_invalid_files_report_then_fail(tmp_path, small_reference):
    """No usable molecule: the metrics are still printed and written, then exit 1 with the rows that failed."""
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    res = run("evaluate", empty, "--reference", small_reference, "--json", tmp_path / "e.json", "-q", "--jobs", 1)
    assert res.exit_code == 1, res.output
    assert "no usable molecule: the file holds no molecules" in res.output and "Traceback" not in res.output
    m = json.loads((tmp_path / "e.json").read_text())["metrics"]
    assert m["n_generated"] == 0 and m["FCD/Test"] is None and m["notes"]["FCD/Test"]
    bad = tmp_path / "bad.smi"
    bad.write_text("xx\n\nyy\n")
    res = run("evaluate", bad, "--reference", small_reference, "--json", tmp_path / "b.json", "-q", "--jobs", 1)
    assert res.exit_code == 1, res.output
    assert "none of the 2 molecules is valid" in res.output
    assert "line 1: xx: invalid SMILES" in res.stderr and "line 3: yy: invalid SMILES" in res.stderr
    out = json.loads((tmp_path / "b.json").read_text())
    assert out["metrics"]["valid"] == 0 and out["metrics"]["SNN/Test"] is None
    assert [r["line"] for r in out["rejects"]] == [1, 3]
    assert (tmp_path / "b.rejects.csv").read_text().splitlines()[1:] == [
        "1,xx,invalid SMILES: RDKit could not parse it",
        "3,yy,invalid SMILES: RDKit could not parse it",
    ]


def test_radicals_and_odd_valences_are_not_valid_but_moses_validity_stays_moses(tmp_path, small_reference):
    """MOSES's valid counts what RDKit parses; valid_strict leaves out radicals and unusual valences."""
    gen = tmp_path / "gen.csv"
    smiles = moses(8, skip=5000) + ["CN(C)C[NH]", "O=CO[SH](Cc1ccc(O)cc1)c1ccccc1", "CS(=O)(=O)c1ccccc1"]
    gen.write_text("smiles\n" + "\n".join(smiles) + "\n")
    res = run("evaluate", gen, "--reference", small_reference, "--json", tmp_path / "m.json", "-q", "--jobs", 1)
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "m.json").read_text())
    m = out["metrics"]
    assert m["valid"] == 1.0 and m["n_valid"] == 11  # RDKit parses all of them: MOSES's number
    assert m["n_valid_strict"] == 9 and m["valid_strict"] == pytest.approx(9 / 11)
    assert "1 with radical electrons" in m["notes"]["valid_strict"]
    assert "1 with unusual valence" in m["notes"]["valid_strict"]
    assert [(r["line"], r["reason"].split(" on ")[0]) for r in out["rejects"]] == [
        (10, "radical electrons"),
        (11, "unusual valence"),
    ]
    assert re.search(r"valid_strict\s+0\.8182", res.output)


@pytest.mark.slow
def test_evaluate_model_with_report(tiny_run, tmp_path, small_reference):
    res = run(
        "evaluate",
        "--model",
        tiny_run,
        "-n",
        300,
        "--reference",
        small_reference,
        "--heldout-n",
        100,
        "--control-n",
        20,
        "--report",
        tmp_path / "r",
        "--json",
        tmp_path / "r.json",
        "-q",
        "--jobs",
        1,
    )
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "r.json").read_text())
    d = out["diagnostics"]
    assert d["reconstruction"]["n"] == 100
    assert d["reconstruction"]["token_accuracy"] > 0.2  # chance over ~26 symbols is 0.04
    assert len(d["latent"]["kl_per_dim"]) == 8
    assert set(d["property_head_mae"]) == {"logp", "qed", "sa"}
    for name in ("logp", "qed", "sa"):
        c = d["condition_control"][name]
        assert len(c["requested"]) == 9 and c["validity"] > 0.5
        assert c["mae"] == pytest.approx(c["mae"]) and 0 <= c["within_tolerance"] <= 1  # numbers, not NaN
    assert out["metrics"]["notes"]["Novelty"] == "against the model's own training molecules"
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5  # histograms, sweeps, latent map, KL, sample grid
    assert "not available" not in html
    assert "condition" in res.output and "reconstruction: exact" in res.output


def test_evaluate_usage_errors(tmp_path, tiny_run):
    assert run("evaluate").exit_code == 2
    gen = tmp_path / "g.smi"
    gen.write_text("CCO\n")
    assert run("evaluate", gen, "--model", tiny_run).exit_code == 2
    res = run("evaluate", "--model", tiny_run, "-n", 0)
    assert res.exit_code == 2 and "must be positive" in res.output
