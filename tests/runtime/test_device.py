import pytest
import torch

from molvae.errors import ConfigError
from molvae.runtime import device
from molvae.runtime.device import resolve_precision


def test_precision_auto_follows_the_cpu_and_the_words_force_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    assert resolve_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", cpu) == torch.float32
    assert resolve_precision("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_precision("bf16", cpu) == torch.bfloat16
    assert resolve_precision("fp32", torch.device("cuda")) == torch.float32
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)
