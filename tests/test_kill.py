"""A run folder that looks finished is finished: kills, Ctrl-C and stale folders.

SIGKILL at seeded random moments of `optimizer solve` (build, solve and write), then:
every folder without `.partial` has a manifest whose hashes match its files, earlier
runs are byte-identical, and the next run removes the killed run's `.partial` folder.
A first Ctrl-C while writing finishes the folder; a second aborts and discards it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.outputs.write import finish_before_interrupt, remove_stale_partials, run_folder

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _finished_runs_are_complete(results: Path) -> list[Path]:
    done = []
    for run in results.rglob("*"):
        if not run.is_dir() or run.name.endswith(".partial") or not (run / "summary.json").exists() and not (run / "manifest.json").exists():
            continue
        if run.parent.name.endswith(".partial"):
            continue
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))  # a finished run has one
        files = _digest(run)
        for name, sha in manifest["outputs"].items():
            assert files.get(name) == sha, f"{run}/{name} differs from its manifest"
        done.append(run)
    return done


def _solve_cmd(instance: Path, results: Path) -> list[str]:
    return [sys.executable, "-m", "optimizer", "solve", str(instance), "--results", str(results), "-q"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from optimizer.generate import generate_instance

    return generate_instance(tmp_path_factory.mktemp("gen"), 400, 5, table_format="csv")


def _kill_runs(instance: Path, results: Path, delays: list[float]) -> None:
    first = subprocess.run(_solve_cmd(instance, results), capture_output=True, text=True, timeout=300)
    assert first.returncode in (0, 6), first.stderr
    [earlier] = _finished_runs_are_complete(results)
    before = _digest(earlier)
    for delay in delays:
        proc = subprocess.Popen(_solve_cmd(instance, results), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        _finished_runs_are_complete(results)
        assert _digest(earlier) == before, "a killed run changed an earlier run"
    # The next run cleans up what the killed ones left.
    again = subprocess.run(_solve_cmd(instance, results), capture_output=True, text=True, timeout=300)
    assert again.returncode in (0, 6), again.stderr
    leftovers = [p for p in results.rglob("*.partial")]
    assert leftovers == [], leftovers
    _finished_runs_are_complete(results)


def test_sigkill_at_random_moments_leaves_no_finished_looking_folder(generated, tmp_path):
    rng = random.Random(20261201)
    _kill_runs(generated, tmp_path / "r", [rng.uniform(0.5, 6.0) for _ in range(4)])


@pytest.mark.slow
def test_sigkill_many_times(generated, tmp_path):
    rng = random.Random(7)
    _kill_runs(generated, tmp_path / "r", [rng.uniform(0.2, 10.0) for _ in range(25)])


def test_sigint_ends_with_a_complete_folder_or_none(generated, tmp_path):
    results = tmp_path / "r"
    rng = random.Random(3)
    for _ in range(3):
        proc = subprocess.Popen(_solve_cmd(generated, results), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(1.0, 5.0))
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert "Traceback" not in stderr
        # -2: Ctrl-C while Python was still importing, before our handlers exist (nothing started).
        assert proc.returncode in (0, 4, 6, 130, -signal.SIGINT), (proc.returncode, stderr)
        _finished_runs_are_complete(results)
    assert not [p for p in results.rglob("*.partial")]


def test_first_ctrl_c_while_writing_finishes_the_folder(tmp_path):
    with run_folder(tmp_path, "inst", run_id="r1") as partial:
        os.kill(os.getpid(), signal.SIGINT)  # deferred: the block goes on
        (partial / "a.txt").write_text("written after Ctrl-C", encoding="utf-8")
    assert (tmp_path / "inst" / "r1" / "a.txt").exists()
    assert not (tmp_path / "inst" / "r1.partial.pid").exists()


def test_second_ctrl_c_aborts_and_discards(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with run_folder(tmp_path, "inst", run_id="r2") as partial:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            (partial / "never.txt").write_text("x", encoding="utf-8")
    assert list((tmp_path / "inst").iterdir()) == []


def test_stale_partial_of_a_dead_process_is_removed_live_one_kept(tmp_path):
    folder = tmp_path / "inst"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / "old.partial").mkdir()
    (folder / "old.partial.pid").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}), encoding="utf-8")
    (folder / "live.partial").mkdir()
    (folder / "live.partial.pid").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}), encoding="utf-8")
    removed = remove_stale_partials(folder)
    assert [p.name for p in removed] == ["old.partial"]
    assert (folder / "live.partial").exists() and not (folder / "old.partial").exists()


def test_deferral_only_in_the_main_thread():
    import threading

    seen = []

    def worker() -> None:
        with finish_before_interrupt("x"):
            seen.append(True)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [True]
