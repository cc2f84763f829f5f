"""Ctrl-C through the command line, as a user sends it: SIGINT to the command and its worker
processes (the whole process group). ``generate`` keeps the rows it wrote and counts them;
``optimize`` writes the best molecules found so far; both exit 130."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# The child runs the CLI with a hook that reports on stdout each chunk written (generate) or each
# call of the oracle (optimize): the test reacts to the run, not to a clock.
_CHILD = """
import sys, time
from molvae.io.writers import MoleculeWriter
from molvae.optimize.oracle import Oracle
from molvae_cli.main import main

real_write, real_evaluate = MoleculeWriter.write, Oracle.evaluate

def write_and_report(self, rows):
    n = real_write(self, rows)
    print(f"wrote {self.n}", flush=True)
    return n

def evaluate_and_report(self, *args, **kwargs):
    out = real_evaluate(self, *args, **kwargs)
    print(f"step {self.step}", flush=True)
    if self.step == 3:
        time.sleep(2)  # let the signal arrive here: one that lands in an RDKit substructure search is RDKit's
    return out

MoleculeWriter.write, Oracle.evaluate = write_and_report, evaluate_and_report
sys.argv = ["molvae"] + sys.argv[1:]
main()
"""


def _ctrl_c_after(args: list[str], ready) -> tuple[int, str]:
    """Run ``molvae ARGS`` in its own process group; send the group SIGINT once a stdout line
    satisfies ``ready``. Returns the exit code and stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sent = False
    for line in proc.stdout:
        if ready(line):
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
            break
    _, stderr = proc.communicate(timeout=300)
    assert sent, stderr
    return proc.returncode, stderr


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_ctrl_c_during_generate_keeps_the_rows_and_exits_130(tiny_run, tmp_path):
    out = tmp_path / "big.csv"
    args = ["generate", "-m", str(tiny_run), "-n", "2000000", "--seed", "0", "--jobs", "2", "-o", str(out)]
    code, stderr = _ctrl_c_after(args, lambda line: int(line.split()[1]) > 0)
    assert code == 130, stderr
    summary = re.search(
        r"sampled (\d+): wrote (\d+) valid molecules(?: \(\d+ with hydrogens restored\))? to .*?, (?:(\d+) invalid|0 invalid)",
        stderr,
    )
    assert summary, stderr
    sampled, written = int(summary.group(1)), int(summary.group(2))
    assert 0 < written == len(_rows(out)) and sampled < 2_000_000
    assert f"interrupted by SIGINT after {sampled} samples" in stderr
    assert f"holds the {written} molecules written before the stop" in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr


@pytest.mark.slow
def test_ctrl_c_during_optimize_writes_the_best_so_far_and_exits_130(tiny_run, tmp_path):
    out = tmp_path / "best.csv"
    args = ["optimize", "-m", str(tiny_run), "--maximize", "qed", "--budget", "200000", "--top", "20", "-o", str(out)]
    code, stderr = _ctrl_c_after(args, lambda line: line.startswith("step 3"))
    assert code == 130, stderr
    rows = _rows(out)
    assert len(rows) == 20 and [float(r["objective"]) for r in rows] == sorted(
        (float(r["objective"]) for r in rows), reverse=True
    )
    assert re.search(r"decoded (\d+) molecules", stderr) and "wrote 20 to" in stderr
    assert "optimisation interrupted by SIGINT" in stderr and "Traceback" not in stderr
    assert (tmp_path / "best.optimize.toml").is_file()
