"""The one check every decoded molecule passes: RDKit, then no radicals and no unusual valences."""

from __future__ import annotations

import csv

import pytest
import torch
from click.testing import CliRunner
from rdkit import Chem

from molvae.chem.checks import (
    RADICAL,
    RESTORED_H,
    UNUSUAL_VALENCE,
    check_smiles,
    check_symbols,
    chemistry_problem,
    reason_kind,
    restore_hydrogens,
)
from molvae_cli.main import cli

# Real drugs with the hypervalent groups molvae must keep: sulfoxide, sulfonamide, sulfone,
# sulfonylurea, phosphate, phosphonate, phosphoramide, a sulfonium-free thioether and a thiol.
DRUGS = {
    "omeprazole": "COc1ccc2[nH]c(S(=O)Cc3ncc(C)c(OC)c3C)nc2c1",
    "modafinil": "NC(=O)CS(=O)C(c1ccccc1)c1ccccc1",
    "celecoxib": "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1",
    "dapsone": "Nc1ccc(S(=O)(=O)c2ccc(N)cc2)cc1",
    "glibenclamide": "COc1ccc(Cl)cc1C(=O)NCCc1ccc(S(=O)(=O)NC(=O)NC2CCCCC2)cc1",
    "sildenafil": "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12",
    "fosfomycin": "CC1OC1P(=O)(O)O",
    "tenofovir": "CC(Cn1cnc2c(N)ncnc21)OCP(=O)(O)O",
    "cyclophosphamide": "O=P1(N(CCCl)CCCl)NCCCO1",
    "captopril": "CC(CS)C(=O)N1CCCC1C(=O)O",
    "nitrofurantoin": "O=C1CN(N=Cc2ccc([N+](=O)[O-])o2)C(=O)N1",
    "sulfonium-like methionine": "CSCCC(N)C(=O)O",
}


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_real_drugs_pass(name):
    assert chemistry_problem(Chem.MolFromSmiles(DRUGS[name])) == ""


@pytest.mark.parametrize(
    "smiles, kind, atom",
    [
        ("C=C[NH]", RADICAL, 3),  # [NH1] given one bond instead of two
        ("CC[CH]C", RADICAL, 3),  # [CH1] short of a bond
        ("O=CO[SH](Cc1ccc(O)cc1)c1ccccc1", UNUSUAL_VALENCE, 4),  # neutral S with 3 single bonds and a hydrogen
        ("CS12CCN(C)C1=CC=N2", UNUSUAL_VALENCE, 2),  # S with four single bonds
        ("CC(=N[SH](=O)=O)c1ccccc1", UNUSUAL_VALENCE, 4),  # a hydrogen on a hexavalent S
    ],
)
def test_radicals_and_unusual_valences_are_named(smiles, kind, atom):
    reason = chemistry_problem(Chem.MolFromSmiles(smiles), smiles)
    assert reason_kind(reason) == kind
    assert reason.startswith(f"{kind} on atom {atom} (") and reason.endswith(f" of {smiles}")


def test_decoded_hypervalent_sulfur_is_invalid_with_its_reason():
    """SELFIES writes it, RDKit sanitises it; molvae's check does not count it valid."""
    checked = check_symbols(
        [["[O]", "[=C]", "[O]", "[S]", "[Branch1]", "[C]", "[C]", "[C]"], ["[C]", "[O]"]], ["logp"], n_jobs=1
    )
    assert [c.valid for c in checked] == [False, True]
    assert [reason_kind(c.reason) for c in checked] == [UNUSUAL_VALENCE, ""]
    assert checked[0].properties == {} and checked[1].smiles == "CO" and checked[1].repair == ""


@pytest.mark.parametrize(
    "symbols, smiles",
    [
        (["[C]", "[=C]", "[NH1]"], "C=CN"),  # [NH1] given one bond instead of two
        (["[C]", "[C@@H1]", "[C]"], "CCC"),  # a stereocentre left with two neighbours: its tag goes
        (["[O]", "[C]", "[C@H1]", "[Ring1]", "[C]"], "C=CO"),  # its ring closes as a double bond to a neighbour
        (["[C]", "[NH1+1]", "[C]"], "C[NH2+]C"),  # a protonated amine short of a bond
        (["[C]", "[C@@]", "[Branch1]", "[C]", "[O]", "[F]"], "CC(O)F"),  # no stereo is invented
    ],
)
def test_decoded_atoms_short_of_bonds_get_their_hydrogens_back(symbols, smiles):
    """A bracket symbol's fixed hydrogen count leaves an atom the decoder gave too few bonds with a
    radical; the check fills it with hydrogens as SELFIES fills a plain atom, and says so."""
    (checked,) = check_symbols([symbols], ["logp"], n_jobs=1)
    assert checked.valid and checked.smiles == smiles and checked.reason == ""
    assert checked.repair.startswith(f"{RESTORED_H} on atom") and set(checked.properties) == {"logp"}
    assert chemistry_problem(Chem.MolFromSmiles(checked.smiles)) == ""


def test_a_radical_a_user_gives_is_still_invalid():
    """Only decoding repairs: the check itself rejects a radical, and evaluate counts it invalid."""
    from molvae.evaluate.metrics import evaluate_smiles

    assert reason_kind(chemistry_problem(Chem.MolFromSmiles("CC[CH]C"))) == RADICAL
    (made,) = check_smiles(["CC[CH]C"])  # a molecule a search's graph operator made, not a decode
    assert made.smiles is None and reason_kind(made.reason) == RADICAL and made.repair == ""
    res = evaluate_smiles(["CC[CH]C", "CCCC"], reference=["CCO", "CCN"], unique_at=(1,), n_jobs=1)
    assert res["n_valid_strict"] == 1


def test_a_stereocentre_with_its_bonds_is_not_touched():
    mol = Chem.MolFromSmiles("C[C@@H](O)F")
    assert restore_hydrogens(mol) == (mol, "")


@pytest.mark.parametrize(
    "smiles, repaired, atom",
    [
        ("C[C@H](O)[CH]C", "CC[C@H](C)O", 4),  # the neighbour is still a stereocentre: its tag stays
        ("CC[C@H](O)[CH]C", "CCC(O)CC", 5),  # the neighbour no longer is (two ethyls): its tag goes
    ],
)
def test_restoring_hydrogens_keeps_only_real_stereocentres(smiles, repaired, atom):
    mol, note = restore_hydrogens(Chem.MolFromSmiles(smiles))
    assert Chem.MolToSmiles(mol) == repaired and note == f"{RESTORED_H} on atom {atom} (C, 1 H added)"


def test_decoding_a_radical_gives_a_repaired_molecule():
    """The codec's decoding (behind decode, interpolate, optimize) goes through the check."""
    from molvae import MolVAE

    codec = MolVAE.pretrained(device="cpu").codec
    ids = [codec.vocab.index[t] for t in ("[C]", "[=C]", "[NH1]")] + [codec.vocab.end_id]  # every token imposed
    z = torch.zeros((1, codec.latent_dim))
    (checked,) = codec.decode_latents(z, codec.condition_tensor(None, 1), template=torch.tensor([ids]))
    assert checked.smiles == "C=CN" and checked.repair.startswith(RESTORED_H)


def test_generate_writes_no_radical_and_counts_the_repaired(tmp_path):
    out = tmp_path / "x.csv"
    res = CliRunner().invoke(cli, ["generate", "-n", "500", "--seed", "0", "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with open(out, newline="") as fh:
        written = [r["smiles"] for r in csv.DictReader(fh)]
    with open(tmp_path / "x.rejects.csv", newline="") as fh:
        rejects = [r["reason"] for r in csv.DictReader(fh)]
    assert len(written) + len(rejects) == 500
    assert all(chemistry_problem(Chem.MolFromSmiles(s)) == "" for s in written)
    # the shipped model at seed 0: 3 hypervalent sulfur atoms rejected, 2 radicals repaired, in 500 samples
    assert {reason_kind(r) for r in rejects} == {UNUSUAL_VALENCE}
    assert f"wrote {len(written)} valid molecules (2 with hydrogens restored)" in res.stderr
    assert "unusual valence" in res.stderr and "radical" not in res.stderr
