"""Checkpoints: damaged steps are set aside and the newest intact one is used; a checkpoint of
another shape is refused without touching anything; read-only loading skips damage."""

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discovery.checkpoint import Checkpointer, CheckpointMismatch, load_meta_params
from discovery.es import ESConfig, make_strategy


def _es_state(size: int = 300, strategy: str = "open_es"):
    template = {"w": jnp.zeros(size), "b": jnp.zeros(3)}
    es, params = make_strategy(ESConfig(population_size=4, strategy=strategy), template)
    return es.init(jax.random.key(0), template, params)


@pytest.fixture
def three_steps(tmp_path):
    """Checkpoints 1, 2, 3 whose ES mean is filled with the step number."""
    state = _es_state()
    ckpt = Checkpointer(tmp_path / "checkpoints")
    for step in (1, 2, 3):
        s = state.replace(mean=jnp.full_like(state.mean, step))
        ckpt.save(step, s, {"w": s.mean[:300], "b": s.mean[300:]}, {"config": {"seed": 0}})
    ckpt.close()
    return tmp_path / "checkpoints"


def _truncate_data(step_dir: Path) -> None:
    for root, _, files in os.walk(step_dir / "es_state"):
        for name in files:
            if "/d" in root:
                path = Path(root) / name
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "truncated data": _truncate_data,
    "empty metadata": lambda d: (d / "meta" / "metadata").write_text(""),
    "empty array metadata": lambda d: (d / "es_state" / "_METADATA").write_text(""),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_and_is_kept_aside(
        three_steps, damage):
    DAMAGE[damage](three_steps / "3")
    messages = []
    ckpt = Checkpointer(three_steps)
    restored = ckpt.restore_intact(_es_state(), echo=messages.append)
    ckpt.close()
    assert restored.step == 2 and float(restored.es_state.mean[0]) == 2.0
    assert sorted(p.name for p in three_steps.iterdir()) == ["1", "2", "corrupt-3"]
    assert len(messages) == 1 and "checkpoint 3 is damaged" in messages[0]
    assert "corrupt-3" in messages[0]


def test_every_step_damaged_means_starting_over(three_steps):
    for step in ("1", "2", "3"):
        DAMAGE["empty metadata"](three_steps / step)
    ckpt = Checkpointer(three_steps)
    assert ckpt.restore_intact(_es_state(), echo=lambda _: None) is None
    assert ckpt.latest() is None
    ckpt.close()
    assert sorted(p.name for p in three_steps.iterdir()) == ["corrupt-1", "corrupt-2",
                                                             "corrupt-3"]


def test_a_checkpoint_of_another_shape_is_refused_and_left_alone(three_steps):
    ckpt = Checkpointer(three_steps)
    with pytest.raises(CheckpointMismatch, match="checkpoint 3 .* other shapes"):
        ckpt.restore_intact(_es_state(size=200), echo=lambda _: None)
    with pytest.raises(CheckpointMismatch):
        ckpt.restore_intact(_es_state(strategy="snes"), echo=lambda _: None)
    ckpt.close()
    assert sorted(p.name for p in three_steps.iterdir()) == ["1", "2", "3"]


def test_the_check_sees_the_newest_readable_metadata_and_its_refusal_moves_nothing(three_steps):
    seen = []

    def refuse(step, meta):
        seen.append((step, meta["config"]))
        raise ValueError("config changed")

    ckpt = Checkpointer(three_steps)
    with pytest.raises(ValueError, match="config changed"):
        ckpt.restore_intact(_es_state(), check=refuse, echo=lambda _: None)
    ckpt.close()
    assert seen == [(3, {"seed": 0})]
    assert sorted(p.name for p in three_steps.iterdir()) == ["1", "2", "3"]


def test_loading_meta_params_skips_a_damaged_step_without_moving_it(three_steps, capsys):
    DAMAGE["truncated data"](three_steps / "3")
    DAMAGE["empty metadata"](three_steps / "3")
    params, meta = load_meta_params(three_steps)
    assert meta["generation"] == 2 and np.all(params["w"] == 2.0)
    assert "checkpoint 3" in capsys.readouterr().err
    assert sorted(p.name for p in three_steps.iterdir()) == ["1", "2", "3"]
