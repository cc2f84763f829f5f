"""Progress lines report the time the work took and a rate it reached."""

from __future__ import annotations

import io
import re
import time

from molvae.runtime.progress import LineProgress, format_seconds, progress_bar


def _rate_and_seconds(line: str) -> tuple[float, float]:
    m = re.search(r", ([\d.]+) \w+/s, ([\d.]+) s$", line)
    assert m, line
    return float(m.group(1)), float(m.group(2))


def test_work_done_before_the_counter_is_counted():
    """1,000 molecules done in 2 s before the counter was made are 500/s over 2 s, not 1,000 in no time."""
    out = io.StringIO()
    bar = LineProgress(total=1000, desc="generating", unit="mol", file=out, started=time.monotonic() - 2.0)
    bar.update(1000)
    bar.close()
    rate, seconds = _rate_and_seconds(out.getvalue().splitlines()[-1])
    assert 2.0 <= seconds < 3.0
    assert 300 < rate <= 500


def test_short_runs_are_not_reported_as_zero_seconds():
    assert format_seconds(0.4) == "0.4 s" and format_seconds(3.26) == "3.3 s" and format_seconds(42.4) == "42 s"
    out = io.StringIO()
    bar = LineProgress(total=10, desc="work", unit="mol", file=out, started=time.monotonic() - 0.3)
    bar.update(10)
    bar.close()
    assert not out.getvalue().rstrip().endswith(" 0 s")


def test_progress_bar_passes_the_start_on(capsys):
    with progress_bar(100, "work", unit="mol", started=time.monotonic() - 1.0) as bar:
        bar.update(100)
    rate, seconds = _rate_and_seconds(capsys.readouterr().err.strip().splitlines()[-1])
    assert seconds >= 1.0 and rate <= 100


def test_generation_progress_rate_is_one_the_run_reached(tiny_model, tmp_path, capsys):
    start = time.perf_counter()
    res = tiny_model.generate_to_file(tmp_path / "g.csv", 600, seed=0, batch_size=64, n_jobs=1, progress=True)
    wall = time.perf_counter() - start
    rate, seconds = _rate_and_seconds(capsys.readouterr().err.strip().splitlines()[-1])
    assert res.n_sampled == 600
    assert seconds <= wall + 0.1
    assert rate <= 600 / wall * 1.5  # the whole run's rate, not that of the part after the first chunk
