"""Schedule the heaviest test files first.

CI runs the suite on two xdist workers that take whole files (`--dist loadfile`) in collection
order, so a heavy file collected last runs alone at the end. Sorting files by their rough cost
(seconds on 2 CPU cores, measured with `pytest --durations=0`; order matters, not the values)
keeps both workers busy until the end. Tests inside a file keep their order.
"""

from __future__ import annotations

FILE_COST = {
    "test_lpg_discovery.py": 215,
    "test_discovery.py": 190,
    "test_learning.py": 115,
    "test_trainer.py": 105,
    "test_evaluate.py": 75,
    "test_discovery_resume.py": 60,
    "test_brax_env.py": 45,
    "test_manipulation.py": 45,
    "test_gridworld.py": 40,
    "test_lpg.py": 35,
    "test_lpg_analysis.py": 20,
}


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: -FILE_COST.get(item.path.name, 0))  # stable: file order kept
