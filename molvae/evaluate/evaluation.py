"""``evaluate``: MOSES metrics of a set of molecules or of a model's samples, model diagnostics,
and an HTML report. The CLI's ``molvae evaluate`` is a thin layer over :func:`evaluate`.

>>> from molvae.evaluate.evaluation import evaluate
>>> result = evaluate("generated.csv")                                     # doctest: +SKIP
>>> result = evaluate(model="runs/demo", n=30000, report_dir="report/")    # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molvae.errors import BadInputError
from molvae.evaluate.metrics.packaged import MOSES_HELDOUT
from molvae.evaluate.report import (
    plot_condition_sweeps,
    plot_kl_per_dim,
    plot_latent_map,
    plot_property_histograms,
    write_report,
)
from molvae.io.readers import iter_smiles, read_records

log = logging.getLogger(__name__)

# registry name -> key of the MOSES property distances / reference statistics
MOSES_PROPERTY_KEYS = {"logp": "logP", "sa": "SA", "qed": "QED", "mw": "weight"}


def _heldout(path: str | Path, n: int, smiles_column: str | None = None) -> list[str]:
    out: list[str] = []
    for _, smi in iter_smiles(path, smiles_column):
        if len(out) >= n:
            break
        out.append(smi)
    return out


def evaluate(
    generated: str | Path | Sequence[str] | None = None,
    model: Any = None,
    n: int = 30000,
    reference: str | Path | None = None,
    scaffold_reference: str | Path | None = None,
    train: str | Path | None = None,
    heldout: str | Path | None = None,
    heldout_n: int = 2000,
    control_n: int = 200,
    seed: int = 0,
    report_dir: str | Path | None = None,
    json_path: str | Path | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
    smiles_column: str | None = None,
    temperature: float | None = None,
) -> dict[str, Any]:
    """Evaluate molecules (a file or a list of SMILES) or a model (a :class:`~molvae.MolVAE` or a path).

    With a model, ``n`` prior samples are drawn (``seed``) and evaluated, and the diagnostics of
    :mod:`molvae.evaluate.diagnostics` run on ``heldout_n`` held-out molecules (default: the reference
    set) with ``control_n`` samples per requested value. Without ``train`` and with a model,
    novelty is measured against the model's own training molecules. ``reference=None`` uses the
    MOSES test-set statistics that ship with molvae (and its first 10,000 molecules as held-out
    set). ``smiles_column`` names the SMILES column of ``generated`` and ``heldout`` CSV files
    (:mod:`molvae.io.readers` has the rule). A model samples at ``temperature`` (default: its
    ``default_temperature``), which the result's notes name.

    Returns ``{"metrics": {...}, "diagnostics": {...} or None, "report": path or None,
    "rejects": [...]}``; also written as JSON to ``json_path`` when given. ``rejects`` lists the
    given molecules that are not valid by molvae's definition (``valid_strict``), each as
    ``{"line", "smiles", "reason"}`` (``line``: the file's line number, or the 1-based position in
    a list; empty for a model's samples, whose invalid ones are counted, not listed).
    """
    from molvae.evaluate.metrics import evaluate_smiles

    if (generated is None) == (model is None):
        raise BadInputError("evaluate needs either generated molecules or a model (one of the two)")
    if n <= 0:
        raise BadInputError(f"number of samples must be positive, got {n}")
    if model is not None and not hasattr(model, "sample"):
        from molvae.api import MolVAE

        model = MolVAE.load(model)
    lines: list[int] = []
    if model is not None:
        log.info("sampling %d molecules from the prior (RDKit checks in worker processes while sampling)", n)
        temperature = model.codec.sampling_temperature(temperature)
        samples = ["" if s is None else s for s in model.sample(n, temperature=temperature, seed=seed, n_jobs=n_jobs)]
    elif isinstance(generated, (str, Path)):
        records = read_records(generated, smiles_column, allow_empty=True)  # an empty file is 0 molecules
        lines, samples = [ln for ln, _ in records], [s for _, s in records]
    else:
        samples = ["" if s is None else str(s) for s in generated or ()]
        lines = list(range(1, len(samples) + 1))
    metrics = evaluate_smiles(
        samples,
        reference=reference,
        scaffold_reference=scaffold_reference,
        train=train,
        n_jobs=n_jobs,
        progress=progress,
    )
    invalid = metrics.pop("invalid", [])
    rejects = [{"line": lines[i], "smiles": samples[i], "reason": why} for i, why in invalid] if lines else []
    if model is not None and train is None:
        valid = sorted({s for s in samples if s})
        if valid:
            metrics["Novelty"] = float(np.mean(model.is_novel(valid)))
            metrics["notes"]["Novelty"] = "against the model's own training molecules"
    if model is not None:
        metrics["temperature"] = temperature
        metrics["notes"]["temperature"] = "decoder temperature of the samples"
    diagnostics = None
    if model is not None:
        from molvae.evaluate.diagnostics import diagnose

        held = _heldout(heldout or reference or MOSES_HELDOUT, heldout_n, smiles_column if heldout else None)
        log.info("diagnostics on %d held-out molecules", len(held))
        diagnostics = diagnose(model.codec, held, control_n=control_n, seed=seed, temperature=temperature)
    report = None
    if report_dir is not None:
        report = _report(report_dir, metrics, diagnostics, samples, reference, model)
    result = {
        "metrics": metrics,
        "diagnostics": _public(diagnostics),
        "report": str(report) if report else None,
        "rejects": rejects,
    }
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2, default=_json_default))
    return result


def _public(d: dict | None) -> dict | None:
    return None if d is None else {k: v for k, v in d.items() if not k.startswith("_")}


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _report(out_dir, metrics, diagnostics, samples, reference, model) -> Path:
    from molvae.chem.molecules import draw_grid, mol_from_smiles
    from molvae.chem.properties import compute_mol
    from molvae.evaluate.metrics import reference_stats

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    valid = [s for s in samples if s and mol_from_smiles(s) is not None]
    shown = valid[:5000]  # histograms of a 5k subset are indistinguishable from the full set
    names = list(MOSES_PROPERTY_KEYS)
    gen_props: dict[str, list[float]] = {k: [] for k in names}
    for s in shown:
        vals = compute_mol(mol_from_smiles(s), names)
        for k, v in zip(names, vals):
            if math.isfinite(v):
                gen_props[k].append(v)
    ref = reference_stats(reference)
    ref_props = {k: ref.properties.get(MOSES_PROPERTY_KEYS[k], np.zeros(0)) for k in names}
    images: dict[str, Path | None] = {
        "property distributions: generated vs reference": plot_property_histograms(
            gen_props, ref_props, out / "properties.png"
        ),
    }
    if diagnostics is not None:
        images["condition control: requested vs measured"] = plot_condition_sweeps(
            diagnostics.get("condition_control") or {}, out / "condition_sweeps.png"
        )
        mu, props = diagnostics["_mu"], diagnostics["_props"]
        label = model.property_names[0] if model is not None and model.property_names else "property"
        images[f"latent space coloured by {label}"] = plot_latent_map(
            mu, props[:, 0] if props.size else np.zeros(len(mu)), label, out / "latent_pca.png"
        )
        images["KL per latent dimension"] = plot_kl_per_dim(diagnostics["latent"]["kl_per_dim"], out / "kl_per_dim.png")
    if valid:
        grid = valid[:24]
        legends = []
        for s in grid:
            p = dict(zip(names, compute_mol(mol_from_smiles(s), names)))
            legends.append(f"logP {p['logp']:.2f}  QED {p['qed']:.2f}  SA {p['sa']:.2f}")
        draw_grid(grid, legends, path=str(out / "samples.png"))
        images["sample molecules"] = out / "samples.png"
    else:
        images["sample molecules"] = None
    title = "molvae evaluation" + (f" of {getattr(model, 'source', '')}" if model is not None else "")
    return write_report(out, metrics, diagnostics, images, title=title)
