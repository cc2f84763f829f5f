"""Matplotlib in one place: a headless pyplot, and the training curves of a run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (works without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Training curves: losses, KL and β, accuracies, sample quality, against epochs."""
    plt = pyplot()
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        (ax[0, 0], "reconstruction loss (nats/molecule)", ["train_recon", "val_recon"]),
        (ax[0, 1], "KL (nats) and beta", ["train_kl", "val_kl", "beta"]),
        (ax[1, 0], "accuracy", ["train_acc", "val_acc", "val_exact_recon"]),
        (ax[1, 1], "prior sample quality / property MSE", ["sample_validity", "sample_uniqueness", "val_prop_mse"]),
    ]
    for a, title, keys in panels:
        for k in keys:
            a.plot(ep, [h.get(k, float("nan")) for h in history], marker="o", ms=3, label=k)
        a.set_title(title, fontsize=10)
        a.set_xlabel("epoch")
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    _save(plt, fig, path)


def plot_curve(curve: Sequence[Any], path: str | Path) -> None:
    """An optimisation's progress: the best score and the mean of the ten best against objective calls."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("best", "best"), ("top10", "mean of the 10 best")):
        pts = [(p.calls, getattr(p, key)) for p in curve if math.isfinite(getattr(p, key))]
        if pts:
            ax.plot(*zip(*pts), label=label)
    ax.set_xlabel("objective calls")
    ax.set_ylabel("objective")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: str | Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
