import pytest

from molvae.errors import ConfigError, UnknownPropertyError
from molvae.train.config import TrainConfig, load_toml, to_toml


def test_toml_round_trip(tmp_path):
    cfg = TrainConfig(properties=("logp", "tpsa"), epochs=3, max_minutes=2.5, smiles_column="smi")
    p = tmp_path / "c.toml"
    p.write_text(to_toml(cfg))
    assert TrainConfig.from_dict(load_toml(p)) == cfg


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("epochs = 3\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError, match="training configuration: unknown key.*learning_rate"):
        TrainConfig.from_dict(load_toml(p))
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(UnknownPropertyError):
        TrainConfig(properties="logp,bogus")
    (tmp_path / "bad.toml").write_text("epochs = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_toml(tmp_path / "bad.toml")


def test_train_table_is_accepted(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[train]\nepochs = 4\nproperties = ['qed']\n")
    assert TrainConfig.from_dict(load_toml(p)).properties == ("qed",)


def test_min_steps_raises_epochs_only_on_a_small_data_set():
    cfg = TrainConfig(epochs=30, batch_size=32, min_steps=600)
    assert cfg.epochs_for(90) == 200  # 3 steps an epoch
    assert cfg.epochs_for(100_000) == 30  # 30 epochs are already far more than 600 steps
    assert TrainConfig(epochs=30, batch_size=32).epochs_for(90) == 30  # off by default: training unchanged
