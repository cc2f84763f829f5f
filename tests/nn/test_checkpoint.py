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
        "train_hashes_packed",
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


def test_packed_hashes_round_trip_in_signed_order():
    rng = np.random.default_rng(0)
    extremes = np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max], dtype=np.int64)
    raw = np.concatenate(
        [rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 50_000, dtype=np.int64), extremes]
    )
    packed = checkpoint.pack_hashes(raw[::-1])  # any order in
    assert packed["low"].dtype == torch.int32 and packed["counts"].shape == (1 << 16,)
    table = checkpoint.unpack_hashes(packed)
    assert np.array_equal(table, np.unique(raw & checkpoint.HASH_MASK))  # sorted, top 48 bits
    assert checkpoint.in_table(table, raw).all()
    assert not checkpoint.in_table(table, raw[:100] ^ np.int64(1 << 20)).any()  # a bit above the kept 48 flips
    packed["counts"][0] += 1
    with pytest.raises(ValueError, match="counts"):
        checkpoint.unpack_hashes(packed)


def test_training_hashes_survive_a_checkpoint_and_format_1_tables_still_read(tiny_run, tiny_model, tmp_path):
    record = checkpoint.ModelRecord.read(tiny_run / "best.ckpt")
    assert len(record.train_hashes) > 0
    smiles = ["CCO", "c1ccc2ccccc2c1"]
    record.train_hashes = checkpoint.smiles_hashes(smiles)
    record.write(tmp_path / "v2.ckpt")
    payload = checkpoint.load(tmp_path / "v2.ckpt")
    assert "train_smiles_hashes" not in payload and payload["format_version"] == 2
    assert MolVAE.load(tmp_path / "v2.ckpt", device="cpu").codec.is_novel(smiles + ["CCN"]) == [False, False, True]
    # a format-1 file: plain 64-bit hashes, unpacked
    payload.pop("train_hashes_packed")
    payload["train_smiles_hashes"] = torch.from_numpy(np.unique(checkpoint.hash64(smiles)))
    torch.save({**payload, "format_version": 1}, tmp_path / "v1.ckpt")
    old = MolVAE.load(tmp_path / "v1.ckpt", device="cpu")
    assert old.codec.is_novel(smiles + ["CCN"]) == [False, False, True]
    payload["train_smiles_hashes"] = "not a table"
    torch.save({**payload, "format_version": 1}, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="malformed"):
        MolVAE.load(tmp_path / "bad.ckpt", device="cpu")


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
