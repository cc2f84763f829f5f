import warnings

import numpy as np
import pytest
import torch

from molvae.chem.properties import resolve
from molvae.data.conditioning import ConditionRangeWarning, PropertyScaler, condition_arrays, random_mask
from molvae.errors import UnknownPropertyError
from molvae.nn.model import make_condition


def scaler():
    rng = np.random.default_rng(0)
    values = np.stack([rng.normal(2.5, 1.0, 1000), rng.uniform(0.2, 0.9, 1000)], axis=1)
    return PropertyScaler.fit(["logp", "qed"], values), values


def test_scaler_round_trip_and_range():
    s, values = scaler()
    z = s.transform(values)
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-4)
    assert np.allclose(s.inverse(z), values, atol=1e-4)
    assert PropertyScaler.from_dict(s.to_dict()) == s
    assert s.range_of("qed") == (values[:, 1].min(), values[:, 1].max())


def test_condition_arrays_masks_missing_properties():
    s, _ = scaler()
    v, m = condition_arrays(s, {"qed": 0.5}, 3)
    assert v.shape == m.shape == (3, 2)
    assert m[:, 0].eq(0).all() and m[:, 1].eq(1).all()
    assert v[:, 0].eq(0).all()
    assert torch.allclose(v[:, 1], torch.tensor((0.5 - s.mean[1]) / s.std[1]).float())
    cond = make_condition(v, m)
    assert cond.shape == (3, 4)
    assert torch.equal(cond[:, 2:], m)


def test_unknown_condition_lists_known_properties():
    s, _ = scaler()
    with pytest.raises(UnknownPropertyError, match="logp, qed"):
        condition_arrays(s, {"tpsa": 40}, 1)
    with pytest.raises(UnknownPropertyError, match="known properties: logp, qed, sa"):
        resolve("logp,nonsense")


def test_out_of_range_condition_warns_with_range():
    s, values = scaler()
    with pytest.warns(ConditionRangeWarning, match="training range"):
        condition_arrays(s, {"logp": 50.0}, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        condition_arrays(s, {"logp": float(np.median(values[:, 0]))}, 1)


def test_random_mask_drops_at_the_requested_rate():
    g = torch.Generator().manual_seed(0)
    m = random_mask(20000, 3, 0.3, g)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert abs(1 - m.mean().item() - 0.3) < 0.01
    assert random_mask(10, 3, 0.0, g).eq(1).all()
    assert random_mask(10, 3, 1.0, g).eq(0).all()
