"""What a resume may change: how far and how often to save, yes; anything that alters results
only when asked, and then on the record."""

import pytest

from discovery.config import preset
from discovery.config_change import ConfigChangeError, change_record, check_config_change

STORED = preset("quickstart").to_dict()


def _changed(**sections):
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in STORED.items()}
    for key, value in sections.items():
        section, _, field = key.partition("__")
        if field:
            d[section][field] = value
        else:
            d[section] = value
    return d


def test_extending_a_run_or_saving_more_often_is_safe():
    changes = check_config_change(STORED, _changed(generations=40, checkpoint_every=3),
                                  step=8, allow=False, source="config.yaml")
    assert changes == {"checkpoint_every": (1, 3), "generations": (16, 40)}
    assert change_record(8, changes)["results_may_differ"] == []


def test_a_change_that_alters_results_is_refused_naming_each_field():
    with pytest.raises(ConfigChangeError) as refused:
        check_config_change(STORED, _changed(es__sigma=0.2, es__population_size=8, chunk=1),
                            step=8, allow=False, source="runs/x/config.yaml")
    message = str(refused.value)
    assert message.startswith("runs/x/config.yaml differs from checkpoint 8 in chunk (4 -> 1), "
                              "es.population_size (16 -> 8), es.sigma (0.1 -> 0.2)")
    assert "--allow-config-change" in message and "\n" not in message


def test_an_allowed_change_is_returned_for_the_record():
    changes = check_config_change(STORED, _changed(es__sigma=0.2), step=8, allow=True,
                                  source="c")
    assert changes == {"es.sigma": (0.1, 0.2)}
    assert change_record(8, changes)["results_may_differ"] == ["es.sigma"]


def test_generations_below_the_checkpoint_are_refused_even_when_allowed():
    with pytest.raises(ConfigChangeError, match="generations=4 is below the checkpoint's "
                                                "generation 8"):
        check_config_change(STORED, _changed(generations=4), step=8, allow=True, source="c")


def test_a_checkpoint_without_a_stored_config_checks_nothing():
    assert check_config_change(None, _changed(seed=3), step=8, allow=False, source="c") == {}
