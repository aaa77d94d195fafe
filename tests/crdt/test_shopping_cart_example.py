"""``examples/crdt/shopping_cart.py``: the story it prints is what the ORSet does."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crdt" / "shopping_cart.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shopping_cart_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_concurrent_re_add_survives_and_a_seen_remove_deletes() -> None:
    steps, phone, laptop = _load().demo()
    assert len(steps) == 5
    assert "laptop ['milk']" in steps[2]  # Bob's remove, before he hears of the re-add
    assert steps[3].endswith("phone ['bread', 'eggs', 'milk']  laptop ['bread', 'eggs', 'milk']")
    assert phone == laptop and phone.value() == {"bread", "milk"}


def test_the_script_prints_each_step_and_that_the_replicas_agree() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert [line.split(".")[0] for line in lines[:5]] == ["1", "2", "3", "4", "5"]
    assert "the concurrent re-add survives the remove" in lines[3]
    assert lines[-1] == "the replicas agree: True"
