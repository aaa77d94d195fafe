"""The classic OR-Set shopping cart: two replicas, a remove and a concurrent re-add.

Alice's phone and Bob's laptop each hold a replica of one cart (an :class:`crdt.ORSet`). They
edit it while apart and merge when they meet. Bob removes the eggs while Alice, not having
seen that remove, adds eggs again: the add wins, because a remove deletes only the adds it has
seen. A later remove that has seen Alice's add does delete them. Merging is a join, so the
order of the merges never matters and both replicas end with the same cart.

    python examples/crdt/shopping_cart.py
"""

from __future__ import annotations

from crdt import ORSet


def _show(step: str, phone: ORSet, laptop: ORSet) -> str:
    return f"{step:<62} phone {sorted(phone.value())}  laptop {sorted(laptop.value())}"


def demo() -> tuple[list[str], ORSet, ORSet]:
    """Run the story; returns the printed steps and the two final replicas."""
    steps = []
    phone = ORSet().add("alice", "milk").add("alice", "eggs")
    laptop = ORSet()
    steps.append(_show("1. Alice adds milk and eggs on her phone", phone, laptop))
    laptop = laptop.merge(phone)
    steps.append(_show("2. the laptop syncs with the phone", phone, laptop))
    laptop = laptop.remove("bob", "eggs")
    phone = phone.add("alice", "eggs").add("alice", "bread")
    steps.append(_show("3. offline: Bob removes eggs; Alice re-adds eggs, adds bread", phone, laptop))
    phone, laptop = phone.merge(laptop), laptop.merge(phone)
    steps.append(_show("4. they sync: the concurrent re-add survives the remove", phone, laptop))
    laptop = laptop.remove("bob", "eggs")
    phone, laptop = phone.merge(laptop), laptop.merge(phone)
    steps.append(_show("5. Bob removes eggs again, having seen the re-add; sync", phone, laptop))
    return steps, phone, laptop


def main() -> int:
    steps, phone, laptop = demo()
    print("\n".join(steps))
    print("the replicas agree:", phone == laptop)
    return 0 if phone == laptop else 1


if __name__ == "__main__":
    raise SystemExit(main())
