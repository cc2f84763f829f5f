"""Reference statistics: a first computation that takes minutes says so, once."""

from __future__ import annotations

import logging

from molvae.evaluate.metrics import reference
from tests.conftest import moses


def test_a_large_first_computation_is_announced_and_a_cached_one_is_not(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(reference, "LARGE", 5)  # "large" for the test: the rule, not the size
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses(30)) + "\n")
    with caplog.at_level(logging.WARNING, logger="molvae.evaluate.metrics.reference"):
        reference.reference_stats(ref, n_jobs=1)
        reference.canonical_set(ref, n_jobs=1)
    said = [r.getMessage() for r in caplog.records]
    assert any("statistics of reference" in m and "30 molecules" in m and "later runs read it" in m for m in said)
    assert any("canonical SMILES" in m and "novelty" in m for m in said)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="molvae.evaluate.metrics.reference"):
        reference.reference_stats(ref, n_jobs=1)
        reference.canonical_set(ref, n_jobs=1)
    assert not caplog.records  # read from the cache: nothing to announce
