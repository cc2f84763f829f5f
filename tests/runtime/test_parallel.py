"""The one process-pool helper and the progress lines written when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

from molvae.runtime.parallel import executor, pmap, resolve_jobs
from molvae.runtime.progress import LineProgress, progress_bar


def _square(x: int) -> int:
    return x * x


def test_pmap_keeps_order_in_a_pool_and_in_process():
    items = list(range(50))
    assert pmap(_square, items, 2, serial_below=2) == [x * x for x in items]
    assert pmap(_square, items, 1) == [x * x for x in items]


def test_resolve_jobs():
    assert resolve_jobs(3) == 3
    assert resolve_jobs(None) >= 1 and resolve_jobs(0) == resolve_jobs(None)


def test_line_progress_writes_a_few_plain_lines_not_carriage_returns():
    out = io.StringIO()
    bar = LineProgress(total=10_000, desc="generating", unit="mol", file=out, seconds=3600)
    for _ in range(10_000):
        bar.update(1)
    bar.close()
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 5 <= len(lines) <= 11  # every 10% at most, one at the end
    assert lines[-1].startswith("generating: 10000/10000 mol (100%)")


def test_progress_bar_is_plain_lines_when_stderr_is_not_a_terminal(capsys):
    with progress_bar(100, "work", unit="mol") as bar:  # pytest's captured stderr is not a terminal
        for _ in range(100):
            bar.update(1)
    err = capsys.readouterr().err
    assert "\r" not in err and "work: 100/100 mol (100%)" in err


def test_line_progress_postfix_shows_values_not_tqdm_options():
    out = io.StringIO()
    bar = LineProgress(total=10, desc="optimize", unit="mol", file=out, seconds=3600)
    bar.set_postfix(best="0.95", refresh=False)
    bar.update(10)
    bar.close()
    assert "optimize [best=0.95]: 10/10 mol (100%)" in out.getvalue() and "refresh" not in out.getvalue()


def _policy_of_a_fresh_process(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True
    )


def test_importing_molvae_makes_idle_openmp_threads_sleep_unless_told_otherwise():
    show = "import os, molvae; print(os.environ['OMP_WAIT_POLICY'])"
    assert _policy_of_a_fresh_process(show).stdout.strip() == "PASSIVE"
    assert _policy_of_a_fresh_process(show, OMP_WAIT_POLICY="ACTIVE").stdout.strip() == "ACTIVE"  # the user's wins


def test_torch_imported_first_is_named_as_the_reason_for_spinning_threads():
    load = "import {first}; from molvae import MolVAE; MolVAE.pretrained(device='cpu')"
    late = _policy_of_a_fresh_process(load.format(first="torch"))
    assert "torch was imported before molvae" in late.stderr and "OMP_WAIT_POLICY=PASSIVE" in late.stderr
    assert "torch was imported" not in _policy_of_a_fresh_process(load.format(first="molvae")).stderr


def _pid(_: int) -> int:
    return os.getpid()


def test_workers_leave_sigint_to_the_main_process():
    """Ctrl-C reaches every process of the group: a worker that died of it would break the pool."""
    with executor(2) as pool:
        pids = set(pool.map(_pid, range(8)))
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.5)  # a worker that did not ignore it has died by now
        for pid in pids:
            os.kill(pid, 0)  # still alive (ProcessLookupError otherwise)
        assert list(pool.map(_square, range(8))) == [x * x for x in range(8)]  # and the pool still works
