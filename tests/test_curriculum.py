"""Discovery with a PLR level buffer end to end (a tiny `quickstart-lpo-plr`): GROOVE's
algorithmic regret reuses the reference return stored for a replayed level, a run killed
between checkpoints resumes bit-identical (buffer included), and 4 host devices equal 1.

One uninterrupted reference run in this process (checkpoint every generation, so each
generation's buffer can be read back); the killed run and the 4-device run are `rldisco
discover` subprocesses sharing the session's compilation cache.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from run_helpers import discover_keeping_every_checkpoint

from discovery.checkpoint import load_meta_params
from discovery.cli import main

pytestmark = pytest.mark.slow  # every test reads a whole discovery run (or starts one)

CONFIG = ["--preset", "quickstart-lpo-plr", "es.population_size=4", "train.num_envs=4",
          "train.num_steps=16", "train.total_timesteps=192", "train.num_minibatches=2",
          "baseline_seeds=1", "chunk=1", "checkpoint_every=1", "center_seeds=0",
          "levels.buffer_size=8", "levels.minimum_fill_ratio=0.25"]
GENERATIONS = 5
RUNNER = str(Path(__file__).with_name("fault_runner.py"))


def _subprocess(runs_dir: Path, tag: str, fault: str, *args: str,
                env: dict | None = None) -> tuple[int, str]:
    log = runs_dir / f"{tag}.log"
    proc = subprocess.run([sys.executable, RUNNER, fault, "discover", *args],
                          stdout=log.open("w"), stderr=subprocess.STDOUT,
                          env={**os.environ, **(env or {})}, timeout=600)
    return proc.returncode, log.read_text()


def _records(run: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def _carry(run: Path, step: int) -> dict:
    """The (ES state, levels state) stored at checkpoint `step`, as saved (nested dicts)."""
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore((run / "checkpoints" / str(step) / "es_state").resolve())


def _buffer(carry: dict) -> dict:
    levels = carry[1] if isinstance(carry, list | tuple) else carry["1"]
    return levels["buffer"], levels["last"]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("plr-runs")


@pytest.fixture(scope="module")
def reference(runs_dir):
    """The uninterrupted run, keeping every checkpoint."""
    assert discover_keeping_every_checkpoint("--runs-dir", str(runs_dir), "--name", "reference",
                                             *CONFIG, f"generations={GENERATIONS}") == 0
    return runs_dir / "reference"


def test_replays_reuse_the_stored_reference_return_and_new_levels_train_it(reference):
    """Generation g's buffer (checkpoint g + 1) against generation g - 1's (checkpoint g): a
    replayed batch keeps its slots' reference returns and scores them as stored reference
    minus the mean return of the two antithetic members that trained on the level; a new batch
    brings freshly trained reference returns."""
    records = _records(reference)
    kinds = [r["replayed"] for r in records]
    assert kinds[0] is False and True in kinds and kinds[1:].count(False) >= 1, kinds
    for g in range(1, GENERATIONS):
        before, _ = _buffer(_carry(reference, g))
        after, last = _buffer(_carry(reference, g + 1))
        ref_before = np.asarray(before["levels_extra"]["reference_return"])
        ref_after = np.asarray(after["levels_extra"]["reference_return"])
        fitness = np.asarray(records[g]["fitness"], np.float32)
        learned = (fitness[:2] + fitness[2:]) / np.float32(2)  # member i and i + P/2: level i
        if records[g]["replayed"]:
            slots = np.asarray(last["slots"])[:2]  # padded to the capacity with -1
            np.testing.assert_array_equal(ref_after, ref_before)  # nothing retrained
            np.testing.assert_allclose(np.asarray(after["scores"])[slots],
                                       ref_before[slots] - learned, rtol=1e-6, atol=1e-6)
        else:
            changed = np.isfinite(ref_after) & (ref_after != ref_before)  # empty slots: NaN
            assert changed.any(), g  # the new levels' reference returns went in
            assert (ref_after[changed] > 0).all()  # PPO's CartPole returns


def test_a_plr_run_killed_between_checkpoints_resumes_bit_identical(runs_dir, reference):
    run = runs_dir / "killed"
    rc, log = _subprocess(runs_dir, "killed", "kill-in-chunk:3", "--runs-dir", str(runs_dir),
                          "--name", "killed", *CONFIG, f"generations={GENERATIONS}")
    assert rc == -signal.SIGKILL, log[-3000:]
    assert main(["discover", "--resume", str(run)]) == 0
    assert _records(run) == _records(reference)
    jax.tree.map(np.testing.assert_array_equal, _carry(run, GENERATIONS),
                 _carry(reference, GENERATIONS))
    jax.tree.map(np.testing.assert_array_equal, load_meta_params(run / "checkpoints")[0],
                 load_meta_params(reference / "checkpoints")[0])


def test_a_plr_run_on_four_devices_is_bit_identical_to_one_device(runs_dir, reference):
    """Three generations with the population sharded over four forced host devices (a resume
    of a copy of the reference's config and baselines, so no baseline is recomputed)."""
    run = runs_dir / "four"
    run.mkdir()
    for name in ("config.yaml", "baselines.json"):
        if (reference / name).exists():
            (run / name).write_text((reference / name).read_text())
    rc, log = _subprocess(runs_dir, "four", "none", "--resume", str(run), "generations=3",
                          env={"XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
                                        "--xla_force_host_platform_device_count=4"})
    assert rc == 0, log[-3000:]
    assert "sharded over 4 cpu device(s)" in log
    ours, expected = _records(run), _records(reference)[:3]
    assert [r["replayed"] for r in ours] == [r["replayed"] for r in expected]
    assert [r["fitness"] for r in ours] == [r["fitness"] for r in expected]
    assert [r["level_score"] for r in ours] == [r["level_score"] for r in expected]


def test_curriculum_notebook_runs(reference, monkeypatch):
    """The notebook on the reference run: per-generation buffer plot, the buffer at every kept
    checkpoint (scores, features, stored reference returns), the top-scored levels."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("RLDISCO_RUN", str(reference))
    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "curriculum.ipynb", as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert not any(cell.get("outputs") for cell in code)  # committed with cleared outputs
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(root)}}).execute()
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in outputs)
    assert f"run {reference}: rule ta-lpo" in text and "levels: plr, score regret" in text
    assert f"generation {GENERATIONS}: " in text and "reference return mean" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # levels.png, the buffer snapshots (CartPole: nothing rendered)
