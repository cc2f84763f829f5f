"""Which model size the CPU budget should train: decoders of three sizes, from scratch, equal time.

    python benchmarks/pretrained/build.py data --n 250000 --seed 1      # the training subset (once)
    python benchmarks/pretrained/scaling.py train --size small          # 40 min, in 8-minute chunks
    python benchmarks/pretrained/scaling.py train --size medium
    python benchmarks/pretrained/scaling.py train --size large
    python benchmarks/pretrained/scaling.py report                      # table, extrapolation, plot
    python benchmarks/pretrained/scaling.py report --card               # also: keep the figures, rewrite the card
    python benchmarks/pretrained/scaling.py fcd --model RUN/last.ckpt   # FCD/Test of any checkpoint at T = 1 and 0.2

Each size trains from scratch on the same 250,000 MOSES training molecules (seed 1: rounds 1-3's
subset and validation split), with the same settings apart from the decoder (constant learning
rate, so that a curve can be extended; KL warm-up over the first 50,000 molecules; bf16 on CPUs
with bf16 instructions). Training runs in chunks (``build.py train --resume``); after each chunk
the trainer's validation row gives the validation NLL per token (nats, end symbol included) and
the exact reconstruction of 500 validation molecules (greedy decoding of the posterior mean), and
at the chunks named by ``--fcd-chunks`` 10,000 prior samples at temperature 1 (seed 0) are scored
for FCD against the MOSES test set. The x axis is the training process's CPU time (user + system,
all threads, measured with ``getrusage``), so a chunk that shared the cores counts what it got.
Rerunning ``train`` continues a size where it stopped.

``report`` compares the sizes on the validation bound: reconstruction + KL (nats per molecule, the
negative ELBO at beta = 1, a bound on -log p(x)). The NLL per token alone is the reconstruction
*given the encoder's latent vector*: a network that moves more information into the latent vector
reconstructs better and pays for it in KL, which the reconstruction does not show, and prior
samples (what FCD measures) follow the bound, not the reconstruction. It fits
bound(C) = a + b * C^-alpha (C: CPU-hours; one alpha for every size, a and b per size) to the
last points of each size, prints the value each extrapolates to at ``--budget-hours`` (the
campaign's budget), and writes ``runs/scaling/scaling.png``;
with ``--card`` it copies each size's table and the plot to ``benchmarks/pretrained/scaling/`` (kept
in git: the run folders are not) and rewrites the model card's block between
``<!-- scaling:start -->`` and ``<!-- scaling:end -->`` from them (``--root
benchmarks/pretrained/scaling`` rebuilds the card from the kept tables alone).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))  # _common

SIZES = {  # the decoder is what changes; encoder, latent and property head stay as shipped
    "small": {"decoder_hidden": 320, "decoder_layers": 1},  # the shipped network (0.79M parameters)
    "medium": {"decoder_hidden": 512, "decoder_layers": 2},  # 2.96M
    "large": {"decoder_hidden": 512, "decoder_layers": 3},  # 4.56M: the MOSES VAE's decoder
}
SETTINGS = {
    "properties": ["logp", "qed", "sa", "mw", "tpsa"],
    "max_length": 100,
    "val_fraction": 0.0125,
    "val_max": 5000,
    "embed_dim": 48,
    "encoder_hidden": 192,
    "latent_dim": 48,
    "property_hidden": 128,
    "epochs": 100,  # time, not epochs, ends each chunk
    "batch_size": 128,
    "lr": 1e-3,
    "lr_schedule": "constant",
    "beta": 0.5,
    "kl_schedule": "linear",
    "kl_warmup_epochs": 0.2,
    "free_bits": 0.05,
    "property_weight": 1.0,
    "condition_dropout": 0.3,
    "val_reconstruct": 500,
    "val_samples": 500,
    "seed": 1,
    "checkpoint_minutes": 4.0,
}
FIELDS = ["chunk", "train_minutes", "cpu_hours", "epoch", "val_nll_token", "val_recon", "val_kl", "exact_recon",
          "sample_validity", "fcd_t1", "params"]  # fmt: skip


def toml_text(d: dict) -> str:
    from molvae.io.tomlfile import toml_value

    return "[train]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in d.items())


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def fcd_t1(ckpt: Path, n: int, jobs: int, temperature: float = 1.0, precision: str = "auto") -> float:
    """FCD/Test of ``n`` prior samples at ``temperature`` (default 1; seed 0)."""
    from _common import fcd_test

    from molvae import MolVAE

    model = MolVAE.load(ckpt, device="cpu", precision=precision)
    return fcd_test([s for s in model.sample(n, temperature=temperature, seed=0, n_jobs=jobs) if s], jobs)


def cmd_train(args) -> None:
    import torch

    from molvae.nn import checkpoint
    from molvae.runtime.device import cpu_has_bf16

    run = Path(args.root) / args.size
    run.mkdir(parents=True, exist_ok=True)
    table = run / "scaling.csv"
    rows = read_rows(table)
    settings = {
        **SETTINGS,
        **SIZES[args.size],
        "cpu_bf16": cpu_has_bf16() if args.bf16 == "auto" else args.bf16 == "on",
    }
    build = [sys.executable, str(HERE / "build.py"), "train", "--n", "250000", "--seed", "1", "--run", str(run),
             "--quiet"]  # fmt: skip
    cfg = run / "settings.toml"
    if not rows:
        cfg.write_text(toml_text(settings))
    fcd_chunks = {int(c) for c in args.fcd_chunks.split(",") if c}
    n_chunks = round(args.minutes / args.chunk)
    for chunk in range(len(rows) + 1, n_chunks + 1):
        first = not (run / "last.ckpt").is_file()
        cmd = build + (["--config", str(cfg), "--max-minutes", str(args.chunk)] if first else
                       ["--resume", "--max-minutes", str(chunk * args.chunk)])  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.time()
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        last = checkpoint.load(run / "last.ckpt")
        hist = read_rows(run / "history.csv")[-1]
        params = sum(v.numel() for k, v in last["state_dict"].items() if isinstance(v, torch.Tensor))
        row = {
            "chunk": chunk,
            "train_minutes": f"{float(last['training_state']['elapsed_seconds']) / 60:.2f}",
            "cpu_hours": f"{(float(rows[-1]['cpu_hours']) if rows else 0.0) + cpu / 3600:.4f}",
            "epoch": f"{float(hist['epoch']):.4f}",
            "val_nll_token": f"{float(hist['val_nll_token']):.5f}",
            "val_recon": f"{float(hist['val_recon']):.4f}",
            "val_kl": f"{float(hist['val_kl']):.4f}",
            "exact_recon": f"{float(hist['val_exact_recon']):.4f}",
            "sample_validity": f"{float(hist['sample_validity']):.4f}",
            "fcd_t1": f"{fcd_t1(run / 'last.ckpt', args.fcd_n, args.jobs):.4f}" if chunk in fcd_chunks else "",
            "params": params,
        }
        rows.append(row)
        with open(table, "w", newline="") as fh:
            w = csv.DictWriter(fh, FIELDS)
            w.writeheader()
            w.writerows(rows)
        print(f"{args.size} chunk {chunk}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "chunk"),
              f"({time.time() - t:.0f} s with measurement)", flush=True)  # fmt: skip


def bound(row: dict[str, str]) -> float:
    """The validation bound of a row: reconstruction + KL, nats per molecule (negative ELBO at beta = 1)."""
    return float(row["val_recon"]) + float(row["val_kl"])


def fit(points: dict[str, tuple[list[float], list[float]]]) -> tuple[float, dict[str, tuple[float, float]]]:
    """Least squares of y = a_s + b_s * c^-alpha, one exponent shared by every size (a grid over
    alpha, linear least squares for each size's a and b): the exponent of a power law is better
    pinned down by all the curves than by one short one. Returns alpha and {size: (a, b)}."""
    import numpy as np

    best: tuple[float, float, dict[str, tuple[float, float]]] = (float("inf"), 0.5, {})
    usable = {s: (np.asarray(c), np.asarray(y)) for s, (c, y) in points.items() if len(c) >= 2}
    for alpha in np.linspace(0.1, 2.0, 191):
        sse, ab = 0.0, {}
        for size, (c, y) in usable.items():
            b, a = np.polyfit(c**-alpha, y, 1)
            sse += float(np.sum((a + b * c**-alpha - y) ** 2))
            ab[size] = (float(a), float(b))
        if sse < best[0]:
            best = (sse, float(alpha), ab)
    return best[1], best[2]


def cmd_report(args) -> None:
    lines = report_lines(args)
    print("\n".join(lines))
    if args.card:
        keep = HERE / "scaling"
        keep.mkdir(exist_ok=True)
        for size in SIZES:
            src = Path(args.root) / size / "scaling.csv"
            if src.is_file() and src.resolve() != (keep / f"{size}.csv").resolve():
                shutil.copyfile(src, keep / f"{size}.csv")
            if (Path(args.root) / size / "settings.toml").is_file() and Path(args.root).resolve() != keep.resolve():
                shutil.copyfile(Path(args.root) / size / "settings.toml", keep / f"{size}.toml")
        png = Path(args.root) / "scaling.png"
        if png.is_file() and png.resolve() != (keep / "scaling.png").resolve():
            shutil.copyfile(png, keep / "scaling.png")
        card = ROOT / "molvae" / "pretrained" / "MODEL_CARD.md"
        text = card.read_text(encoding="utf-8")
        start, end = "<!-- scaling:start -->", "<!-- scaling:end -->"
        if start not in text or end not in text:
            raise SystemExit(f"{card} has no {start} ... {end} block")
        block = "\n".join(
            [
                start,
                "",
                "```",
                *lines,
                "```",
                "",
                "![scaling](../../benchmarks/pretrained/scaling/scaling.png)",
                "",
                end,
            ]
        )
        card.write_text(text[: text.index(start)] + block + text[text.index(end) + len(end) :], encoding="utf-8")
        print(f"rewrote the scaling block of {card}")


def report_lines(args) -> list[str]:
    from _common import machine

    out = [machine()]
    print = out.append  # noqa: A001 - the report is a list of lines
    print(f"{'size':>7} {'params':>9} {'CPU-h':>6} {'min':>5} {'epoch':>6} {'NLL/tok':>8} {'recon':>6} {'KL':>6} "
          f"{'bound':>6} {'exact':>6} {'FCD T1':>7}")  # fmt: skip
    table = {size: read_rows(Path(args.root) / size / "scaling.csv") for size in SIZES}
    table = {size: rows for size, rows in table.items() if rows}
    points = {}
    for size, rows in table.items():
        skip = max(0, len(rows) - args.fit_points)  # the first points are warm-up: fit the later ones
        points[size] = ([float(r["cpu_hours"]) for r in rows[skip:]], [bound(r) for r in rows[skip:]])
        for r in rows:
            print(f"{size:>7} {int(r['params']):>9} {float(r['cpu_hours']):>6.2f} {float(r['train_minutes']):>5.1f} "
                  f"{float(r['epoch']):>6.3f} {float(r['val_nll_token']):>8.4f} {float(r['val_recon']):>6.2f} "
                  f"{float(r['val_kl']):>6.2f} {bound(r):>6.2f} {float(r['exact_recon']):>6.3f} "
                  f"{r['fcd_t1'] or '':>7}")  # fmt: skip
    alpha, ab = fit(points) if points else (0.5, {})
    print("bound: validation reconstruction + KL, nats per molecule (the negative ELBO at beta = 1)")
    print(f"fit bound = a + b * CPU-h^-alpha, alpha shared: {alpha:.2f} (last {args.fit_points} points of each size)")
    for size, (a, b) in ab.items():
        print(
            f"{size:>7} -> {a + b * args.budget_hours**-alpha:.2f} at {args.budget_hours:g} CPU-h (a {a:.3f}, b {b:.3f})"
        )
    if table:
        plot(
            {s: (rows, ab.get(s)) for s, rows in table.items()},
            Path(args.root) / "scaling.png",
            args.budget_hours,
            alpha,
        )
    return out


def plot(curves: dict, out: Path, budget: float, alpha: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for size, (rows, ab) in curves.items():
        c = np.array([float(r["cpu_hours"]) for r in rows])
        label = f"{size} ({int(rows[0]['params']) / 1e6:.2f}M)"
        (line,) = axes[0].plot(c, [bound(r) for r in rows], "o-", label=label)
        if ab:
            xs = np.geomspace(c.min(), budget, 50)
            axes[0].plot(xs, ab[0] + ab[1] * xs**-alpha, "--", color=line.get_color())
        axes[1].plot(c, [float(r["val_nll_token"]) for r in rows], "o-", label=label)
        axes[2].plot(c, [float(r["exact_recon"]) for r in rows], "o-", label=label)
        f = [(float(r["cpu_hours"]), float(r["fcd_t1"])) for r in rows if r["fcd_t1"]]
        if f:
            axes[3].plot(*zip(*f), "o-", label=label)
    titles = ["validation bound: recon + KL (nats/molecule)", "validation reconstruction NLL per token",
              "exact reconstruction (500 val)", "FCD/Test, 10k samples, T = 1"]  # fmt: skip
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("training CPU-hours (all threads)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def cmd_fcd(args) -> None:
    """FCD/Test of any checkpoint at each temperature: the campaign run's trajectory between its chunks."""
    if not args.model:
        raise SystemExit("fcd needs --model (a .ckpt or a run folder)")
    for t in (float(x) for x in args.temperatures.split(",")):
        t0 = time.time()
        value = fcd_t1(Path(args.model), args.fcd_n, args.jobs, temperature=t, precision=args.precision)
        print(
            f"{args.model}: FCD/Test {value:.4f} at temperature {t:g} ({args.fcd_n} samples, seed 0, "
            f"precision {args.precision}; {time.time() - t0:.0f} s)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["train", "report", "fcd"])
    ap.add_argument("--model", default=None, help="fcd: the checkpoint to measure")
    ap.add_argument("--temperatures", default="1,0.2", help="fcd: comma-separated decoder temperatures")
    ap.add_argument("--size", choices=list(SIZES), default="small")
    ap.add_argument("--root", default="runs/scaling", help="one run folder per size under this")
    ap.add_argument("--minutes", type=float, default=40.0, help="training minutes per size")
    ap.add_argument("--chunk", type=float, default=8.0, help="minutes between measurements")
    ap.add_argument("--fcd-chunks", default="2,5", help="chunks after which FCD is measured")
    ap.add_argument("--fcd-n", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=2, help="processes for sampling checks and ChemNet")
    ap.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="train: bf16 autocast")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto", help="fcd: decoder precision")
    ap.add_argument("--budget-hours", type=float, default=15.0, help="report: extrapolate to this many CPU-hours")
    ap.add_argument("--fit-points", type=int, default=4, help="report: fit the last this many points")
    ap.add_argument("--card", action="store_true", help="report: keep the tables and rewrite the model card's block")
    args = ap.parse_args()
    {"train": cmd_train, "report": cmd_report, "fcd": cmd_fcd}[args.step](args)


if __name__ == "__main__":
    main()
