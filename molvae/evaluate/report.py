"""A self-contained HTML report of an evaluation: tables and PNG plots embedded as data URIs."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molvae.io.plotting import pyplot

HIST_PROPERTIES = ("logp", "sa", "qed", "mw")
#: MOSES's property rows are Wasserstein-1 distances between generated and reference values, not values
METRIC_LABELS = {"logP": "logP W1 dist", "SA": "SA W1 dist", "QED": "QED W1 dist", "weight": "weight W1 dist"}
W1_NOTE = "Wasserstein-1 distance between the generated and the reference values (0: the same distribution)"
BINS = 50  # bins over the central 99 % of the values; the tails get bins of the same width


def histogram_bins(*samples: Sequence[float] | np.ndarray, bins: int = BINS) -> np.ndarray:
    """Bin edges that cover every value of every sample, of a width set by the central 99 % of them.

    >>> edges = histogram_bins([0.0, 1.0, 2.0], [1.5, 9.0])
    >>> bool(edges[0] <= 0.0 and edges[-1] >= 9.0)
    True
    """
    values = np.concatenate([np.asarray(x, dtype=np.float64) for x in samples])
    values = values[np.isfinite(values)]
    if not values.size:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(values.min()), float(values.max())
    p_lo, p_hi = np.percentile(values, [0.5, 99.5])
    width = (p_hi - p_lo) / bins if p_hi > p_lo else (hi - lo) / bins or 1.0
    n = min(int(np.ceil((hi - lo) / width)), 10 * bins)  # a far outlier widens the bins, it cannot make thousands
    return np.linspace(lo, max(hi, lo + width), max(n, 1) + 1)


def plot_property_histograms(
    generated: Mapping[str, Sequence[float]], reference: Mapping[str, Any], path: Path
) -> Path | None:
    """Histograms of generated vs reference property values, one panel per property; the bins
    cover both sets whole, so a generated value outside the reference's range is shown."""
    names = [p for p in HIST_PROPERTIES if len(generated.get(p, [])) and len(reference.get(p, []))]
    if not names:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
    for ax, name in zip(np.atleast_1d(axes), names):
        g, r = np.asarray(generated[name]), np.asarray(reference[name])
        bins = histogram_bins(g, r)
        ax.hist(r, bins=bins, density=True, alpha=0.5, label="reference")
        ax.hist(g, bins=bins, density=True, alpha=0.5, label="generated")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_condition_sweeps(control: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """Requested vs measured (mean ± std) for each conditioning property, with the ideal line."""
    if not control:
        return None
    plt = pyplot()
    names = list(control)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6))
    for ax, name in zip(np.atleast_1d(axes), names):
        c = control[name]
        x, m, s = np.array(c["requested"]), np.array(c["measured_mean"]), np.array(c["measured_std"])
        ax.plot(x, x, "k--", lw=1, label="ideal")
        ax.errorbar(x, m, yerr=s, fmt="o-", capsize=3, label="measured")
        ax.fill_between(x, x - c["tolerance"], x + c["tolerance"], color="grey", alpha=0.15, label="tolerance")
        ax.set_xlabel(f"requested {name}")
        ax.set_ylabel(f"measured {name}")
        mae = c.get("mae")
        ax.set_title(f"{name}: MAE {mae:.3g}" if mae is not None else name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_latent_map(mu: np.ndarray, values: np.ndarray, label: str, path: Path) -> Path | None:
    """2-D PCA of posterior means, coloured by a property."""
    if len(mu) < 3:
        return None
    plt = pyplot()
    x = mu - mu.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=4, cmap="viridis")
    fig.colorbar(sc, ax=ax, label=label)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"latent space (PCA of posterior means), coloured by {label}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_kl_per_dim(kl: Sequence[float], path: Path) -> Path | None:
    if not kl:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(range(len(kl)), sorted(kl, reverse=True))
    ax.set_xlabel("latent dimension (sorted)")
    ax.set_ylabel("KL (nats)")
    ax.set_title("KL per latent dimension")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return html.escape(str(v))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return f"<p><em>{html.escape(alt)}: not available</em></p>"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def write_report(
    out_dir: str | Path,
    metrics: Mapping[str, Any],
    diagnostics: Mapping[str, Any] | None,
    images: Mapping[str, Path | None],
    title: str = "molvae evaluation",
) -> Path:
    """Write ``report.html`` (self-contained) to ``out_dir`` and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = metrics.get("notes", {}) or {}
    metric_rows = [
        (METRIC_LABELS.get(k, k), v, notes.get(k, W1_NOTE if k in METRIC_LABELS else ""))
        for k, v in metrics.items()
        if k != "notes" and not isinstance(v, (dict, list))
    ]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Metrics of the generated molecules</h2>",
        _table(metric_rows, ["metric", "value", "note"]),
    ]
    if diagnostics:
        rec = diagnostics.get("reconstruction", {})
        lat = diagnostics.get("latent", {})
        parts += [
            "<h2>Model diagnostics</h2>",
            _table(
                [
                    ("held-out molecules encoded", rec.get("n")),
                    ("held-out molecules not encodable", rec.get("n_rejected")),
                    ("exact reconstruction (greedy, posterior mean)", rec.get("exact")),
                    ("token accuracy (teacher forcing)", rec.get("token_accuracy")),
                    ("total KL (nats)", lat.get("kl_total")),
                    ("active latent units", f"{lat.get('active_units')} of {lat.get('latent_dim')}"),
                    ("posterior collapsed", lat.get("collapsed")),
                ],
                ["diagnostic", "value"],
            ),
        ]
        head = diagnostics.get("property_head_mae") or {}
        if head:
            parts += [
                "<h3>Property head error (MAE from the posterior mean)</h3>",
                _table(list(head.items()), ["property", "MAE"]),
            ]
        control = diagnostics.get("condition_control") or {}
        if control:
            parts += [
                "<h3>Condition control</h3>",
                _table(
                    [(k, c["tolerance"], c["mae"], c["within_tolerance"], c["validity"]) for k, c in control.items()],
                    ["property", "tolerance", "MAE", "share within tolerance", "validity"],
                ),
            ]
    parts.append("<h2>Plots</h2>")
    for alt, path in images.items():
        parts.append(_img(path, alt))
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%}figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}"
    )
    doc = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
