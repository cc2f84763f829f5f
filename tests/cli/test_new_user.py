"""What a new user meets in the first hour: real-world files, odd values, exit codes, help, the README."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import click
import numpy as np
import pytest
from click.testing import CliRunner

from molvae_cli.main import cli
from tests.conftest import ROOT, moses


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    """The same five molecules as a Latin-1 CSV and as a UTF-8 CSV with a BOM and CRLF line ends."""
    d = tmp_path_factory.mktemp("odd")
    smiles = moses(5)
    (d / "latin1.csv").write_bytes(
        ("nom,smiles\n" + "".join(f"molécule {i},{s}\n" for i, s in enumerate(smiles))).encode("latin-1")
    )
    (d / "bom.csv").write_bytes(
        ("\ufeffSMILES,name\r\n" + "".join(f"{s},mol {i}\r\n" for i, s in enumerate(smiles))).encode("utf-8")
    )
    return d


# ---------------------------------------------------------------- 1. text encodings, one reader


@pytest.mark.parametrize("name, column", [("latin1.csv", None), ("bom.csv", None), ("bom.csv", "SMILES")])
def test_encode_reads_latin1_and_bom_crlf_files(tiny_run, odd_files, tmp_path, name, column):
    extra = ["--smiles-column", column] if column else []
    res = run("encode", "-m", tiny_run, "-i", odd_files / name, *extra, "-o", tmp_path / "z.npy")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "of 5 molecules" in res.output


def test_non_ascii_smiles_is_rejected_with_its_reason_not_read_as_another_molecule(tiny_run, tmp_path):
    # RDKit reads "Cé" (a Latin-1 typo) as methane; molvae refuses it and says why
    f = tmp_path / "typo.csv"
    f.write_bytes("smiles\nCCO\nC\xe9\n".encode("latin-1"))
    res = run("encode", "-m", tiny_run, "-i", f, "-o", tmp_path / "z.npy")
    assert res.exit_code == 0, res.output
    assert "encoded 1 of 2 molecules" in res.output and "1 rejected" in res.output
    rejects = (tmp_path / "z.rejects.csv").read_text(encoding="utf-8")
    assert "non-ASCII character 'é' (U+00E9)" in rejects


def test_encode_with_a_file_name_as_argument_says_to_use_input(tiny_run, tmp_path):
    f = tmp_path / "mols.smi"
    f.write_text("CCO\n")
    res = run("encode", "-m", tiny_run, f, "-o", tmp_path / "z.npy")
    assert res.exit_code == 2 and f"-i {f}" in res.output and "is a file, not a SMILES" in res.output
    assert not (tmp_path / "z.rejects.csv").exists()


def test_evaluate_reads_a_bom_file_and_takes_smiles_column(odd_files, tmp_path):
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses(60, skip=3000)) + "\n")
    renamed = tmp_path / "gen.csv"
    renamed.write_bytes((odd_files / "bom.csv").read_bytes().replace(b"SMILES,", b"structure_smiles,"))
    res = run("evaluate", renamed, "--reference", ref, "-q", "--jobs", 1)
    assert res.exit_code == 2 and "--smiles-column" in res.output  # no silent first-column guess
    res = run("evaluate", renamed, "--smiles-column", "structure_smiles", "--reference", ref, "-q", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert re.search(r"molecules: 5 read, 5 valid", res.output)


def test_optimize_from_file_takes_smiles_column():
    names = {p.name for p in cli.commands["optimize"].params}
    assert {"starts_file", "smiles_column"} <= names


# ---------------------------------------------------------------- 3. values that are not numbers


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_condition_is_a_usage_error_and_writes_nothing(tiny_run, tmp_path, value):
    out = tmp_path / "x.csv"
    res = run("generate", "-m", tiny_run, "-n", 5, "--condition", f"qed={value}", "-o", out)
    assert res.exit_code == 2 and "finite" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_negative_temperature_is_a_usage_error(tiny_run, tmp_path):
    res = run("generate", "-m", tiny_run, "-n", 5, "--temperature", -1, "-o", tmp_path / "x.csv")
    assert res.exit_code == 2 and "--temperature" in res.output
    np.save(tmp_path / "z.npy", np.zeros((2, 8), dtype=np.float32))
    res = run("decode", "-m", tiny_run, tmp_path / "z.npy", "--temperature", -0.5)
    assert res.exit_code == 2
    res = run("generate", "-m", tiny_run, "-n", 5, "--temperature", 0, "--seed", 0, "-o", tmp_path / "g.csv")
    assert res.exit_code == 0, res.output  # 0 = greedy stays


def test_library_rejects_negative_temperature_and_nan_condition(tiny_model):
    from molvae.errors import BadInputError

    with pytest.raises(BadInputError, match="temperature"):
        tiny_model.sample(3, temperature=-1.0, seed=0)
    with pytest.raises(BadInputError, match="finite"):
        tiny_model.sample(3, condition={"qed": float("nan")}, seed=0)


# ---------------------------------------------------------------- 6. exit codes


def test_encode_exits_1_when_every_molecule_is_rejected(tiny_run, tmp_path):
    res = run("encode", "-m", tiny_run, "[Na+].[Cl-]", "not-a-smiles", "-o", tmp_path / "z.npy")
    assert res.exit_code == 1, res.output
    assert "no usable molecule" in res.output and (tmp_path / "z.rejects.csv").is_file()


# ---------------------------------------------------------------- 7. logs


def test_training_log_off_a_terminal_is_plain_lines(tmp_path):
    data = tmp_path / "m.smi"
    data.write_text("\n".join(moses(200)) + "\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "embed_dim = 8\nencoder_hidden = 16\nlatent_dim = 4\ndecoder_hidden = 16\ndecoder_layers = 1\n"
        "property_hidden = 8\nbatch_size = 4\nval_reconstruct = 4\nval_samples = 4\nn_jobs = 1\n"
    )
    res = run("train", data, "--properties", "logp", "--out", tmp_path / "run", "--config", cfg, "--epochs", 1)
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr
    assert len(res.stderr.splitlines()) < 40  # ~50 batches: a line every 10%, not one per update


# ---------------------------------------------------------------- 8. the CLI explains itself


def test_properties_command_lists_names_units_and_definitions():
    from molvae.chem.properties import PROPERTIES

    res = run("properties")
    assert res.exit_code == 0
    for name, prop in PROPERTIES.items():
        assert re.search(rf"^{name}\s+.*{re.escape(prop.description)}", res.output, re.M), name
    assert "g/mol" in res.output


def test_every_option_has_help_and_property_names_are_named():
    for name, cmd in cli.commands.items():
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, f"{name} {p.opts[0]} has no help"
    assert "molvae properties" in run("train", "--help").output
    assert "molvae properties" in run("generate", "--help").output
    assert "qed, sa" in run("train", "--help").output


def test_optimize_condition_mode_no_longer_collides_with_generate_condition():
    opts = {o for p in cli.commands["optimize"].params for o in p.opts}
    assert "--condition-mode" in opts and "--condition" not in opts


def test_evaluate_labels_property_rows_as_distances(tmp_path):
    gen = tmp_path / "g.smi"
    gen.write_text("CC(=O)O\nc1ccccc1\n")
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses(30, skip=3000)) + "\n")
    res = run("evaluate", gen, "--reference", ref, "-q", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert re.search(r"weight W1 dist\s+\d", res.output) and not re.search(r"^\s+weight\s", res.output, re.M)


# ---------------------------------------------------------------- 9. README and packaging


def test_readme_quick_start_python_prints_when_run_as_a_script(tmp_path):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(from molvae import MolVAE\n.*?)```", readme, re.S).group(1)
    script = tmp_path / "quick.py"
    script.write_text(snippet)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("[") and out.stdout.count("'") >= 2


def test_readme_says_what_evaluate_prints_for_an_empty_file(tmp_path):
    empty = tmp_path / "e.smi"
    empty.write_text("")
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses(10)) + "\n")
    res = run("evaluate", empty, "--reference", ref, "-q", "--jobs", 1)
    assert re.search(r"valid\s+n/a", res.output)  # the measurement is printed, then: nothing usable, exit 1
    assert res.exit_code == 1 and "no usable molecule: the file holds no molecules" in res.output
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (
        "an empty file gives `n/a`" in readme
        and "empty file or a file of invalid SMILES gives validity 0" not in readme
    )


def test_package_list_names_every_folder_that_ships_files():
    from setuptools import find_namespace_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {p for p in find_namespace_packages(str(ROOT), include=["molvae", "molvae.*"]) if "__pycache__" not in p}
    assert found <= listed, f"not in [tool.setuptools] packages: {sorted(found - listed)}"


def test_generate_and_evaluate_use_the_checkpoints_temperature(tiny_run, tmp_path):
    from molvae.nn import checkpoint

    payload = checkpoint.load(tiny_run / "best.ckpt")
    payload["sampling_temperature"] = 0.0
    checkpoint.save(tmp_path / "greedy.ckpt", payload)
    for name, extra in (("default", []), ("explicit", ["--temperature", 0])):
        res = run(
            "generate", "-m", tmp_path / "greedy.ckpt", "-n", 20, "--seed", 4, *extra, "-o", tmp_path / f"{name}.csv"
        )
        assert res.exit_code == 0, res.output
    assert (tmp_path / "default.csv").read_text() == (tmp_path / "explicit.csv").read_text()
    res = run("generate", "-m", tmp_path / "greedy.ckpt", "-n", 20, "--seed", 4, "-t", 1, "-o", tmp_path / "t1.csv")
    assert res.exit_code == 0 and (tmp_path / "t1.csv").read_text() != (tmp_path / "default.csv").read_text()
    res = run("evaluate", tmp_path / "default.csv", "--temperature", 0.5)
    assert res.exit_code == 2 and "--temperature needs --model" in res.output
