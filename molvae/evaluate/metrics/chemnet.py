"""Fréchet ChemNet Distance (FCD) with the ChemNet shipped in the ``fcd`` package.

ChemNet's weights load from the installed ``fcd`` package (no download). SMILES are encoded
exactly as ``fcd`` and ``fcd_torch`` (the FCD implementation MOSES uses) do: ``fcd.utils``'s
tokeniser, one-hot over ChemNet's 35 symbols, an end symbol ``.``, zero padding to 350
positions, divided by 35. The one-hot is built here in bulk (``fcd``'s per-molecule dataset
spends more time building arrays than ChemNet spends on them); a unit test checks that the
activations equal ``fcd.get_predictions``. Like ``fcd_torch`` (and unlike ``fcd``, which pads
the whole batch further), SMILES longer than 349 symbols are truncated.

MOSES computes FCD between canonical SMILES of the valid generated molecules and of the
reference set: ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`` over ChemNet's 512
penultimate activations.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from molvae.runtime.parallel import init_worker, pmap, torch_threads

PAD_LEN = 350
N_SYMBOLS = 35
CHUNK = 2048  # molecules one-hot encoded at a time
BATCH_SIZE = 64  # fastest ChemNet batch on a 2-core CPU (measured: 64 < 128 < 256)
PARALLEL_MIN = 4 * CHUNK  # below this, worker start-up costs more than it saves


@functools.lru_cache(maxsize=1)
def _model():
    import fcd

    return fcd.load_ref_model()  # loads ChemNet_v0.13_pretrained.pt from the package itself


@functools.cache
def _symbol_index(token: str) -> int:
    """ChemNet one-hot column of one token, asked of ``fcd.utils.get_one_hot`` itself."""
    from fcd.utils import get_one_hot

    return int(get_one_hot(token)[0].argmax())


def _encode(smiles: Sequence[str]) -> np.ndarray:
    """float32 ``(n, PAD_LEN, N_SYMBOLS)`` ChemNet input, as ``fcd.utils.SmilesDataset`` builds."""
    from fcd.utils import tokenize

    x = np.zeros((len(smiles), PAD_LEN, N_SYMBOLS), dtype=np.float32)
    value = np.float32(1.0 / N_SYMBOLS)
    end = _symbol_index(".")
    for i, smi in enumerate(smiles):
        cols = [_symbol_index(t) for t in tokenize(smi)][: PAD_LEN - 1]
        cols.append(end)
        x[i, np.arange(len(cols)), cols] = value
    return x


def _init_worker() -> None:
    """ChemNet pool initialiser: one torch thread per process, RDKit quiet."""
    import torch

    torch.set_num_threads(1)
    init_worker()


def _run(smiles: Sequence[str], device: str = "cpu", batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Activations of one chunk of SMILES, in this process."""
    import torch

    model = _model().to(device)
    out = []
    try:
        with torch.inference_mode():
            x = torch.from_numpy(_encode(smiles))
            for b in range(0, len(x), batch_size):
                batch = x[b : b + batch_size].to(device).transpose(1, 2)
                out.append(model(batch).float().cpu().numpy())
    finally:
        model.to("cpu")
    return np.concatenate(out, axis=0)


def activations(
    smiles: Sequence[str],
    device: str | None = None,
    progress: bool = False,
    n_jobs: int = 1,
) -> np.ndarray:
    """ChemNet's 512 penultimate activations for each SMILES, float32 ``(n, 512)``.

    Pass canonical SMILES (as MOSES does). ``device`` defaults to CUDA when available. On CPU,
    large inputs are split over ``n_jobs`` processes with one torch thread each.
    """
    import torch

    if len(smiles) == 0:
        return np.zeros((0, 512), dtype=np.float32)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chunks = [list(smiles[i : i + CHUNK]) for i in range(0, len(smiles), CHUNK)]
    if device != "cpu" or len(smiles) < PARALLEL_MIN:
        n_jobs = 1
    _model()  # load once here so that forked workers inherit it
    with torch_threads(1):
        parts = pmap(
            functools.partial(_run, device=device), chunks, n_jobs, progress, "ChemNet",
            initializer=_init_worker, serial_below=2, size=len,
        )  # fmt: skip
    return np.concatenate(parts, axis=0)


def statistics(acts: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, ddof 1) of activations; ``weights`` are integer multiplicities.

    Equal to ``acts.mean(0), np.cov(acts.T, fweights=weights)``: the statistics of the list with
    each row repeated ``weights[i]`` times, which is what MOSES computes on generated sets with
    duplicates. Computed with torch in chunks (torch's thread setting applies, and no float64
    copy of a 176k x 512 array is made).
    """
    import torch

    acts = np.asarray(acts)
    n = len(acts)
    w = torch.ones(n, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
    total = float(w.sum())
    mu = torch.zeros(acts.shape[1], dtype=torch.float64)
    for i in range(0, n, CHUNK):
        mu += w[i : i + CHUNK] @ torch.as_tensor(acts[i : i + CHUNK], dtype=torch.float64)
    mu /= total
    cov = torch.zeros(acts.shape[1], acts.shape[1], dtype=torch.float64)
    for i in range(0, n, CHUNK):
        xc = torch.as_tensor(acts[i : i + CHUNK], dtype=torch.float64) - mu
        cov += (xc * w[i : i + CHUNK, None]).T @ xc
    cov /= total - 1
    return mu.numpy(), cov.numpy()


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`` between two Gaussians.

    ``fcd``/``fcd_torch`` take ``Tr sqrtm(S1 S2)`` with ``scipy.linalg.sqrtm``; here it is the
    sum of the square roots of the eigenvalues of the symmetric ``sqrt(S1) S2 sqrt(S1)``, which
    has the same eigenvalues as ``S1 S2``. The two agree to about 1e-12 relative on ChemNet
    statistics, but this one runs on torch's single thread in a second where ``sqrtm`` on a busy
    two-core machine took ten (OpenBLAS threads), and ``fcd``'s own function passes ``disp=`` to
    ``sqrtm``, removed in SciPy 1.18.

    >>> import numpy as np
    >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)), 6)
    4.0
    """
    import torch

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("FCD statistics of different sizes")
    s1 = torch.as_tensor(sigma1, dtype=torch.float64)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64)
    evals, evecs = torch.linalg.eigh(s1)
    root1 = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T
    inner = root1 @ s2 @ root1
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum().item()
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)
