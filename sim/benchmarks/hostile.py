"""Hostile scenario files by class, and mutations of the bundled scenarios.

``crdtsim bench hostile`` runs every case as ``crdtsim run FILE --out RUN`` in its own process and
prints, by class, how many were refused with exit 2, how many left anything behind or printed
more than one line, and the worst wall time, CPU time and peak memory of a refused case. The
fuzz test (``tests/scenarios/test_hostile_input.py``) uses the same cases in-process.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

#: values of the wrong type or out of range, tried at every path of every bundled scenario
WRONG_VALUES: list[Any] = [None, True, -1, 0, 1.5, 10**30, math.nan, math.inf, "x", "", [], {}, [[1]], {"a": {"b": 1}},
                           "\x00\x1b[31m", "../../etc", "/abs/path", "9" * 400, -1e308]

Path_ = tuple[Any, ...]


def bundled() -> dict[str, dict[str, Any]]:
    """Every bundled scenario's data, by name."""
    from sim.cli import bundled as files

    return {name: yaml.safe_load(path.read_text(encoding="utf-8")) for name, path in files().items()}


def paths(data: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path in ``data``, parents before children."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


def replaced(data: Any, path: Path_, value: Any) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced by ``value``."""
    if not path:
        return value
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)


def _bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [x, y, z]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append(f"zones: {{dc: 3}}\nname: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def _numbers() -> Iterator[tuple[str, str]]:
    quick = "zones: {dc: 3}\ndata: {keys: {k: GCounter}}\n"
    yield "zones-1e6", "zones: {dc: 1000000}\n"
    yield "zones-1e9", "zones: {dc: 1000000000}\n"
    yield "zones-float-1e9", "zones: {dc: 1.0e+9}\n"
    yield "zones-many", "zones:\n" + "".join(f"  z{i}: 2000\n" for i in range(10))
    yield "complete-5000", "zones: {dc: 5000}\n"
    yield "rate-1e12", quick + "workload: {rate: 1e12/s}\n"
    yield "rate-1e12-float", quick + "workload: {rate: 1.0e+12/s}\n"
    yield "duration-1e9", quick + "duration: 1e9s\n"
    yield "duration-inf", quick + "duration: .inf\n"
    yield "tick-1e-300", quick + "tick: 1e-300s\n"
    yield "tick-1e-99", quick + "tick: 1e-99s\n"
    yield "quiet-max-1e9", quick + "quiet_max: 1000000000\n"
    yield "nemesis-inf", quick + "nemesis: {rate: .inf}\n"
    yield "nemesis-1e6", quick + "nemesis: {rate: 1e6/s}\n"
    yield "session-ttl-0", "zones: {db: 1, server: 1, client: 2}\napp: {spec: todo, session_ttl: 0s}\n"
    yield "session-ttl-tiny", "zones: {db: 1, server: 1, client: 2}\napp: {spec: todo, session_ttl: 1e-9s}\n"
    yield "app-clients-1e8", "zones: {db: 1, server: 1, client: 100000000}\napp: {spec: todo}\n"
    yield "entities-rate", "zones: {dc: 3}\nentities: [{id: c, example: counter, rate: 1e9/s}]\n"
    yield "fanout-huge", quick + "data: {options: {state: {fanout: 1000000000}}, keys: {k: GCounter}}\n"
    yield "lognormal-mu", "zones: {dc: 3}\nlinks: {default: {latency: {lognormal: {mu: 1e300, sigma: 1}}}}\n"
    yield "pareto-shape", "zones: {dc: 3}\nlinks: {default: {latency: {pareto: {scale: 1ms, shape: 1e-300}}}}\n"
    yield "grid-cols", "zones: {dc: 3}\ntopology: [{zone: dc, kind: grid, params: {cols: 1000000000}}]\n"
    yield "regular-d", "zones: {dc: 9000}\ntopology: [{zone: dc, kind: random_regular, params: {d: 8000}}]\n"


def _negative_and_nan() -> Iterator[tuple[str, str]]:
    quick = "zones: {dc: 3}\ndata: {keys: {k: GCounter}}\n"
    for key, value in [("warmup", ".nan"), ("warmup", "-1s"), ("duration", "-5s"), ("tick", "-1ms"),
                       ("quiet_max", "-1"), ("seed", "-1"), ("seed", ".nan")]:
        yield f"{key}-{value}", quick + f"{key}: {value}\n"
    for fault in ["{at: 1s, clock: dc-1, skew: .nan}", "{at: 1s, clock: dc-1, drift: .inf}",
                  "{at: -1s, crash: dc-1}", "{at: 1s, loss_burst: dc-1, to: dc-2, loss: .nan, duration: 1s}"]:
        yield f"fault-{fault}", quick + f"faults: [{fault}]\n"
    yield "reads-nan", quick + "workload: {rate: 5/s, reads: .nan}\n"
    yield "loss-nan", quick + "links: {default: {loss: .nan}}\n"
    yield "latency-negative", quick + "links: {default: {latency: {normal: {mean: 5ms, std: -1ms}}}}\n"
    yield "latency-unitless", quick + "links: {default: {latency: {exponential: {mean: 20}}}}\n"
    yield "rate-unitless", quick + "workload: {rate: 20}\n"
    yield "min-cap-negative", quick + "workload: {write: {majority: {min_cap: -1}}}\n"
    yield "option-wrong", quick.replace("data: {keys: {k: GCounter}}",
                                        "data: {options: {op: {retransmit: false}}, keys: {k: GCounter}}")
    yield "option-mode", quick.replace("data: {keys: {k: GCounter}}",
                                       "data: {options: {state: {mode: sideways}}, keys: {k: GCounter}}")


def _ids() -> Iterator[tuple[str, str]]:
    for node in ["../x", "/tmp/abs", "a/b", "..", "a\x07b", "a\u202eb", "-rf", ".hidden", "x" * 100]:
        quoted = yaml.safe_dump(node).strip().removesuffix("...").strip()
        yield f"node-{node[:10]!r}", f"zones: {{dc: [{quoted}, ok-1]}}\n" \
                                     f"entities: [{{id: c, example: counter, journal: sqlite}}]\n"
        yield f"entity-{node[:10]!r}", f"zones: {{dc: 2}}\nentities: [{{id: {quoted}, example: counter, " \
                                       f"journal: sqlite}}]\n"
        yield f"zone-{node[:10]!r}", f"zones: {{{quoted}: 2}}\n"
    yield "client-store-escape", "zones: {db: 1, server: 1, client: ['../../x']}\napp: {spec: todo, storage: " \
                                 "{client: sqlite}}\n"


def _app() -> Iterator[tuple[str, str]]:
    base = "zones: {db: 1, server: 1, client: 3}\n"
    apps = [
        "app: [1, 2]", "app: {spec: nope}", "app: {spec: todo, variant: {nope: 1}}",
        "app: {spec: todo, variant: {filter_rule: nope}}", "app: {spec: todo, todos: [{at: 1s}]}",
        "app: {spec: todo, todos: [{at: 1s, node: client-9, title: x}]}",
        "app: {spec: todo, todos: [{at: 1s, node: db-1, title: x}]}",
        "app: {spec: todo, sessions: [{at: 1s, disconnect: dc-9}]}",
        "app: {spec: todo, attacks: [{at: 1s, node: client-1}]}",
        "app: {spec: todo, attacks: [{at: 1s, node: client-1, replay: nobody}]}",
        "app: {spec: todo, storage: {client: disk}}", "app: {spec: todo, storage: {nowhere: sqlite}}",
        "app: {spec: todo, replicas: {zone: db}}", "app: {spec: todo, replicas: {zone: client, primary: db-1}}",
        "app: {spec: todo, exports: [{at: 1s, node: client-1}]}",
        "app: {spec: todo, workload: {rate: 5/s, nodes: [nobody]}}", "app: {spec: todo, users: {client-1: [1]}}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap, value: object, init: 5}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: GSet, value: number, init: [a]}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: GCounter, value: number, init: 3}}}}",
        "app: {registry: todo, zones: {db: {x: {computation: nope}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap, value: object, computer: /db/y}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap, value: object, computer: nopath}}}}",
        "app: {registry: todo, zones: {db: {x: {computation: sync_todos, depends_on: [/db/x]}}}}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap, value: object}}}, channels: [{from: db, to: web}]}",
        "app: {registry: todo, zones: {db: {x: {crdt: LWWMap, value: object}}}, channels: [{from: db}]}",
        "app: {registry: todo, zones: {db: {}}}", "app: {registry: todo, zones: {db: [1]}}",
        "app: {registry: nope, zones: {db: {x: {crdt: LWWMap, value: object}}}}",
        "app: {spec: todo, session_ttl: -1s}", "app: {spec: todo, on_incompatible: maybe}",
        "app: {spec: todo, channel: {latency: -1ms}}",
    ]
    for i, app in enumerate(apps):
        yield f"app-{i}", base + app + "\n"
    yield "app-zone-missing", "zones: {db: 1, server: 1}\napp: {spec: todo}\n"


def _duplicates() -> Iterator[tuple[str, str]]:
    yield "top", "zones: {dc: 3}\nseed: 1\nseed: 2\n"
    yield "nested", "zones:\n  dc: 3\n  dc: 4\n"
    yield "flow", "zones: {dc: 3, dc: 4}\n"
    yield "links", "zones: {dc: 3}\nlinks: {default: {loss: 0.1, loss: 0.2}}\n"
    yield "keys", "zones: {dc: 3}\ndata: {keys: {k: GCounter, k: ORSet}}\n"
    yield "non-string-key", "zones: {dc: 3, 7: 2}\n"
    yield "bool-key", "zones: {dc: 3}\ntrue: 1\n"
    yield "complex-key", "zones: {dc: 3}\n? [a, b]\n: 1\n"
    yield "null-key", "zones: {dc: 3}\n~: 1\n"


def _yaml_structure() -> Iterator[tuple[str, str]]:
    for depth in (30, 100, 1000, 10000, 100000):
        yield f"lists-{depth}", "zones: {dc: 3}\nname: " + "[" * depth + "]" * depth + "\n"
        yield f"maps-{depth}", "zones: {dc: 3}\nname: " + "{a: " * depth + "1" + "}" * depth + "\n"
    yield "list-as-mapping", "zones: [dc, 3]\n"
    yield "document-list", "- zones\n- dc\n"
    yield "document-scalar", "42\n"
    yield "two-documents", "zones: {dc: 3}\n---\nzones: {dc: 4}\n"
    yield "tag-python", "zones: !!python/object:os.system {dc: 3}\n"
    yield "tag-binary", "zones: {dc: 3}\nname: !!binary aGVsbG8=\n"
    yield "tag-timestamp", "zones: {dc: 3}\nname: 2001-12-14\n"
    yield "unclosed", "zones: {dc: 3\n"
    yield "tab-indent", "zones:\n\tdc: 3\n"
    yield "merge-key", "base: &b {dc: 3}\nzones: {<<: *b}\n"


def _aliases() -> Iterator[tuple[str, str]]:
    for levels, width in [(3, 3), (5, 10), (9, 9), (12, 10), (20, 2), (30, 2)]:
        yield f"bomb-{levels}x{width}", _bomb(levels, width)
    yield "recursive", "zones: {dc: 3}\nname: &a [*a]\n"
    yield "recursive-map", "zones: {dc: 3}\nname: &a {x: *a}\n"
    yield "undefined", "zones: {dc: 3}\nname: *nope\n"
    yield "shared-unknown-key", "one: &o {dc: 3}\nzones: *o\n"


def _text_classes() -> Iterator[tuple[str, str, bytes]]:
    rng = random.Random(7)  # a fixed local generator: these files are test data, not a simulation
    for i in range(15):
        yield "binary", f"garbage-{i}", bytes(rng.randrange(256) for _ in range(rng.choice([1, 64, 4096])))
    for i, raw in enumerate([b"\xff\xfe", b"zones: {dc: 3}\nname: \xe9t\xe9\n", b"\xc3\x28", b"\xed\xa0\x80",
                             b"\xf8\x88\x80\x80\x80", "zones: {dc: 3}\nname: é\n".encode("latin-1"),
                             "zones: {dc: 3}\n".encode("utf-16"), b"zones: {dc: 3}\n\x80", b"\xef\xbb\xbf\xff",
                             b"zones:\n  dc: 3\n# \xc0\xaf\n"]):
        yield "non-utf8", f"bad-{i}", raw
    for i, ch in enumerate(["\x00", "\x07", "\x1b", "\x7f", "\ufeff\ufeff", "\u2028", "\ud7ff\ue000"]):
        yield "control", f"control-{i}", f"zones: {{dc: [a{ch}b, c]}}\n".encode("utf-8", "surrogatepass")
    yield "size", "name-10MB", b"zones: {dc: 3}\nname: " + b"x" * 10_000_000 + b"\n"
    yield "size", "comments-20MB", b"zones: {dc: 3}\n" + b"# comment\n" * 2_000_000
    yield "size", "just-under", b"zones: {dc: 0}\n" + b"# c\n" * 200_000  # read and parsed whole, then refused


def text_cases() -> Iterator[tuple[str, str, bytes]]:
    """(class, case, file bytes) for every hostile file that is not a special file."""
    yield from _text_classes()
    for cls, cases in [("numbers", _numbers()), ("negative-nan", _negative_and_nan()), ("ids", _ids()),
                       ("app", _app()), ("duplicates", _duplicates()), ("structure", _yaml_structure()),
                       ("aliases", _aliases())]:
        for name, text in cases:
            yield cls, name, text.encode("utf-8")


SPECIAL_FILES = ["/dev/zero", "/dev/urandom", "/dev/full", "/dev/null", "/", "fifo"]


def mutations(step: int = 1) -> Iterator[tuple[str, str, str]]:
    """(class, case, yaml text): each path of each bundled scenario given each wrong value (every
    ``step``-th of them)."""
    count = -1
    for name, data in bundled().items():
        for path in paths(data):
            for i, value in enumerate(WRONG_VALUES):
                count += 1
                if count % step:
                    continue
                try:
                    text = dump(replaced(data, path, value))
                except (ValueError, TypeError):  # e.g. a value yaml cannot dump
                    continue
                yield "mutation", f"{name}:{'.'.join(map(str, path))}:{i}", text


def run_case(argv: list[str], cwd: str, timeout: float = 60.0) -> tuple[int, float, float, float, str]:
    """Run ``argv`` in its own process: exit code, wall and CPU seconds, its peak RSS in MiB, stderr."""
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        wall = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def main(argv: Sequence[str]) -> int:
    """Run every case as ``crdtsim run FILE --out RUN`` in a fresh process and print the figures."""
    import shutil
    import tempfile
    from collections import defaultdict

    parser = argparse.ArgumentParser(prog="crdtsim bench hostile", description=__doc__)
    parser.add_argument("classes", nargs="*", help="only these classes (default: all)")
    parser.add_argument("--mutation-step", type=int, default=50,
                        help="run every Nth mutation of the bundled scenarios (default 50; 1 runs all 14,000)")
    args = parser.parse_args(list(argv))
    only, step = set(args.classes), max(1, args.mutation_step)
    by_class: dict[str, list[tuple[str, int, float, float, float, bool]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, str, str]] = []
        for cls, name, raw in text_cases():
            file = Path(tmp) / f"case-{len(cases)}.yaml"
            file.write_bytes(raw)
            cases.append((cls, name, str(file)))
        for special in SPECIAL_FILES:
            if special == "fifo":
                fifo = Path(tmp) / "fifo.yaml"
                os.mkfifo(fifo)
                special = str(fifo)
            cases.append(("special", special, special))
        for cls, name, text in mutations(step):
            file = Path(tmp) / f"case-{len(cases)}.yaml"
            file.write_text(text)
            cases.append((cls, name, str(file)))
        for cls, name, case_file in cases:
            if only and cls not in only:
                continue
            run = Path(tmp) / "run"
            command = "validate" if name.startswith("gossip-1000:") else "run"  # a valid gossip-1000 runs 15 s
            argv = [sys.executable, "-m", "sim.cli", command, case_file, *(["--quiet", "--out", str(run)]
                                                                       if command == "run" else [])]
            code, wall, cpu, peak, err = run_case(argv, tmp)
            clean = code in (0, 1, 2) and "Traceback" not in err and len(err.strip().splitlines()) <= 1
            if code == 2:
                clean = clean and not run.exists()
            by_class[cls].append((name, code, wall, cpu, peak, clean))
            if not clean or (code == 2 and (cpu > 2 or peak > 200)):
                last = err.strip().splitlines()[-1][:160] if err.strip() else ""
                print(f"{cls:>12} {name[:50]:<50} exit {code} {wall:5.2f}s {cpu:5.2f}s cpu {peak:6.1f}MiB {last}",
                      flush=True)
            shutil.rmtree(run, ignore_errors=True)
            leftovers = [p.name for p in Path(tmp).iterdir() if not p.name.startswith(("case-", "fifo"))]
            if leftovers:
                print(f"{cls:>12} {name[:50]:<50} left {leftovers}", flush=True)
                for p in leftovers:
                    shutil.rmtree(Path(tmp) / p, ignore_errors=True)
    print("figures of the cases refused with exit 2 (a valid mutated scenario runs, which takes longer):")
    print(f"{'class':>12} {'cases':>6} {'exit 2':>7} {'exit 0/1':>8} {'unclean':>8} {'max wall s':>10} "
          f"{'max cpu s':>9} {'max MiB':>8}")
    for cls, rows in sorted(by_class.items()):
        bad = [r for r in rows if r[1] == 2] or [("", 2, 0.0, 0.0, 0.0, True)]
        print(f"{cls:>12} {len(rows):>6} {sum(r[1] == 2 for r in rows):>7} {sum(r[1] in (0, 1) for r in rows):>8} "
              f"{sum(not r[5] for r in rows):>8} {max(r[2] for r in bad):>10.2f} {max(r[3] for r in bad):>9.2f} "
              f"{max(r[4] for r in bad):>8.1f}")
    return 0 if all(r[5] for rows in by_class.values() for r in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
