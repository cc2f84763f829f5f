"""End to end through the command line, as a user would run it."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from molvae.chem.molecules import canonical_smiles, mol_from_smiles
from molvae.chem.properties import compute
from molvae_cli.main import cli
from tests.conftest import ROOT, moses


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


TINY_TOML = """
properties = ["logp", "qed", "sa"]
embed_dim = 16
encoder_hidden = 32
latent_dim = 8
decoder_hidden = 48
decoder_layers = 1
property_hidden = 16
batch_size = 64
val_reconstruct = 20
val_samples = 20
n_jobs = 1
"""


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    data = d / "mols.csv"
    rows = moses(250) + ["C1CC", "definitely-not-smiles"]
    data.write_text("id,SMILES\n" + "\n".join(f"m{i},{s}" for i, s in enumerate(rows)) + "\n")
    (d / "tiny.toml").write_text(TINY_TOML)
    res = run(
        "train",
        data,
        "--properties",
        "logp,qed,sa",
        "--out",
        d / "run",
        "--config",
        d / "tiny.toml",
        "--epochs",
        2,
        "--seed",
        1,
        "-q",
    )
    assert res.exit_code == 0, res.output
    return d


def test_train_writes_the_run_folder(cli_run):
    run_dir = cli_run / "run"
    for name in ("best.ckpt", "last.ckpt", "config.toml", "history.csv", "curves.png", "rejects.csv"):
        assert (run_dir / name).is_file(), name
    rejects = read_csv(run_dir / "rejects.csv")
    assert [r["line"] for r in rejects] == ["252", "253"]
    assert all(r["reason"] for r in rejects)
    assert len(read_csv(run_dir / "history.csv")) == 2
    assert "epochs = 2" in (run_dir / "config.toml").read_text()


def test_generate_checks_every_molecule(cli_run, tmp_path):
    out = tmp_path / "gen.csv"
    res = run(
        "generate",
        "-m",
        cli_run / "run",
        "-n",
        300,
        "--condition",
        "logp=2.5",
        "--condition",
        "qed=0.7",
        "--seed",
        0,
        "-o",
        out,
        "--image",
        tmp_path / "grid.png",
    )
    assert res.exit_code == 0, res.output
    rows = read_csv(out)
    invalid = read_csv(tmp_path / "gen.rejects.csv") if (tmp_path / "gen.rejects.csv").exists() else []
    assert len(rows) + len(invalid) == 300
    assert f"sampled 300: wrote {len(rows)} valid molecules" in res.stderr
    assert list(rows[0]) == ["smiles", "logp", "qed", "sa", "novel"]
    for r in rows:
        assert mol_from_smiles(r["smiles"]) is not None
        assert canonical_smiles(r["smiles"]) == r["smiles"]
        assert float(r["logp"]) == pytest.approx(compute(r["smiles"], ["logp"])["logp"], abs=1e-3)
        assert r["novel"] in ("0", "1")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_generate_unique_and_formats(cli_run, tmp_path):
    res = run("generate", "-m", cli_run / "run", "-n", 50, "--unique", "--seed", 2, "-o", tmp_path / "u.smi")
    assert res.exit_code == 0, res.output
    smiles = [ln.split()[0] for ln in (tmp_path / "u.smi").read_text().splitlines()]
    assert len(smiles) == len(set(smiles)) == 50
    res = run("generate", "-m", cli_run / "run", "-n", 10, "--seed", 2, "-o", tmp_path / "u.sdf")
    assert res.exit_code == 0, res.output
    from rdkit import Chem

    mols = [m for m in Chem.SDMolSupplier(str(tmp_path / "u.sdf"))]
    assert all(m is not None and m.HasProp("logp") for m in mols)


def test_generate_unique_that_falls_short_fails_after_writing(cli_run, tmp_path):
    out = tmp_path / "short.csv"
    res = run("generate", "-m", cli_run / "run", "-n", 60, "--unique", "--max-samples", 60, "--seed", 2, "-o", out)
    written = read_csv(out)
    assert 0 < len(written) < 60  # the tiny model repeats itself: fewer than 60 unique molecules in 60 samples
    assert res.exit_code == 1, res.output
    assert f"wrote only {len(written)} of the 60 unique valid molecules requested" in res.output
    assert "Traceback" not in res.output


def test_same_seed_same_molecules(cli_run, tmp_path):
    for name in ("a", "b"):
        assert (
            run("generate", "-m", cli_run / "run", "-n", 40, "--seed", 7, "-o", tmp_path / f"{name}.csv").exit_code == 0
        )
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_encode_decode_interpolate_around(cli_run, tmp_path):
    z = tmp_path / "z.npy"
    res = run("encode", "-m", cli_run / "run", "CCOc1ccccc1C(N)=O", "not_smiles", "c1ccccc1O", "-o", z)
    assert res.exit_code == 0, res.output
    assert np.load(z).shape == (2, 8)
    rejects = read_csv(tmp_path / "z.rejects.csv")
    assert rejects[0]["smiles"] == "not_smiles" and "invalid SMILES" in rejects[0]["reason"]
    assert [r["smiles"] for r in read_csv(tmp_path / "z.index.csv")] == ["CCOc1ccccc1C(N)=O", "c1ccccc1O"]
    res = run("decode", "-m", cli_run / "run", z, "-o", tmp_path / "d.csv")
    assert res.exit_code == 0, res.output
    assert len(read_csv(tmp_path / "d.csv")) == 2
    res = run("decode", "-m", cli_run / "run", z)  # to stdout: the same text as the file
    assert res.stdout == (tmp_path / "d.csv").read_text()
    res = run("interpolate", "-m", cli_run / "run", "CCOc1ccccc1C(N)=O", "c1ccccc1O", "--steps", 5)
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("smiles,step,valid") and len(lines) == 6
    for row in csv.DictReader(lines):  # as generate writes them: 0/1 and 4 decimals
        assert row["valid"] in ("0", "1")
        assert all(len(row[k].partition(".")[2]) == 4 for k in ("logp", "qed", "sa") if row[k])
    res = run(
        "generate",
        "-m",
        cli_run / "run",
        "-n",
        20,
        "--around",
        "CCOc1ccccc1C(N)=O",
        "--radius",
        0.2,
        "-o",
        tmp_path / "near.csv",
    )
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["generate", "-n", "0", "-o", "x.csv"], 2, "must be positive"),
        (["generate", "-n", "5", "--condition", "tpsa=40", "-o", "x.csv"], 2, "it knows: logp, qed, sa"),
        (["generate", "-n", "5", "--condition", "logp", "-o", "x.csv"], 2, "NAME=VALUE"),
        (["generate", "-n", "5", "-c", "logp=1", "-c", "logp=3", "-o", "x.csv"], 2, "logp is given twice"),
        (["generate", "-n", "5", "-o", "x.xyz"], 2, "unknown output format"),
        (["generate", "-n", "5", "--guidance", "-1", "-o", "x.csv"], 2, "guidance must be 0"),
        (["generate", "-n", "5", "--guidance", "nan", "-o", "x.csv"], 2, "guidance must be 0"),
        (["encode", "[Na+].[Cl-]", "-o", "z.npy"], 1, "no usable molecule"),  # README: 1 when none is usable
        # an invalid molecule given as an option or argument is a usage error, the same in every command
        (["generate", "-n", "5", "--around", "C1CC", "-o", "x.csv"], 2, "invalid SMILES"),
        (["generate", "-n", "5", "--around", "C[N+](C)(C)C", "-o", "x.csv"], 2, "vocabulary lacks"),
        (["optimize", "--from", "C1CC", "--maximize", "qed", "--budget", "20", "-o", "x.csv"], 2, "invalid SMILES"),
        (["interpolate", "C1CC", "CCO"], 2, "invalid SMILES"),
    ],
)
def test_bad_input_gives_one_line(cli_run, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    res = run(args[0], "-m", cli_run / "run", *args[1:])
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_out_of_range_condition_warns(cli_run, tmp_path):
    res = run("generate", "-m", cli_run / "run", "-n", 5, "--condition", "logp=40", "-o", tmp_path / "w.csv")
    assert res.exit_code == 0 and "outside the training range" in res.stderr


def test_encode_unknown_tokens_names_them(cli_run):
    from molvae import MolVAE
    from molvae.errors import EncodingError

    model = MolVAE.load(cli_run / "run")
    with pytest.raises(EncodingError, match=r"\[N\+1\]"):
        model.encode("C[N+](C)(C)C")
    with pytest.raises(EncodingError, match=r"\[O-1\]"):  # a salt is its largest fragment: the acetate
        model.encode("CC(=O)[O-].[Na+]", flatten=False)
    assert model.encode("CC(=O)[O-].[Na+]").tolist() == model.encode("CC(=O)O").tolist()  # flattened by default


def test_bad_files(cli_run, tmp_path):
    ckpt = (cli_run / "run" / "best.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(ckpt[: len(ckpt) // 2])
    res = run("generate", "-m", tmp_path / "cut.ckpt", "-n", 5, "-o", tmp_path / "x.csv")
    assert res.exit_code == 1 and "truncated" in res.output and len(res.output.strip().splitlines()) == 1
    res = run("generate", "-m", tmp_path / "missing.ckpt", "-n", 5, "-o", tmp_path / "x.csv")
    assert res.exit_code == 2
    (tmp_path / "empty.smi").write_text("")
    res = run("train", tmp_path / "empty.smi", "--out", tmp_path / "r1")
    assert res.exit_code == 1 and "holds no molecules" in res.output
    (tmp_path / "bad.smi").write_text("xx\nC1CC\n")
    res = run("train", tmp_path / "bad.smi", "--out", tmp_path / "r2")
    assert res.exit_code == 1 and "none of the 2 molecules" in res.output
    (tmp_path / "m.xyz").write_text("CCO\n")
    res = run("train", tmp_path / "m.xyz", "--out", tmp_path / "r3")
    assert res.exit_code == 2 and "unknown file format" in res.output
    res = run("train", tmp_path / "bad.smi", "--out", tmp_path / "r4", "--properties", "logp,potency")
    assert res.exit_code == 2 and "known properties: logp, qed" in res.output
    (tmp_path / "c.toml").write_text("epoch = 3\n")
    res = run("train", tmp_path / "bad.smi", "--out", tmp_path / "r5", "--config", tmp_path / "c.toml")
    assert res.exit_code == 2 and "training configuration: unknown key(s) epoch" in res.output


# Run the CLI in a child process whose trainer reports on stdout each checkpoint it has written
# and then (with STOP_WITH set) sends itself that signal: the test reacts to the run, not to a clock.
_CHILD = """
import os, signal, sys
from molvae.train.loop import Trainer
from molvae_cli.main import main
real_save = Trainer.save_last
sent = []
def save_and_report(self):
    real_save(self)
    print(f"saved {self.epoch} {self.batch_in_epoch}", flush=True)
    if self.epoch >= 1 and self.batch_in_epoch >= 2 and not sent:
        if os.environ.get("STOP_WITH"):
            sent.append(1)
            os.kill(os.getpid(), getattr(signal, os.environ["STOP_WITH"]))
        else:
            signal.pause()  # wait to be killed
Trainer.save_last = save_and_report
sys.argv = ["molvae"] + sys.argv[1:]
main()
"""


def _child_train(tmp_path, stop_with: str | None):
    data = tmp_path / "m.smi"
    data.write_text("\n".join(moses(600)) + "\n")
    (tmp_path / "c.toml").write_text(TINY_TOML + "epochs = 3\ncheckpoint_minutes = 0.0\n")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **({"STOP_WITH": stop_with} if stop_with else {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CHILD,
            "train",
            str(data),
            "--out",
            str(out),
            "--config",
            str(tmp_path / "c.toml"),
            "-q",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return data, out, proc


@pytest.mark.slow
def test_killed_training_resumes_and_finishes(tmp_path):
    from molvae.nn import checkpoint

    data, out, proc = _child_train(tmp_path, None)
    killed_at = None
    for line in proc.stdout:  # the run says when it has checkpointed mid-epoch 2
        epoch, batch = (int(x) for x in line.split()[1:])
        if epoch >= 1 and batch >= 2:
            proc.send_signal(signal.SIGKILL)
            killed_at = (epoch, batch)
            break
    proc.wait(timeout=60)
    assert killed_at is not None, proc.stderr.read()
    ts = checkpoint.load(out / "last.ckpt")["training_state"]
    assert (ts["epoch"], ts["batch_in_epoch"]) == killed_at
    res = run("train", data, "--out", out, "--resume", "-q")
    assert res.exit_code == 0, res.output
    assert [r["epoch"] for r in read_csv(out / "history.csv")][-1] == "3"
    assert (out / "best.ckpt").is_file()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path):
    from molvae.nn import checkpoint

    data, out, proc = _child_train(tmp_path, "SIGTERM")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted by SIGTERM" in stderr and "--resume" in stderr
    ts = checkpoint.load(out / "last.ckpt")["training_state"]
    assert (ts["epoch"], ts["batch_in_epoch"]) == (1, 3)  # the step after the signal was saved
    res = run("train", data, "--out", out, "--resume", "--lr", "0.1", "-q")
    assert res.exit_code == 2 and "cannot change lr when resuming" in res.output
    res = run("train", data, "--out", out, "--resume", "--epochs", "2", "-q")
    assert res.exit_code == 0, res.output
    assert [r["epoch"] for r in read_csv(out / "history.csv")][-1] == "2"
