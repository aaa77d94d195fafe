"""crdt: pure, immutable conflict-free replicated data types.

No simulator, no SimPy, no I/O, no wall clock: values, clocks and laws only. Importing the
package registers every type with :mod:`crdt.codec`, so any encoded value can be decoded.
"""

from crdt.base import Crdt, Op
from crdt.causalcounter import CausalCounter
from crdt.clocks import CausalContext, Dot, Ordering, VersionVector
from crdt.codec import decode, encode, fingerprint, from_bytes, size, to_bytes
from crdt.errors import CrdtError, DecodeError, InvalidOperationError, TypeMismatchError
from crdt.flags import DWFlag, EWFlag
from crdt.gcounter import GCounter
from crdt.gset import GSet
from crdt.lwwmap import LWWMap
from crdt.lwwregister import LWWRegister
from crdt.mvregister import MVRegister
from crdt.ormap import ORMap
from crdt.orset import ORSet
from crdt.pncounter import PNCounter
from crdt.twopset import TwoPSet

__all__ = [
    # the shape of every type, and errors
    "Crdt",
    "Op",
    "CrdtError",
    "DecodeError",
    "InvalidOperationError",
    "TypeMismatchError",
    # clocks
    "Dot",
    "Ordering",
    "VersionVector",
    "CausalContext",
    # encoding
    "encode",
    "decode",
    "to_bytes",
    "from_bytes",
    "size",
    "fingerprint",
    # types
    "GCounter",
    "PNCounter",
    "GSet",
    "TwoPSet",
    "ORSet",
    "LWWRegister",
    "MVRegister",
    "LWWMap",
    "ORMap",
    "EWFlag",
    "DWFlag",
    "CausalCounter",
]
