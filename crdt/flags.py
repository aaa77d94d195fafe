"""Enable-wins and disable-wins flags: a dot set plus a causal context.

The *winning* action makes a new dot; the other removes the dots it has observed, so when both
happen concurrently the new dot survives the removal.

>>> on = EWFlag().enable("a")
>>> off, again = on.disable("a"), on.enable("b")     # concurrent disable and enable
>>> off.merge(again).value()                          # enable wins
True
>>> off.merge(again) == again.merge(off)
True
>>> d = DWFlag().disable("a").enable("a")             # DWFlag starts enabled (no dots)
>>> d.merge(d.disable("b")).value(), d.merge(DWFlag().disable("b")).value()
(False, False)

``EWFlag.value()`` is True when some enable dot remains; it starts disabled. ``DWFlag.value()``
is True when no disable dot remains, so a fresh DWFlag is *enabled* (the paper's convention:
the bottom state holds no dots). Repeating the winning action is a change (a new dot that a
concurrent opposite action has not seen); the losing action on a flag with no dots is a no-op
(``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

from crdt.base import Op
from crdt.clocks import CausalContext, Dot
from crdt.codec import register
from crdt.dotstore import (
    CausalCrdt,
    context_of,
    context_repr,
    decode_dot,
    decode_dots,
    dots_repr,
    encode_dots,
    join_dot_sets,
    next_dot,
)
from crdt.errors import DecodeError

__all__ = ["EWFlag", "DWFlag", "FlagUpdate"]

_NO_DOTS: frozenset[Dot] = frozenset()


@dataclass(frozen=True, slots=True)
class FlagUpdate(Op):
    """Drop the ``observed`` dots and, for the winning action, add the new ``dot``."""

    dot: Dot | None
    observed: frozenset[Dot]

    def to_data(self) -> Any:
        return {
            "flag": [None if self.dot is None else self.dot.to_data(), encode_dots(self.observed)]
        }


class _DotSetFlag(CausalCrdt[bool]):
    """A flag over a dot set; subclasses say which action makes a dot."""

    __slots__ = ()

    store: frozenset[Dot]

    @classmethod
    def _empty_store(cls) -> frozenset[Dot]:
        return _NO_DOTS

    @classmethod
    def _join_stores(
        cls, a: frozenset[Dot], ca: CausalContext, b: frozenset[Dot], cb: CausalContext
    ) -> frozenset[Dot]:
        return join_dot_sets(a, ca, b, cb)

    @classmethod
    def _store_dots(cls, store: frozenset[Dot]) -> Iterator[Dot]:
        return iter(store)

    @classmethod
    def _store_to_data(cls, store: frozenset[Dot]) -> Any:
        return encode_dots(store)

    @classmethod
    def _store_from_data(cls, data: Any) -> frozenset[Dot]:
        return decode_dots(cls.type_name, data)

    def __repr__(self) -> str:
        dots, context = dots_repr(self.store), context_repr(self.context)
        return f"{self.type_name}({self.value()}, dots=[{dots}], context={context})"

    # The winning action: a new dot replaces the observed ones.
    def _win(self, replica: str) -> Self:
        dot, context = next_dot(self.context, replica)
        return self._of(frozenset((dot,)), context)

    def _win_delta(self, replica: str) -> Self:
        dot = self.context.next_dot(replica)
        return self._of(frozenset((dot,)), context_of([*self.store, dot]))

    def _prepare_win(self, replica: str) -> FlagUpdate:
        return FlagUpdate(self.context.next_dot(replica), self.store)

    # The losing action: drop the observed dots; nothing to do when there are none.
    def _lose(self, replica: str) -> Self:
        return self._of(_NO_DOTS, self.context) if self.store else self

    def _lose_delta(self, replica: str) -> Self | None:
        return self._of(_NO_DOTS, context_of(self.store)) if self.store else None

    def _prepare_lose(self, replica: str) -> FlagUpdate | None:
        return FlagUpdate(None, self.store) if self.store else None

    def effect(self, op: Op) -> Self:
        self._expect_op(op, FlagUpdate)
        assert isinstance(op, FlagUpdate)
        dots = op.observed if op.dot is None else op.observed | {op.dot}
        store = frozenset((op.dot,)) if op.dot is not None else _NO_DOTS
        return self._merge_delta(store, context_of(dots))

    @classmethod
    def op_from_data(cls, data: Any) -> FlagUpdate:
        if isinstance(data, dict) and set(data) == {"flag"}:
            args = data["flag"]
            if isinstance(args, list) and len(args) == 2:
                dot = None if args[0] is None else decode_dot(cls.type_name, args[0])
                return FlagUpdate(dot, decode_dots(cls.type_name, args[1]))
        raise DecodeError(cls.type_name, "expected {flag: [dot or null, [dots]]}", data)


@register
class EWFlag(_DotSetFlag):
    """Enable-wins flag: ``enable`` makes a dot, ``disable`` drops the observed ones."""

    type_name = "EWFlag"
    kind = "flag"
    operations = ("enable", "disable")
    op_types = (FlagUpdate,)
    __slots__ = ()

    @classmethod
    def _store_value(cls, store: frozenset[Dot]) -> bool:
        return bool(store)

    def enable(self, replica: str) -> EWFlag:
        """Enable the flag at ``replica``."""
        return self._win(replica)

    def enable_delta(self, replica: str) -> EWFlag:
        """The delta of :meth:`enable` (merged in, it gives the same result)."""
        return self._win_delta(replica)

    def prepare_enable(self, replica: str) -> FlagUpdate:
        """The op of :meth:`enable`, applied by :meth:`effect`."""
        return self._prepare_win(replica)

    def disable(self, replica: str) -> EWFlag:
        """Disable the flag at ``replica``."""
        return self._lose(replica)

    def disable_delta(self, replica: str) -> EWFlag | None:
        """The delta of :meth:`disable` (merged in, it gives the same result); ``None`` when nothing changes."""
        return self._lose_delta(replica)

    def prepare_disable(self, replica: str) -> FlagUpdate | None:
        """The op of :meth:`disable`, applied by :meth:`effect`; ``None`` when nothing changes."""
        return self._prepare_lose(replica)


@register
class DWFlag(_DotSetFlag):
    """Disable-wins flag: ``disable`` makes a dot, ``enable`` drops the observed ones."""

    type_name = "DWFlag"
    kind = "flag"
    operations = ("enable", "disable")
    op_types = (FlagUpdate,)
    __slots__ = ()

    @classmethod
    def _store_value(cls, store: frozenset[Dot]) -> bool:
        return not store

    def disable(self, replica: str) -> DWFlag:
        """Disable the flag at ``replica``."""
        return self._win(replica)

    def disable_delta(self, replica: str) -> DWFlag:
        """The delta of :meth:`disable` (merged in, it gives the same result)."""
        return self._win_delta(replica)

    def prepare_disable(self, replica: str) -> FlagUpdate:
        """The op of :meth:`disable`, applied by :meth:`effect`."""
        return self._prepare_win(replica)

    def enable(self, replica: str) -> DWFlag:
        """Enable the flag at ``replica``."""
        return self._lose(replica)

    def enable_delta(self, replica: str) -> DWFlag | None:
        """The delta of :meth:`enable` (merged in, it gives the same result); ``None`` when nothing changes."""
        return self._lose_delta(replica)

    def prepare_enable(self, replica: str) -> FlagUpdate | None:
        """The op of :meth:`enable`, applied by :meth:`effect`; ``None`` when nothing changes."""
        return self._prepare_lose(replica)
