"""The HTML report: rows that say what they are, histograms that show every value."""

from __future__ import annotations

import matplotlib.axes
import numpy as np

from molvae.evaluate.report import plot_property_histograms, write_report


def test_distance_rows_are_labelled_as_wasserstein_distances(tmp_path):
    metrics = {"valid": 1.0, "logP": 0.25, "SA": 0.5, "QED": 0.01, "weight": 12.0, "notes": {}}
    html = write_report(tmp_path, metrics, None, {}).read_text()
    for name in ("logP", "SA", "QED", "weight"):
        assert f"<td>{name} W1 dist</td>" in html
        assert f"<td>{name}</td>" not in html  # a bare "logP 0.25" reads as a mean logP
    assert "Wasserstein-1" in html


def test_histograms_cover_generated_values_outside_the_reference_range(tmp_path, monkeypatch):
    seen = []
    original = matplotlib.axes.Axes.hist

    def spy(self, x, *args, **kwargs):
        seen.append((np.asarray(x), np.asarray(kwargs["bins"])))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "hist", spy)
    rng = np.random.default_rng(0)
    reference = {"mw": rng.normal(320, 40, 2000)}
    generated = {"mw": np.concatenate([rng.normal(330, 40, 500), [40.0, 45.0, 900.0, 1100.0]])}
    assert plot_property_histograms(generated, reference, tmp_path / "h.png") is not None
    assert len(seen) == 2
    for values, bins in seen:
        assert bins[0] <= values.min() and bins[-1] >= values.max()  # nothing cut off
        assert len(bins) <= 501
    assert np.diff(seen[0][1]).max() < 10  # the outliers widen the range, not the bins of the bulk
