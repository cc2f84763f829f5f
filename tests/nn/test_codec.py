"""The latent codec with the shipped model, which has no stereo or charge tokens: molecules with
them are encoded in their flat form (flatten), or refused with the remedy named."""

from __future__ import annotations

import numpy as np
import pytest

from molvae import MolVAE
from molvae.chem.molecules import flat_forms
from molvae.errors import EncodingError

SITAGLIPTIN = "N[C@@H](CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"
FLAT_SITAGLIPTIN = "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"
NEOSTIGMINE = "CN(C)C(=O)Oc1cccc([N+](C)(C)C)c1"  # a quaternary ammonium: no neutral form


@pytest.fixture(scope="module")
def shipped():
    return MolVAE.pretrained(device="cpu")


def test_a_stereo_drug_is_encoded_flat_with_a_warning_or_refused_with_the_remedy(shipped, caplog):
    z = shipped.encode(SITAGLIPTIN)
    assert z.shape == (1, shipped.latent_dim)
    assert z.tolist() == shipped.encode(FLAT_SITAGLIPTIN).tolist()  # the same as its flat form
    assert f"(the first: {SITAGLIPTIN} as {FLAT_SITAGLIPTIN})" in caplog.text
    with pytest.raises(EncodingError) as info:
        shipped.encode(SITAGLIPTIN, flatten=False)
    message = str(info.value)
    assert "lacks the SELFIES tokens [C@@H1]" in message and f"encoded as {FLAT_SITAGLIPTIN}" in message
    assert "--init pretrained" in message and "flatten=True" in message


def test_charges_are_neutralised_where_rdkit_can_and_only_when_the_model_needs_it(shipped):
    ibuprofen_anion = "CC(C)Cc1ccc([C@H](C)C(=O)[O-])cc1"
    enc = shipped.encode_batch([ibuprofen_anion, "CCOc1ccccc1C(N)=O", NEOSTIGMINE, ibuprofen_anion + ".[Na+]"])
    flat = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    assert enc.indices == [0, 1, 3] and enc.flattened == {0: flat, 3: flat}  # the salt: its largest fragment
    ((_, smi, reason),) = enc.rejects
    assert smi == NEOSTIGMINE and "[N+1]" in reason and "--init pretrained" in reason
    assert flat_forms(NEOSTIGMINE) == []  # nothing RDKit can neutralise
    strict = shipped.encode_batch([ibuprofen_anion, "CCOc1ccccc1C(N)=O"], flatten=False)
    assert strict.indices == [1] and not strict.flattened
    assert np.allclose(strict.z, enc.z[1:2], atol=1e-5)  # molecules the model takes as they are: unchanged


def test_around_interpolate_and_optimize_accept_a_stereo_lead(shipped):
    gen = shipped.generate(20, around=SITAGLIPTIN, radius=0.2, seed=0)
    assert gen.n_sampled == 20 and gen.molecules
    path = shipped.interpolate(SITAGLIPTIN, "CCOc1ccccc1C(N)=O", steps=3)
    assert len(path) == 3
    res = shipped.optimize("qed", seeds=[SITAGLIPTIN], budget=60, seed=0)
    assert res.seeds == [FLAT_SITAGLIPTIN]
    with pytest.raises(EncodingError, match=r"lacks the SELFIES tokens \[C@@H1\]"):
        shipped.generate(5, around=SITAGLIPTIN, flatten=False)
