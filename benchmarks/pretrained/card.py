"""Regenerate the measured tables of molvae/pretrained/MODEL_CARD.md with one command.

    python benchmarks/pretrained/card.py                       # evaluate the shipped model, rewrite the card
    python benchmarks/pretrained/card.py --model runs/x.ckpt --card-out /tmp/card.md   # a candidate
    python benchmarks/pretrained/card.py --from-json eval.json # tables from an earlier evaluation

It runs the evaluation the card quotes (30,000 prior samples at the model's default decoder
temperature, or ``--temperature``, seed 0, against the MOSES test and scaffold-test sets; exact
reconstruction of 10,000 test molecules; condition sweeps of 1,000 samples per requested value)
and replaces what lies between the card's ``<!-- measured:start -->`` and ``<!-- measured:end -->``
lines. Columns: the figure, the floor
and goal of issue 10, and the MOSES VAE (Polykovskiy et al. 2020) where it is published.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # _common: the machine description

from _common import cpu_name  # noqa: E402

CARD = ROOT / "molvae" / "pretrained" / "MODEL_CARD.md"
START, END = "<!-- measured:start -->", "<!-- measured:end -->"

# metric key, label, floor, goal, MOSES VAE
PRIOR_ROWS = [
    ("valid", "validity", "= 1.0", "", "0.977"),
    ("unique@10000", "uniqueness@10k", "", "", "0.998"),
    ("Novelty", "novelty (vs all 1.58M MOSES training molecules)", "≥ 0.85", "", "0.695"),
    ("IntDiv", "IntDiv", "≥ 0.85", "", "0.856"),
    ("Filters", "Filters (MOSES MCF + PAINS)", "≥ 0.95", "≥ 0.99", "0.997"),
    ("FCD/Test", "FCD/Test", "≤ 1.0", "≤ 0.10", "0.099"),
    ("SNN/Test", "SNN/Test", "≥ 0.55", "≥ 0.62", "0.626"),
    ("Frag/Test", "Frag/Test", "", "", "0.999"),
    ("Scaf/Test", "Scaf/Test", "≥ 0.85", "≥ 0.93", "0.939"),
]
CONTROL_FLOORS = {
    "logp": ("≤ 0.35", "≤ 0.25"),
    "qed": ("≤ 0.06", "≤ 0.04"),
    "sa": ("≤ 0.35", "≤ 0.2"),
    "mw": ("≤ 12", "≤ 8"),
    "tpsa": ("≤ 8", "≤ 6"),
}


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.4f}" if abs(x) < 100 else f"{x:.1f}"


def _met(value, floor: str) -> str:
    if not floor or value is None:
        return "—"
    op, bound = floor.split()
    ok = value >= float(bound) if op == "≥" else value <= float(bound) if op == "≤" else value == float(bound)
    return "yes" if ok else "**no**"


def tables(result: dict, how: str) -> str:
    m, d = result["metrics"], result.get("diagnostics") or {}
    lines = [
        f"Measured {how}.",
        "",
        "### Samples from the prior"
        + (f" (decoder temperature {m['temperature']:g})" if m.get("temperature") is not None else ""),
        "",
        "| metric | measured | floor (issue 10) | goal | MOSES VAE | floor met? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, label, floor, goal, anchor in PRIOR_ROWS:
        lines.append(
            f"| {label} | {_num(m.get(key))} | {floor or '—'} | {goal or '—'} | {anchor} | {_met(m.get(key), floor)} |"
        )
    lines += [
        "",
        "### Latent space and conditioning",
        "",
        "| metric | measured | floor (issue 10) | goal | floor met? |",
        "| --- | --- | --- | --- | --- |",
    ]
    rec = d.get("reconstruction") or {}
    if rec:
        lines.append(
            f"| exact reconstruction (greedy decode of the posterior mean), {rec.get('n')} MOSES test "
            f"molecules | {_num(rec.get('exact'))} (token accuracy {_num(rec.get('token_accuracy'))}) | "
            f"≥ 0.80 | ≥ 0.90 | {_met(rec.get('exact'), '≥ 0.80')} |"
        )
    lat = d.get("latent") or {}
    if lat:
        lines.append(
            f"| active latent units / total KL | {lat.get('active_units')} of {lat.get('latent_dim')} / "
            f"{_num(lat.get('kl_total'))} nats | — | — | — |"
        )
    for name, c in (d.get("condition_control") or {}).items():
        floor, goal = CONTROL_FLOORS.get(name, ("", ""))
        lines.append(
            f"| condition control {name}: MAE (share within ±{c['tolerance']:g}) | {_num(c['mae'])} "
            f"({100 * c['within_tolerance']:.1f} %) | {floor or '—'} | {goal or '—'} | {_met(c['mae'], floor)} |"
        )
    head = d.get("property_head_mae") or {}
    if head:
        lines.append(
            f"| property head MAE ({' / '.join(head)}) | {' / '.join(_num(v) for v in head.values())} | — | — | — |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pretrained", help="model to evaluate ('pretrained', a .ckpt or a run folder)")
    ap.add_argument("--from-json", type=Path, default=None, help="use an evaluation JSON instead of evaluating")
    ap.add_argument("--json", type=Path, default=Path("runs/card-eval.json"), help="where to keep the evaluation")
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the model's)")
    ap.add_argument("--card", type=Path, default=CARD, help="card to read")
    ap.add_argument("--card-out", type=Path, default=None, help="card to write (default: --card)")
    args = ap.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        how = result.get("card_measured") or f"from {args.from_json}"  # how the evaluation was run, if card.py ran it
    else:
        import torch

        from molvae import MolVAE
        from molvae.evaluate.evaluation import evaluate
        from molvae.evaluate.metrics import default_reference_paths

        model = MolVAE.pretrained(device="cpu") if args.model == "pretrained" else MolVAE.load(args.model, device="cpu")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        t = time.time()
        result = evaluate(
            model=model,
            n=args.n,
            scaffold_reference=default_reference_paths().test_scaffolds,
            heldout_n=10000,
            control_n=1000,
            seed=0,
            temperature=args.temperature,
            json_path=args.json,
            progress=False,
        )
        import rdkit

        command = "python benchmarks/pretrained/card.py" + (
            "" if args.model == "pretrained" else f" --model {args.model}"
        )
        how = (
            f"with `{command}` ({time.time() - t:.0f} s on {os.cpu_count()} CPU cores, "
            f"{cpu_name()}, torch {torch.__version__}, RDKit {rdkit.__version__}, load average "
            f"{os.getloadavg()[0]:.1f} at the end; {time.strftime('%Y-%m-%d')})"
        )
        kept = json.loads(args.json.read_text())  # as evaluate() wrote it, plus how: --from-json says so
        args.json.write_text(json.dumps({**kept, "card_measured": how}, indent=2))
    text = args.card.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{args.card} lacks the {START} / {END} markers")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    out = args.card_out or args.card
    out.write_text(before + START + "\n" + tables(result, how) + "\n" + END + after)
    print(f"wrote the measured tables to {out}")


if __name__ == "__main__":
    main()
