"""The memory a generation needs is bounded from shapes alone, so an impossible size is refused
before compiling; a real size passes."""

import pytest

from discovery.config import apply_overrides, preset
from discovery.memory import check_fits, format_bytes, generation_bytes


def test_the_bound_grows_with_the_population_and_the_horizon():
    base = generation_bytes(preset("quickstart"))
    double = generation_bytes(apply_overrides(preset("quickstart"),
                                              ["es.population_size=32"]))
    longer = generation_bytes(apply_overrides(preset("quickstart"),
                                              ["train.total_timesteps=1536000"]))
    assert 1.5 * base["agents"] < double["agents"] <= 2 * base["agents"]
    assert double["population"] == 2 * base["population"]
    assert longer["agents"] > base["agents"]
    check_fits(preset("quickstart"))


def test_an_impossible_size_is_refused_with_the_estimate_and_the_memory(monkeypatch):
    cfg = apply_overrides(preset("quickstart"), ["es.population_size=100000000"])
    with pytest.raises(ValueError, match=r"needs at least [\d.]+ TB .* more than the [\d.]+ "
                                         r"[GMT]B of host memory"):
        check_fits(cfg)
    monkeypatch.setenv("RLDISCO_MEMORY_CHECK", "off")
    check_fits(cfg)


def test_bytes_read_as_people_write_them():
    assert [format_bytes(n) for n in (512, 2048, 3 * 2**30, 54 * 2**40)] == [
        "512 B", "2 KB", "3 GB", "54 TB"]
