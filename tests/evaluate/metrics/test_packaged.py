"""Reference statistics in compact form give exactly the metrics of the full ones; the MOSES test set's ship."""

from __future__ import annotations

import gzip
import random

import numpy as np
import pytest
from click.testing import CliRunner

from molvae.evaluate.metrics import evaluate_smiles, packaged, reference
from tests.conftest import ROOT, moses


@pytest.fixture(scope="module")
def full_stats():
    return reference.compute_reference_stats(moses(300, skip=1000), key="small", n_jobs=1)


@pytest.mark.slow
def test_compact_statistics_give_identical_metrics(full_stats, tmp_path):
    packaged.save_compact(tmp_path / "s.npz", full_stats, "abc")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as a:
        compact, meta = reference.from_compact(a)
    assert meta["source_sha256"] == "abc"
    generated = moses(150, skip=5000) + moses(20, skip=5000) + ["C1CC", "CC(=O)O", "c1ccccc1"]
    full = evaluate_smiles(generated, reference=full_stats, n_jobs=1)
    small = evaluate_smiles(generated, reference=compact, n_jobs=1)
    for key in ("FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "logP", "SA", "QED", "weight"):
        assert full[key] is not None and small[key] == full[key], key  # bit for bit, not approximately
    np.testing.assert_array_equal(compact.fcd_sigma, full_stats.fcd_sigma)
    assert compact.n_molecules == full_stats.n_molecules and compact.fragments == full_stats.fragments


def test_an_interrupted_reference_build_keeps_its_rdkit_part(monkeypatch):
    smiles = moses(40, skip=7000)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    activations = reference.chemnet.activations
    monkeypatch.setattr(reference.chemnet, "activations", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reference.reference_stats(smiles, n_jobs=1)
    monkeypatch.setattr(reference.chemnet, "activations", activations)
    monkeypatch.setattr(reference, "_rdkit_part", lambda *a, **k: pytest.fail("RDKit part recomputed"))
    stats = reference.reference_stats(smiles, n_jobs=1)
    assert stats.fcd_mu is not None and stats.n_molecules == 40


@pytest.mark.parametrize("name", sorted(packaged.SHIPPED))
def test_shipped_moses_statistics_are_compact_and_match_the_molecules(name):
    from molvae.evaluate.metrics import _features

    stats_file, relative = packaged.SHIPPED[name]
    source = ROOT / relative
    assert stats_file.stat().st_size < 7 * 2**20
    stats = reference.reference_stats(source)  # the repository's file is recognised
    assert stats.key == name and reference.reference_stats(source) is stats
    if name == "moses-test":
        assert reference.reference_stats(None) is stats
    with gzip.open(source, "rt") as fh:
        lines = fh.read().split()[1:]
    assert stats.n_molecules + stats.n_invalid == len(lines)
    fps = {bytes(r) for r in stats.fingerprints}
    for smi in random.Random(0).sample(lines, 150):
        f = _features.reference_features(smi.split(",")[0])
        assert f.fingerprint in fps
        assert all(frag in stats.fragments for frag in f.fragments)
        assert f.scaffold is None or f.scaffold in stats.scaffolds
        for name, value in zip(_features.PROPERTY_NAMES, f.properties):
            sorted_values = stats.properties[name]
            i = np.searchsorted(sorted_values, value)
            assert sorted_values[i] == value, name  # the exact value the full computation gives
    assert stats.fcd_sigma.shape == (512, 512) and np.allclose(stats.fcd_sigma, stats.fcd_sigma.T)


def test_the_scaffold_test_set_costs_nothing_to_evaluate_against(tmp_path, monkeypatch):
    """The README's first evaluate example names data/moses/test_scaffolds.csv.gz: its statistics ship."""
    from molvae.evaluate.metrics.reference import default_reference_paths

    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(reference, "compute_reference_stats", lambda *a, **k: pytest.fail("statistics computed"))
    generated = moses(40, skip=9000)
    res = evaluate_smiles(generated, scaffold_reference=default_reference_paths().test_scaffolds, n_jobs=1)
    assert res["FCD/TestSF"] is not None and res["Scaf/TestSF"] is not None
    assert not (tmp_path / "empty-cache" / "reference").exists()


def test_the_installed_package_stays_within_40_mb():
    package = ROOT / "molvae"
    shipped = [f for f in package.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    assert sum(f.stat().st_size for f in shipped) <= 40 * 10**6


def test_first_evaluate_needs_no_checkout_and_no_cache(tmp_path, monkeypatch):
    from molvae_cli.main import cli

    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.smi").write_text("\n".join(moses(50, skip=9000)) + "\n")
    res = CliRunner().invoke(cli, ["evaluate", "out.smi", "-q", "--jobs", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "FCD/Test" in res.output and "n/a" not in res.output.split("FCD/Test")[1].splitlines()[0]
    assert not (tmp_path / "empty-cache" / "reference").exists() or not any(
        (tmp_path / "empty-cache" / "reference").iterdir()
    )
