import collections

import numpy as np
import pytest
import torch

from molvae import MolVAE
from molvae.errors import CheckpointError
from molvae.nn import checkpoint


def test_round_trip_gives_the_same_model(tiny_run, tiny_model, tmp_path):
    payload = checkpoint.load(tiny_run / "best.ckpt")
    for key in (
        "state_dict",
        "model_config",
        "vocab",
        "property_names",
        "scaler",
        "format_version",
        "versions",
        "data_hash",
        "train_smiles_hashes",
        "train_config",
    ):
        assert key in payload
    assert "max_length" not in payload  # the model config holds it; no second copy to drift apart
    assert payload["format_version"] == checkpoint.FORMAT_VERSION
    record = checkpoint.ModelRecord.from_payload(payload)
    assert record.model_config.max_length == tiny_model.codec.max_length
    record.write(tmp_path / "copy.ckpt")
    copy = MolVAE.load(tmp_path / "copy.ckpt", device="cpu")
    smiles = ["CCOc1ccccc1C(N)=O", "Cc1ccc(S(N)(=O)=O)cc1"]
    assert np.array_equal(copy.encode(smiles), tiny_model.encode(smiles))
    assert copy.sample(20, seed=3) == tiny_model.sample(20, seed=3)
    assert copy.property_names == ["logp", "qed", "sa"]


def test_loads_with_weights_only(tiny_run):
    torch.load(tiny_run / "best.ckpt", weights_only=True)  # raises if anything is pickled code


class Evil:
    def __reduce__(self):
        return (print, ("this would run",))


def test_refuses_a_file_carrying_a_pickle(tmp_path, tiny_run):
    payload = checkpoint.load(tiny_run / "best.ckpt")
    payload["extra"] = Evil()
    torch.save(payload, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="refused.*pickled"):
        checkpoint.load(tmp_path / "evil.ckpt")
    torch.save({"format": "molvae-checkpoint", "x": collections.OrderedDict(a=np.float64(1))}, tmp_path / "np.ckpt")
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "np.ckpt")


@pytest.mark.parametrize("cut", [100, 5000, -200])
def test_truncated_file_is_a_one_line_error(tmp_path, tiny_run, cut):
    data = (tiny_run / "best.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[:cut])
    with pytest.raises(CheckpointError) as info:
        MolVAE.load(tmp_path / "cut.ckpt")
    assert "\n" not in str(info.value) and "cut.ckpt" in str(info.value)


def test_missing_foreign_and_future_files(tmp_path, tiny_run):
    with pytest.raises(CheckpointError, match="no such model file"):
        checkpoint.load(tmp_path / "nothing.ckpt")
    (tmp_path / "text.ckpt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a molvae checkpoint"):
        checkpoint.load(tmp_path / "text.ckpt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a molvae checkpoint"):
        checkpoint.load(tmp_path / "other.pt")
    payload = checkpoint.load(tiny_run / "best.ckpt")
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.ckpt")
    with pytest.raises(CheckpointError, match="version 99"):
        checkpoint.load(tmp_path / "future.ckpt")


def test_novelty_hashes():
    table = checkpoint.smiles_hashes(["CCO", "c1ccccc1", "CCO"])
    assert len(table) == 2
    assert checkpoint.contains_hashes(table, ["CCO", "CCN", "c1ccccc1"]).tolist() == [True, False, True]


def test_default_sampling_temperature_travels_with_the_checkpoint(tiny_run, tiny_model, tmp_path):
    payload = checkpoint.load(tiny_run / "best.ckpt")
    assert "sampling_temperature" not in payload and tiny_model.default_temperature == 1.0
    payload["sampling_temperature"] = 0.0
    checkpoint.save(tmp_path / "greedy.ckpt", payload)
    greedy = MolVAE.load(tmp_path / "greedy.ckpt", device="cpu")
    assert greedy.default_temperature == 0.0
    assert checkpoint.ModelRecord.read(tmp_path / "greedy.ckpt").to_payload()["sampling_temperature"] == 0.0
    # without a temperature, sampling uses the checkpoint's; an explicit one still wins
    assert greedy.sample(30, seed=1) == tiny_model.sample(30, temperature=0.0, seed=1) != tiny_model.sample(30, seed=1)
    assert greedy.sample(30, temperature=1.0, seed=1) == tiny_model.sample(30, seed=1)
    got = [m.smiles for m in greedy.generate(30, seed=1).molecules]
    assert got == [m.smiles for m in tiny_model.generate(30, temperature=0.0, seed=1).molecules]
    for bad in (-0.5, float("nan"), "warm"):
        payload["sampling_temperature"] = bad
        checkpoint.save(tmp_path / "bad.ckpt", payload)
        with pytest.raises(CheckpointError, match="malformed"):
            MolVAE.load(tmp_path / "bad.ckpt", device="cpu")
