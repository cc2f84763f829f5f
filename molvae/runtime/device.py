"""Choosing the torch device from a user's word for it (``auto``, ``cpu``, ``cuda[:i]``), and what its CPU can do."""

from __future__ import annotations

import torch

from molvae.errors import ConfigError


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX): there bf16 products
    are 2-3x faster than float32 ones; elsewhere torch emulates them, more slowly than float32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes
        return False


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; an unknown or unavailable device is a :class:`ConfigError`."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available")
    return dev


#: the words :func:`resolve_precision` takes
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The dtype of the decoder's matrix products when sampling and decoding.

    ``auto`` is bf16 on a GPU and on a CPU that multiplies bf16 natively (:func:`cpu_has_bf16`),
    float32 elsewhere; ``fp32`` and ``bf16`` force one. The state, the gates and the logits stay
    float32 either way. The same seed gives the same molecules at the same precision only.
    """
    if name not in PRECISIONS:
        raise ConfigError(f"unknown precision {name!r}: use one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" or cpu_has_bf16() else torch.float32
    return torch.bfloat16 if name == "bf16" else torch.float32
