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

