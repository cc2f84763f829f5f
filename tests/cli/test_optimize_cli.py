"""``molvae optimize`` end to end, and one-line errors for bad input."""

from __future__ import annotations

import csv
import re
import textwrap

import pytest
from click.testing import CliRunner

from molvae.chem.molecules import canonical_smiles
from molvae.chem.properties import compute
from molvae_cli.main import cli
from tests.conftest import moses


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_optimize_writes_ranked_top_k_with_image_and_settings(tiny_run, tmp_path):
    out = tmp_path / "best.csv"
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--minimize",
        "sa",
        "--weight",
        "sa=0.1",
        "--budget",
        200,
        "--top",
        7,
        "-o",
        out,
        "--image",
        tmp_path / "best.png",
        "-q",
    )
    assert res.exit_code == 0, res.output
    rows = read_csv(out)
    assert len(rows) == 7 and len({r["smiles"] for r in rows}) == 7
    assert list(rows[0])[:3] == ["smiles", "objective", "logp"] and {"plogp", "novel", "step", "method"} <= set(rows[0])
    scores = [float(r["objective"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        p = compute(r["smiles"], ["qed", "sa"])
        assert float(r["objective"]) == pytest.approx(p["qed"] - 0.1 * p["sa"], abs=2e-4)
    assert (tmp_path / "best.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "decoded" in res.stderr and "wrote 7 to" in res.stderr and "drew 7 molecules" in res.stderr
    # the settings written next to the results reproduce the run
    again = tmp_path / "again.csv"
    res = run("optimize", "-m", tiny_run, "--config", tmp_path / "best.optimize.toml", "--top", 7, "-o", again, "-q")
    assert res.exit_code == 0, res.output
    assert read_csv(again) == rows


def test_optimize_from_seeds_with_constraints_and_a_user_function(tiny_run, tmp_path, monkeypatch):
    (tmp_path / "clifn.py").write_text(
        textwrap.dedent("""
        def score(smiles):
            if any("S" in s for s in smiles):
                raise ValueError("no sulfur please")
            return [float(len(s)) for s in smiles]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    seeds = moses(2, skip=10)
    (tmp_path / "seeds.smi").write_text(seeds[1] + "\n")
    out = tmp_path / "o.csv"
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--objective",
        "clifn:score",
        "--from",
        seeds[0],
        "--from-file",
        tmp_path / "seeds.smi",
        "--similarity",
        0.05,
        "--forbid",
        "[#9]",
        "--budget",
        150,
        "--top",
        3,
        "--method",
        "cma",
        "-o",
        out,
        "-q",
    )
    assert res.exit_code == 0, res.output
    rows = read_csv(out)
    assert rows and {"similarity", "seed", "clifn:score"} <= set(rows[0])
    assert len({r["seed"] for r in rows}) <= 2 and all(sum(x["seed"] == r["seed"] for x in rows) <= 3 for r in rows)
    for r in rows:
        assert float(r["similarity"]) >= 0.05 and "F" not in r["smiles"] and "S" not in r["smiles"]
        assert float(r["objective"]) == pytest.approx(len(r["smiles"]))
    assert "objective failed on them" in res.stderr
    fails = read_csv(tmp_path / "o.failures.csv")
    assert fails and all("S" in f["smiles"] and "no sulfur please" in f["reason"] for f in fails)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--maximize", "potency"], "unknown property 'potency'"),
        (["--maximize", "qed", "--similarity", "0.4"], "a similarity constraint needs seed molecules"),
        (["--maximize", "qed", "--from", "C[Si](C)(C)C"], "lacks the SELFIES tokens [Si]"),
        (["--maximize", "qed", "--from", "not-a-molecule"], "cannot encode seed not-a-molecule"),
        (["--maximize", "qed", "--require", "c1ccc"], "invalid SMARTS 'c1ccc'"),
        (["--objective", "no_such_pkg_xyz.mod:f"], "cannot import 'no_such_pkg_xyz.mod'"),
        (["--range", "mw=250-400"], "is not LOW:HIGH numbers"),
        (["--target", "logp"], "write NAME=VALUE"),
        (["--maximize", "qed", "--budget", "0"], "budget must be positive"),
        ([], "nothing to optimise"),
        (["--maximize", "qed", "--weight", "sa=2"], "--weight sa: no objective of that name"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(tiny_run, tmp_path, args, message):
    res = run("optimize", "-m", tiny_run, *args, "-o", tmp_path / "x.csv", "-q")
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[objective]]\nproperty = 'qed'\nwieght = 2\n", "objective #1: unknown key(s) wieght"),
        ("[[objective]\n", "invalid TOML"),
        ("[[objective]]\nproperty = 'qed'\n[search]\nbudgett = 3\n", "search: unknown key(s) budgett"),
        ("[[objective]]\nproperty = 'potency'\n", "unknown property 'potency'"),
    ],
)
def test_bad_objective_file_names_file_and_problem(tiny_run, tmp_path, text, message):
    f = tmp_path / "obj.toml"
    f.write_text(text)
    res = run("optimize", "-m", tiny_run, "--config", f, "-o", tmp_path / "x.csv", "-q")
    assert res.exit_code == 2, res.output
    assert message in res.output and "obj.toml" in res.output
    assert "Traceback" not in res.output
    assert len([line for line in res.stderr.splitlines() if line.startswith("Error")]) == 1


# ------------------------------------------------------------------ seed files and budgets (issue 12, item 4)
@pytest.mark.parametrize("text", ["", "SMILES,name\n", "\n\n"])
def test_seed_file_without_molecules_is_a_usage_error(tiny_run, tmp_path, text):
    seeds = tmp_path / ("seeds.csv" if "," in text else "seeds.smi")
    seeds.write_text(text)
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--from-file",
        seeds,
        "--budget",
        20,
        "-o",
        tmp_path / "x.csv",
        "-q",
    )
    assert res.exit_code == 2, res.output
    assert "holds no molecule" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.csv").exists()


def test_unusable_seed_lines_go_to_a_rejects_file_and_the_others_are_optimised(tiny_run, tmp_path):
    good = moses(2, skip=10)
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"SMILES,name\n{good[0]},a\nC[Si](C)(C)C,silane\n,empty\nnot-a-molecule,junk\n{good[1]},b\n")
    out = tmp_path / "o.csv"
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--from-file",
        seeds,
        "--budget",
        30,
        "--top",
        2,
        "-o",
        out,
        "-q",
    )
    assert res.exit_code == 0, res.output
    rejects = read_csv(tmp_path / "o.seed-rejects.csv")
    assert [(r["line"], r["smiles"]) for r in rejects] == [("3", "C[Si](C)(C)C"), ("4", ""), ("5", "not-a-molecule")]
    assert "[Si]" in rejects[0]["reason"] and rejects[1]["reason"] == "empty SMILES" and rejects[2]["reason"]
    assert "3 of 5 seeds" in res.stderr and "2 of 2 seeds have a candidate" in res.stderr
    assert {r["seed"] for r in read_csv(out)} <= {canonical_smiles(s) for s in good}


def test_seed_file_with_no_usable_molecule_fails(tiny_run, tmp_path):
    seeds = tmp_path / "seeds.smi"
    seeds.write_text("C[Si](C)(C)C\nnot-a-molecule\n")
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--from-file",
        seeds,
        "--budget",
        20,
        "-o",
        tmp_path / "x.csv",
        "-q",
    )
    assert res.exit_code == 1, res.output
    assert "no usable seed" in res.output and "Traceback" not in res.output
    assert len(read_csv(tmp_path / "x.seed-rejects.csv")) == 2


@pytest.mark.parametrize("method", ["cma", "gradient", "gradient+cma", "ga"])
def test_budget_is_met_exactly(tiny_run, tmp_path, method):
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--method",
        method,
        "--budget",
        50,
        "-o",
        tmp_path / "x.csv",
        "-q",
    )
    assert res.exit_code == 0, res.output
    took = re.search(r"decoded 50 molecules in ([\d.]+) s", res.stderr)
    assert took and (float(took.group(1)) >= 10 or "." in took.group(1))  # a 0.4 s search is not "0 s"


def test_budget_of_distinct_molecules_and_guards_switch_off(tiny_run, tmp_path):
    res = run(
        "optimize",
        "-m",
        tiny_run,
        "--maximize",
        "qed",
        "--method",
        "ga",
        "--budget",
        40,
        "--budget-counts",
        "distinct",
        "-o",
        tmp_path / "x.csv",
        "-q",
    )
    assert res.exit_code == 0, res.output
    assert "40 distinct valid" in res.stderr and "a drug-likeness guard" in res.stderr
    assert "objective computed for 40" not in res.stderr  # the guarded ones were not scored
    res = run(
        "optimize", "-m", tiny_run, "--maximize", "qed", "--budget", 40, "--no-guards", "-o", tmp_path / "y.csv", "-q"
    )
    assert res.exit_code == 0, res.output
    assert "drug-likeness guard" not in res.stderr
    assert "guards = false" in (tmp_path / "y.optimize.toml").read_text()


def test_no_result_says_how_close_the_search_came_and_what_to_change(tiny_run, tmp_path):
    seed = moses(1, skip=7)[0]
    res = run("optimize", "-m", tiny_run, "--maximize", "qed", "--from", seed, "--similarity", "0.999",
              "--budget", 40, "-o", tmp_path / "x.csv", "-q")  # fmt: skip
    assert res.exit_code == 1
    found = re.search(r"closest to a seed had similarity (\d\.\d\d) \(asked 0.999\): lower --similarity", res.output)
    assert found and 0 < float(found.group(1)) < 0.999, res.output


def test_optimize_writes_its_progress_curve_beside_the_output(tiny_run, tmp_path):
    out = tmp_path / "q.csv"
    res = run("optimize", "-m", tiny_run, "--maximize", "qed", "--budget", 300, "--top", 0, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    assert "ms per call" in res.output
    curve = read_csv(tmp_path / "q.curve.csv")
    assert (tmp_path / "q.curve.png").stat().st_size > 1000
    calls = [int(r["calls"]) for r in curve]
    assert calls == sorted(calls) and int(curve[-1]["decoded"]) == 300
    best = [float(r["best"]) for r in curve if r["best"]]
    assert best == sorted(best)  # the best so far never falls
    scores = sorted((float(r["objective"]) for r in read_csv(out)), reverse=True)
    assert float(curve[-1]["best"]) == pytest.approx(scores[0], abs=1e-4)  # the table has 4 decimals
    assert float(curve[-1]["top10"]) == pytest.approx(sum(scores[:10]) / 10, abs=1e-4)


def test_a_search_with_no_result_leaves_no_output_file(tiny_run, tmp_path):
    out = tmp_path / "none.csv"
    res = run("optimize", "-m", tiny_run, "--maximize", "qed", "--require", "[Xe]", "--budget", 60, "-o", out, "-q")
    assert res.exit_code == 1 and "no usable molecule" in res.output and "wrote no file" in res.output
    assert not out.exists() and not (tmp_path / "none.optimize.toml").exists()
