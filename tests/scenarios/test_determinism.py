"""Same scenario and seed, same trace digest, in any process.

Two fresh interpreters with different ``PYTHONHASHSEED`` (so set and string-hash order
differ) each run every bundled scenario, one after another, and print its trace digest; the two
lists must agree. To keep this cheap the quiet phase is cut to a few ticks: the workload, the
faults and the first ticks of repair all run as written, so the digest still covers the whole
schedule up to then (a scenario that no longer quiesces in time still has a digest). A scenario
that ``bundled_runs.REDUCED`` lists runs at the node count given there, as its expectation does,
and gossip-1000 at 250 nodes: gossip-100k at full size would cost each process minutes, and
gossip-1000's counters hold an entry per node, so its cost grows with the square of its size.
Where the schedule could depend on hash order (peer choice, message order) is the same code at
a few hundred nodes as at many thousands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bundled_runs import REDUCED, bundled_paths

QUIET_TICKS = 5
#: the sizes the scenarios run at here, where they differ from their files'
SIZES = {**REDUCED, "gossip-1000": {"n": 250}}

PROGRAM = """
import json, sys
from sim.scenario import Scenario, run_scenario

digests = {}
for name, (path, zones) in json.loads(sys.argv[1]).items():
    data = Scenario.from_yaml(path).data
    data["zones"] = zones or data["zones"]
    data["quiet_max"] = min(data.get("quiet_max", 1000), int(sys.argv[2]))
    run = run_scenario(Scenario.from_data(data))
    digests[name] = [run.result.trace_digest, run.result.trace_events]
print(json.dumps(digests))
"""


def test_same_seed_gives_the_same_digest_under_any_hash_seed() -> None:
    # about 4 s of CPU in each of the two processes
    paths = json.dumps({name: [str(path), SIZES.get(name)] for name, path in bundled_paths().items()})
    procs = [subprocess.Popen([sys.executable, "-c", PROGRAM, paths, str(QUIET_TICKS)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
             for seed in ("0", "4242")]
    outputs = [p.communicate(timeout=1800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert sorted(first) == sorted(bundled_paths())
    assert first == second
    # a digest that ignored the run would agree too: distinct scenarios must give distinct digests
    digests = [digest for digest, _ in first.values()]
    assert len(set(digests)) == len(digests) and all(events > 0 for _, events in first.values())
