"""The CPU presets of environment design, each run whole as a user runs it (`rldisco discover
--preset NAME`): GROOVE's curriculum over grid-worlds (`quickstart-groove`), a PLR buffer over
CartPole physics (`quickstart-lpo-plr`) and robust discovery (`quickstart-robust`). Each checks
what the run leaves behind: every generation logged, the level source's own state doing what
it should, a final score and the plots. (The mechanics are tested on tiny configs elsewhere.)
"""

import json
import math
from pathlib import Path

import pytest

from discovery.cli import main
from discovery.config import preset

pytestmark = pytest.mark.slow


def _discover(tmp_path: Path, name: str) -> tuple[Path, list[dict]]:
    assert main(["discover", "--preset", name, "--name", name,
                 "--runs-dir", str(tmp_path)]) == 0
    run = tmp_path / name
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["generation"] for r in rows] == list(range(preset(name).generations))
    assert all(r["nonfinite"] == 0 for r in rows)
    assert (run / "plots" / "fitness.png").is_file()
    result = json.loads((run / "result.json").read_text())
    assert result["generation"] == len(rows)
    assert math.isfinite(result["final_center_fitness"])
    return run, rows


def _check_buffer(run: Path, rows: list[dict], name: str) -> None:
    """The PLR buffer fills past its minimum, then replays; its top levels are written out."""
    levels = preset(name).levels
    fill = [r["buffer"]["fill_ratio"] for r in rows]
    assert all(b >= a for a, b in zip(fill, fill[1:], strict=False))  # levels are never lost
    assert fill[-1] >= levels.minimum_fill_ratio
    assert any(r["replayed"] for r in rows)
    assert all(math.isfinite(r["level_score"]) for r in rows)
    top = json.loads((run / "levels" / "top.json").read_text())
    assert top and all(math.isfinite(level["score"]) for level in top)
    assert [level["score"] for level in top] == sorted((lv["score"] for lv in top),
                                                       reverse=True)
    assert (run / "plots" / "levels.png").is_file()


def test_quickstart_groove_end_to_end(tmp_path):
    run, rows = _discover(tmp_path, "quickstart-groove")
    _check_buffer(run, rows, "quickstart-groove")
    top = json.loads((run / "levels" / "top.json").read_text())
    assert all(math.isfinite(level["reference_return"]) for level in top)  # A2C's, per level


def test_quickstart_lpo_plr_end_to_end(tmp_path):
    run, rows = _discover(tmp_path, "quickstart-lpo-plr")
    _check_buffer(run, rows, "quickstart-lpo-plr")


def test_quickstart_robust_end_to_end(tmp_path):
    run, rows = _discover(tmp_path, "quickstart-robust")
    levels = preset("quickstart-robust").levels
    models = [r["iwocs"]["models"] for r in rows]
    # one model added by each search (every `search_every` generations, from generation 0)
    expected = [min(1 + g // levels.search_every + 1, levels.set_size) for g in range(len(rows))]
    assert models == expected
    estimates = [r["iwocs"]["estimate"] for r in rows]
    assert all(b <= a for a, b in zip(estimates, estimates[1:], strict=False))
    assert all(r["center_fitness"] <= r["iwocs"]["nominal"] + 1e-6 for r in rows)
    assert (run / "plots" / "worst_case_set.png").is_file()
