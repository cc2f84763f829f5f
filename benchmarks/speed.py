"""Speed of training, sampling and end-to-end generation, in one run.

    python benchmarks/speed.py [--quick] [--model runs/NAME] [--devices cpu,cuda] [--rss-n 1000000]
    python benchmarks/speed.py --generate-only [--e2e-n 20000] [--repeats 3] [--model runs/NAME]   # the shipped model by default

For two architectures — molvae's defaults, and the MOSES VAE baseline's (GRU encoder 256,
decoder 3 x 512, latent 128, batch 512) — on the CPU and, when there is one, the GPU, it prints:

* training molecules/s: optimiser steps of the real trainer on data/moses/train_20k.csv.gz
  (length-bucketed batches, data on the device), random initial weights; on the CPU in float32
  and, where the CPU has native bf16 instructions, with ``cpu_bf16``; on the GPU with bf16 autocast;
* model-only sampling molecules/s: ``ConditionalVAE.generate`` on large batches (token ids only);
* end-to-end generate molecules/s: ``MolVAE.generate_to_file`` (SELFIES decoding, RDKit validity,
  canonical SMILES, the model's properties and the novelty flag, written to a CSV file), with all
  cores checking molecules while the model samples;
* the end-to-end speed-up over one core: end-to-end generate molecules/s divided by what one core
  does of the same chemistry alone (``sampling.check_ids`` on token ids sampled beforehand), and
  end-to-end generate with fewer property columns (``--properties``: logp only, none);
* peak resident memory (RSS, and PSS which counts shared pages once) of a large streamed
  ``molvae generate``, its worker processes included (Linux).

Sampling needs a trained model to be realistic (a random one writes random-length molecules):
the default architecture uses ``--model`` or, without it, a model trained here for
``--train-minutes`` (kept in ``--work`` and reused); the MOSES architecture is sampled with random
weights (its output says so, with the mean SELFIES length it produced).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine  # noqa: E402

from molvae.runtime.device import cpu_has_bf16, resolve_precision  # noqa: E402

DATA = ROOT / "data" / "moses" / "train_20k.csv.gz"
MOSES_TRAIN_SIZE = 1_584_663
ARCHS = {
    "default": {},
    "moses": dict(encoder_hidden=256, decoder_hidden=512, decoder_layers=3, latent_dim=128, batch_size=512),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- training
def make_trainer(arch: str, device: str, bf16: bool, batch_size: int | None, data: Path, out: Path):
    from molvae.train.config import TrainConfig
    from molvae.train.loop import Trainer

    settings = {
        **ARCHS[arch],
        "device": device,
        "cpu_bf16": bf16,
        "val_samples": 0,
        "val_reconstruct": 0,
        "checkpoint_minutes": 1e9,
    }
    if batch_size:
        settings["batch_size"] = batch_size
    return Trainer(data, out, TrainConfig(**settings), resume=False, progress=False)


def training_rate(trainer, seconds: float) -> tuple[float, int]:
    """Molecules per second over optimiser steps (after two warm-up steps); and the batch size."""
    batches, local, offsets = trainer.epoch_plan()
    trainer.model.train()

    def step() -> int:
        if trainer.batch_in_epoch >= len(batches):
            trainer.batch_in_epoch = 0
        n = len(batches[trainer.batch_in_epoch])
        trainer.train_step(batches, local, offsets)
        return n

    for _ in range(2):
        step()
    sync(trainer.device)
    t0, n_mol, n_steps = time.perf_counter(), 0, 0
    while n_steps < 3 or time.perf_counter() - t0 < seconds:
        n_mol += step()
        n_steps += 1
        if trainer.device.type == "cuda" and n_steps % 20 == 0:
            sync(trainer.device)
    sync(trainer.device)
    return n_mol / (time.perf_counter() - t0), trainer.cfg.batch_size


# --------------------------------------------------------------------------- sampling
def sampling_rate(model, batch: int, dtype: torch.dtype, seconds: float) -> tuple[float, float]:
    """Model-only sampling: molecules per second and mean SELFIES length."""
    g = torch.Generator(device=model.device).manual_seed(0)
    cond = model.codec.condition_tensor(None, batch, warn=False)

    def once() -> torch.Tensor:
        z = torch.randn((batch, model.latent_dim), generator=g, device=model.device)
        return model.codec.model.generate(z, cond, generator=g, first_allowed=model.codec.first_allowed, dtype=dtype)

    once()
    sync(model.device)
    t0, n, total_len = time.perf_counter(), 0, 0.0
    while n == 0 or time.perf_counter() - t0 < seconds:
        ids = once()
        total_len += float((ids > 2).sum())
        n += batch
    sync(model.device)
    return n / (time.perf_counter() - t0), total_len / n


def timed_generate(model, out: Path, n: int, jobs: int | None, props=None):
    """``generate_to_file``: its summary, molecules/s and CPU ms per molecule of this process and its workers."""
    t0, before = time.perf_counter(), os.times()
    res = model.generate_to_file(out, n, seed=0, n_jobs=jobs, properties=props)
    rate, after = res.n_sampled / (time.perf_counter() - t0), os.times()
    keys = ("user", "system", "children_user", "children_system")  # children: the joined workers
    return res, rate, 1000 * sum(getattr(after, k) - getattr(before, k) for k in keys) / res.n_sampled


def one_core_chemistry(model, arr: np.ndarray) -> tuple[float, float]:
    """Molecules/s and CPU ms per molecule of ``sampling.check_ids`` over ``arr`` in this process."""
    from molvae.chem.checks import CHUNK, check_ids

    tokens, names = tuple(model.codec.vocab.tokens), tuple(model.property_names)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, len(arr), CHUNK):
        check_ids((arr[s : s + CHUNK], tokens, names))
    return len(arr) / (time.perf_counter() - t0), 1000 * (time.process_time() - c0) / len(arr)


def generate_speedup(model, n: int, jobs: int | None, out: Path, report, repeats: int = 3) -> None:
    """End-to-end generate vs one core doing the same chemistry alone; then with fewer property columns.

    Both figures move by several percent from run to run on a 2-core virtual machine, so the
    pair (one core's chemistry, then the end-to-end generate) is measured ``repeats`` times and
    the median ratio is the figure; every pair is printed.
    """
    g = torch.Generator(device=model.device).manual_seed(1)
    cond = model.codec.condition_tensor(None, 4096, warn=False)
    ids = []
    for _ in range(max(1, min(n, 8192) // 4096)):  # the chemistry of up to 8,192 molecules, timed on one core
        z = torch.randn((4096, model.latent_dim), generator=g, device=model.device)
        ids.append(
            model.codec.model.generate(z, cond, generator=g, first_allowed=model.codec.first_allowed)
            .to(torch.uint8)
            .cpu()
            .numpy()
        )
    arr = np.concatenate(ids)
    names = "/".join(model.property_names)
    pairs = []
    for r in range(repeats):
        one_core, chem_ms = one_core_chemistry(model, arr)
        _, rate, cpu_ms = timed_generate(model, out, n, jobs)
        pairs.append((rate / one_core, one_core, chem_ms, rate, cpu_ms))
        print(
            f"  pair {r + 1}/{repeats}: one core {one_core:,.0f} mol/s ({chem_ms:.2f} ms CPU each), "
            f"generate {rate:,.0f} mol/s ({cpu_ms:.2f} ms CPU each, all processes): {rate / one_core:.2f}x",
            flush=True,
        )
    ratio, one_core, chem_ms, rate, cpu_ms = sorted(pairs)[len(pairs) // 2]  # the median pair
    report(
        device="cpu",
        arch="shipped",
        what="chemistry alone, one core",
        value=one_core,
        unit="mol/s",
        note=f"parse, canonicalise, {names}; {len(arr):,} molecules; {chem_ms:.2f} ms CPU each",
    )
    report(
        device="cpu",
        arch="shipped",
        what="end-to-end generate (all properties)",
        value=rate,
        unit="mol/s",
        note=(
            f"{n:,} molecules, {cpu_ms:.2f} ms CPU each (all processes); {ratio:.2f}x one core's chemistry "
            f"(median of {repeats} pairs: {', '.join(f'{p[0]:.2f}x' for p in pairs)}), at most "
            f"{2 * chem_ms / cpu_ms:.2f}x on 2 free cores (CPU per molecule)"
        ),
    )
    for props, label in ((["logp"], "--properties logp"), ([], "--properties none")):
        _, rate, cpu_ms = timed_generate(model, out, n, jobs, props)
        note = f"{n:,} molecules, {cpu_ms:.2f} ms CPU each (all processes)"
        report(device="cpu", arch="shipped", what=f"end-to-end generate ({label})", value=rate, unit="mol/s", note=note)


# --------------------------------------------------------------------------- memory
def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _memory_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            pss = next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
    except (OSError, StopIteration):
        pass
    return rss, pss


def peak_memory_of_generate(model_path: Path, n: int, device: str, jobs: int | None, out: Path) -> dict:
    """Run ``molvae generate`` in a child process and sample its process tree's memory."""
    cmd = [
        sys.executable,
        "-m",
        "molvae_cli",
        "generate",
        "-m",
        str(model_path),
        "-n",
        str(n),
        "--seed",
        "0",
        "--device",
        device,
        "-o",
        str(out),
    ]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    peak = {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            mem = [_memory_kb(p) for p in pids]
            peak["rss_mb"] = max(peak["rss_mb"], sum(m[0] for m in mem) / 1024)
            peak["pss_mb"] = max(peak["pss_mb"], sum(m[1] for m in mem) / 1024)
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(0.5)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    _, err = proc.communicate()
    done.set()
    th.join()
    peak["seconds"] = time.perf_counter() - t0
    peak["rate"] = n / peak["seconds"]
    peak["summary"] = err.strip().splitlines()[-1] if err.strip() else ""
    if proc.returncode != 0:
        raise SystemExit(f"molvae generate failed: {err}")
    return peak


# --------------------------------------------------------------------------- main
def trained_default_model(args) -> tuple[Path, str]:
    if args.model:
        return Path(args.model), f"trained model {args.model}"
    run = Path(args.work) / "default"
    if not (run / "best.ckpt").is_file():
        from molvae.train.config import TrainConfig
        from molvae.train.loop import train

        print(
            f"training the default architecture for {args.train_minutes} min on {DATA.name} -> {run} "
            "(used for sampling figures)",
            flush=True,
        )
        train(DATA, run, TrainConfig(max_minutes=args.train_minutes), progress=False)
    hist = (run / "history.csv").read_text().strip().splitlines()
    return run, f"default architecture trained {args.train_minutes} min here ({run}, {len(hist) - 1} validations)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter timings and smaller runs (a few minutes on 2 cores)")
    ap.add_argument("--model", default=None, help="trained model (default architecture) for the sampling figures")
    ap.add_argument("--work", default="runs/speed", help="folder for the model trained when --model is not given")
    ap.add_argument("--train-minutes", type=float, default=3.0)
    ap.add_argument("--devices", default=None, help="comma-separated, default: cpu and cuda when available")
    ap.add_argument("--archs", default="default,moses")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for the RDKit checks (default: all cores)")
    ap.add_argument(
        "--gpu-batch", type=int, default=2048, help="training batch on a GPU (the CPU uses each architecture's)"
    )
    ap.add_argument("--e2e-n", type=int, default=None, help="molecules per end-to-end measurement")
    ap.add_argument(
        "--repeats", type=int, default=3, help="paired speed-up measurements whose median is reported (--generate-only)"
    )
    ap.add_argument(
        "--rss-n",
        type=int,
        default=None,
        help="molecules of the streamed generate whose memory is measured (default 200,000; 0 skips)",
    )
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument(
        "--generate-only",
        action="store_true",
        help="only the end-to-end generate figures (speed-up over one core, fewer property columns), "
        "with --model or the shipped model",
    )
    ap.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="decoder precision of the end-to-end generate (--generate-only): as `molvae generate --precision`",
    )
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from molvae import MolVAE

    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    secs = 8.0 if args.quick else 25.0
    print(machine())
    print(f"torch threads {torch.get_num_threads()}, CPU bf16 instructions: {'yes' if cpu_has_bf16() else 'no'}")
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    if args.generate_only:
        return generate_only(args)
    model_path, model_note = trained_default_model(args)
    print(f"sampling model for the default architecture: {model_note}")
    results: list[dict] = []

    def report(**row) -> None:
        results.append(row)
        extra = f"  ({row['note']})" if row.get("note") else ""
        print(
            f"{row['device']:>4} {row['arch']:>7}  {row['what']:<38} {row['value']:>10,.0f} {row['unit']}{extra}",
            flush=True,
        )

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for device in devices:
            dev = torch.device(device)
            for arch in args.archs.split(","):
                precisions = ["bf16"] if dev.type == "cuda" else (["fp32", "bf16"] if cpu_has_bf16() else ["fp32"])
                trainer = None
                for prec in precisions:
                    tr = make_trainer(
                        arch,
                        device,
                        prec == "bf16",
                        args.gpu_batch if dev.type == "cuda" else None,
                        DATA,
                        tmp / f"train-{device}-{arch}-{prec}",
                    )
                    rate, bs = training_rate(tr, secs)
                    note = f"batch {bs}" + (
                        f", one MOSES epoch {MOSES_TRAIN_SIZE / rate:,.0f} s" if dev.type == "cuda" else ""
                    )
                    report(device=device, arch=arch, what=f"training ({prec})", value=rate, unit="mol/s", note=note)
                    trainer = tr
                if arch == "default":
                    model = MolVAE.load(model_path, device=device)
                    which = "trained"
                else:
                    assert trainer is not None
                    model = MolVAE(trainer.record(), device=dev)
                    which = "random weights"
                batch = 32768 if dev.type == "cuda" else 4096
                for dtype in (
                    [torch.bfloat16]
                    if dev.type == "cuda"
                    else [torch.float32] + ([torch.bfloat16] if cpu_has_bf16() else [])
                ):
                    rate, mean_len = sampling_rate(model, batch, dtype, secs)
                    name = "fp32" if dtype == torch.float32 else "bf16"
                    report(
                        device=device,
                        arch=arch,
                        what=f"model-only sampling ({name})",
                        value=rate,
                        unit="mol/s",
                        note=f"{which}, batch {batch}, mean {mean_len:.1f} SELFIES tokens",
                    )
                model.codec.sample_dtype = resolve_precision("auto", dev)  # what generate uses by default
                n = args.e2e_n or (
                    (50000 if args.quick else 200000) if dev.type == "cuda" else (4000 if args.quick else 20000)
                )
                res, rate, _ = timed_generate(model, tmp / "e2e.csv", n, args.jobs)
                valid_rate, validity = rate * res.n_written / res.n_sampled, res.n_written / res.n_sampled
                report(
                    device=device,
                    arch=arch,
                    what="end-to-end generate (all)",
                    value=rate,
                    unit="mol/s",
                    note=f"{which}, {n:,} molecules, properties {'/'.join(model.property_names)}",
                )
                report(
                    device=device,
                    arch=arch,
                    what="end-to-end generate (valid)",
                    value=valid_rate,
                    unit="mol/s",
                    note=f"validity {validity:.3f}",
                )
                del model, trainer
        rss_n = args.rss_n if args.rss_n is not None else (20000 if args.quick else 200000)
        if rss_n and sys.platform.startswith("linux"):
            device = devices[-1]
            peak = peak_memory_of_generate(model_path, rss_n, device, args.jobs, tmp / "big.csv")
            report(
                device=device,
                arch="default",
                what=f"streamed generate of {rss_n:,}: peak RSS",
                value=peak["rss_mb"],
                unit="MB",
                note=f"PSS {peak['pss_mb']:,.0f} MB, {peak['processes']} processes, {peak['rate']:,.0f} mol/s "
                "including start-up",
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


def generate_only(args) -> int:
    from molvae import MolVAE

    kw = {"device": "cpu", "precision": args.precision}
    model = MolVAE.load(args.model, **kw) if args.model else MolVAE.pretrained(**kw)
    print(f"model: {model.source}; decoder precision {args.precision} = {model.codec.sample_dtype}", flush=True)
    print(f"machine load before: {os.getloadavg()[0]:.2f}", flush=True)
    results: list[dict] = []

    def report(**row) -> None:
        results.append(row)
        print(f"{row['what']:<44} {row['value']:>8,.0f} {row['unit']}  ({row['note']})", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        n = args.e2e_n or (4000 if args.quick else 20000)
        generate_speedup(model, n, args.jobs, Path(tmp) / "g.csv", report, repeats=max(1, args.repeats))
    print(f"machine load after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
