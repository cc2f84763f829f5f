"""Fine-tuning from the command line: --init pretrained / a run folder, resume, charged and stereo leads."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from molvae import MolVAE
from molvae.chem.molecules import canonical_smiles
from molvae_cli.main import cli
from tests.conftest import moses

CHARGED_STEREO = [
    "C[C@@H](N)C(=O)O",
    "O=[N+]([O-])c1ccccc1",
    "C[N+](C)(C)Cc1ccccc1",
    "C[C@H](O)c1ccc([N+](=O)[O-])cc1",
    "O=C([O-])C[C@@H](N)c1ccccc1",
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    data = d / "series.smi"
    data.write_text("\n".join(moses(120) + CHARGED_STEREO * 4) + "\n")
    out = d / "run"
    res = run("train", data, "--init", "pretrained", "--out", out, "--epochs", 1, "--batch-size", 32, "-q")
    assert res.exit_code == 0, res.output
    return d, data, out, res


def test_init_pretrained_grows_the_vocabulary_and_keeps_the_base_properties(finetuned):
    _, _, out, res = finetuned
    assert "vocabulary grown by" in res.output and "[N+1]" in res.output and "[C@@H1]" in res.output
    config = (out / "config.toml").read_text()
    assert 'init = "pretrained"' in config and "val_fraction = 0.0" in config  # fine-tuning defaults applied
    assert "epochs = 1\n" in config  # --epochs given: taken as given
    model = MolVAE.load(out, device="cpu")
    base = MolVAE.pretrained(device="cpu")
    assert model.property_names == base.property_names
    assert model.codec.vocab.tokens[: len(base.codec.vocab)] == base.codec.vocab.tokens
    assert {"[N+1]", "[O-1]", "[C@@H1]"} <= set(model.codec.vocab.tokens)


def test_charged_and_stereo_leads_work_with_the_finetuned_model(finetuned, tmp_path):
    _, _, out, _ = finetuned
    lead = "C[C@H](O)c1ccc([N+](=O)[O-])cc1"
    res = run("encode", "-m", out, lead, "-o", tmp_path / "z.npy")
    assert res.exit_code == 0, res.output
    res = run("generate", "-m", out, "-n", 20, "--around", lead, "--radius", 0.2, "-o", tmp_path / "near.csv")
    assert res.exit_code == 0, res.output
    # 20 samples: each is written or rejected with its reason (the share of valid ones depends on
    # the machine's arithmetic, bf16 or not, through the one-epoch fine-tuning)
    with open(tmp_path / "near.csv", newline="") as fh:
        written = len(list(csv.DictReader(fh)))
    rejects = tmp_path / "near.rejects.csv"
    rejected = 0
    if rejects.exists():
        with open(rejects, newline="") as fh:
            rejected = len(list(csv.DictReader(fh)))
    assert written + rejected == 20 and written >= 10, res.output
    assert f"sampled 20: wrote {written} valid molecules" in res.output
    res = run(
        "optimize",
        "-m",
        out,
        "--maximize",
        "qed",
        "--from",
        lead,
        "--similarity",
        0.2,
        "--budget",
        100,
        "--top",
        3,
        "-o",
        tmp_path / "opt.csv",
        "-q",
    )
    assert res.exit_code == 0, res.output
    # the base model refuses the same lead: the vocabulary is what fine-tuning added
    refused = MolVAE.pretrained(device="cpu").encode_batch([lead]).rejects
    assert refused and "lacks the SELFIES tokens" in refused[0][2]
    assert canonical_smiles(lead) in {canonical_smiles(s) for s in CHARGED_STEREO}


def test_init_from_a_run_folder_and_resume_of_a_finetuning_run(finetuned, tmp_path):
    from molvae.nn import checkpoint

    d, data, out, _ = finetuned
    second = tmp_path / "second"
    payload = checkpoint.load(out)  # the base names a default sampling temperature: the new model keeps it
    payload["sampling_temperature"] = 0.3
    checkpoint.save(tmp_path / "base.ckpt", payload)
    res = run("train", data, "--init", tmp_path / "base.ckpt", "--out", second, "--epochs", 1, "--batch-size", 32, "-q")
    assert res.exit_code == 0, res.output
    assert "vocabulary grown" not in res.output  # the first fine-tuning already holds every symbol
    first_vocab = MolVAE.load(out, device="cpu").codec.vocab.tokens
    assert MolVAE.load(second, device="cpu").codec.vocab.tokens == first_vocab
    assert MolVAE.load(second, device="cpu").default_temperature == 0.3
    res = run("train", data, "--out", second, "--resume", "--epochs", 2, "-q")
    assert res.exit_code == 0, res.output
    history = (second / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2"]
    assert MolVAE.load(second, device="cpu").codec.vocab.tokens == first_vocab
    assert MolVAE.load(second / "last.ckpt", device="cpu").default_temperature == 0.3
