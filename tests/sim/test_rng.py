import random

from hypothesis import given
from hypothesis import strategies as st

from sim.rng import RngRegistry, derive_rng


@given(st.integers(min_value=0, max_value=2**64), st.text(min_size=1, max_size=20))
def test_same_seed_and_name_same_stream(seed: int, name: str) -> None:
    assert derive_rng(seed, name).random() == derive_rng(seed, name).random()


def test_streams_are_independent_of_each_other() -> None:
    a = RngRegistry(5)
    first = [a("x").random() for _ in range(3)]
    b = RngRegistry(5)
    b("y").random()  # using another stream does not shift "x"
    assert [b("x").random() for _ in range(3)] == first
    assert RngRegistry(6)("x").random() != first[0]


def test_sim_never_uses_the_global_random_functions() -> None:
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "sim"
    pattern = re.compile(r"\brandom\.(random|uniform|choice|shuffle|seed|randint|gauss)\(")
    offenders = [p.name for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
    assert isinstance(derive_rng(1, "x"), random.Random)
