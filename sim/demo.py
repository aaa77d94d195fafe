"""A small story told without the network: two replicas diverge, then merge.

>>> print(diverge_and_merge())  # doctest: +ELLIPSIS
replica a: {'eggs', 'milk'}...
"""

from __future__ import annotations

from crdt import GCounter, ORSet


def _show(value: object) -> str:
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(repr(v) for v in sorted(value, key=repr)) + "}"
    return repr(value)


def diverge_and_merge() -> str:
    """Two replicas update a cart and a counter independently, then exchange states."""
    cart_a = ORSet().add("a", "milk").add("a", "eggs")
    cart_b = cart_a.remove("b", "eggs").add("b", "tea")  # b starts from a's state
    cart_a = cart_a.add("a", "eggs")  # concurrent re-add: add wins over b's remove
    visits_a = GCounter().increment("a", 3)
    visits_b = GCounter().increment("b", 2)
    merged_cart, merged_visits = cart_a.merge(cart_b), visits_a.merge(visits_b)
    assert merged_cart == cart_b.merge(cart_a) and merged_visits == visits_b.merge(visits_a)
    lines = [
        f"replica a: {_show(cart_a.value())}, visits={visits_a.value()}",
        f"replica b: {_show(cart_b.value())}, visits={visits_b.value()}",
        f"merged:    {_show(merged_cart.value())}, visits={merged_visits.value()}"
        "  (the same on both replicas, whatever the merge order)",
    ]
    return "\n".join(lines)
