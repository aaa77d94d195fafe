"""crdt: pure, immutable conflict-free replicated data types.

No simulator, no SimPy, no I/O, no wall clock: values, clocks and laws only.
"""

from crdt.base import Crdt, Op
from crdt.clocks import CausalContext, Dot, Ordering, VersionVector
from crdt.codec import decode, encode, from_bytes, size, to_bytes
from crdt.errors import CrdtError, DecodeError, InvalidOperationError, TypeMismatchError
from crdt.gcounter import GCounter

__all__ = [
    "Crdt",
    "Op",
    "Dot",
    "Ordering",
    "VersionVector",
    "CausalContext",
    "encode",
    "decode",
    "to_bytes",
    "from_bytes",
    "size",
    "CrdtError",
    "DecodeError",
    "InvalidOperationError",
    "TypeMismatchError",
    "GCounter",
]
