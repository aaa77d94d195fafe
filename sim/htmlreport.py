"""``report.html``: one self-contained page that explains a run.

The page is built only from what a results directory holds (``summary.json``, ``history.jsonl``
and the SVG figures), so ``crdtsim report DIR`` rebuilds it from the files alone. Figures are
embedded as data URIs and the styles inline: it opens from disk, with no server, no script and
no network. Its order answers a reader's questions in turn: did it work; if not, who holds what
and which write was lost; what faults happened when; how the replicas and the traffic evolved;
how requests fared; the messages themselves; how to run it again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from sim.report import describe_fault

__all__ = ["FIGURES", "build_report", "read_results", "write_report"]

#: the figures a report shows, in order, with their captions
FIGURES: tuple[tuple[str, str], ...] = (
    ("faults", "What each node went through: partition sides, down time, loss bursts, clock changes."),
    ("distinct_states", "Distinct replica states per key over time (1 = every replica agrees); faults shaded."),
    ("traffic", "Messages and bytes per tick, by protocol; faults shaded."),
    ("requests", "Requests per tick by outcome, and each request's latency when it completed."),
    ("latency", "Delivery latency of every delivered message."),
    ("spacetime", "Space-time diagram: every message sent in the window, sender to receiver; "
                  "red dashed stubs with a cross are dropped messages."),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
.verdict { padding: .6em 1em; border-radius: 6px; font-weight: bold; }
.verdict.ok { background: #e3f5e1; border: 1px solid #4a4; }
.verdict.failed { background: #fbe3e3; border: 1px solid #c33; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { background: #f6f6f6; padding: .1em .3em; } pre { padding: .6em; overflow-x: auto; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figure.wide { overflow-x: auto; } figure.wide img { max-width: none; }
.fail { color: #b00; } .okay { color: #070; } .unchecked { color: #666; } li { margin: .2em 0; }
"""


def read_results(directory: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """The summary, the history records and the SVG figures (name -> text) of a results directory."""
    root = Path(directory)
    summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    history_file = root / "history.jsonl"
    history = ([json.loads(line) for line in history_file.read_text(encoding="utf-8").splitlines() if line.strip()]
               if history_file.exists() else [])
    svgs = {p.stem: p.read_text(encoding="utf-8") for p in sorted(root.glob("*.svg"))}
    return summary, history, svgs


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td class=\"num\">{escape(str(c))}</td>" if i in numeric
                                    else f"<td>{escape(str(c))}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _verdict(s: Mapping[str, Any]) -> str:
    ok = bool(s["ok"])
    failed = [c for c in s["checks"] if not c["ok"]]
    head = (f"<p class=\"verdict {'ok' if ok else 'failed'}\" id=\"verdict\">{'OK' if ok else 'FAILED'}: scenario "
            f"{escape(str(s['scenario']))}, seed {s['seed']}</p>")
    if ok:
        return head + ("<p>Every check held: the replicas went quiet and converged, and no acknowledged write "
                       "was lost.</p>")
    items = "".join(f"<li class=\"fail\"><b>{escape(c['name'])}</b>: {escape(c['message'])}</li>" for c in failed)
    return head + f"<ul>{items}</ul>"


def _who_holds_what(s: Mapping[str, Any]) -> str:
    parts = []
    for key, k in s["keys"].items():
        if k["converged"]:
            continue
        rows = [(", ".join(state["nodes"]), json.dumps(state["value"])) for state in k["states"]]
        lines = "".join(f"<li>{escape(line)}</li>" for line in k["difference"]["lines"])
        parts.append(f"<h3 class=\"diverged\" id=\"key-{escape(key)}\">{escape(key)} ({escape(k['type'])}, "
                     f"{escape(k['protocol'])}): {len(k['states'])} distinct states</h3>"
                     + _table(["replicas", "value"], rows) + f"<p>What differs:</p><ul>{lines}</ul>")
    lost = (s.get("invariants") or {}).get("lost_writes", {})
    for key, writes in lost.items():
        table = [(w["request"], w["node"], f"{w['time']:.3f}s", w["f"], json.dumps(w["args"])) for w in writes]
        parts.append(f"<h3 class=\"lost\">{escape(key)}: acknowledged writes lost</h3>"
                     + _table(["request", "node", "time", "operation", "arguments"], table, numeric=(0,)))
    if not parts:
        return ""
    return "<h2 id=\"who-holds-what\">Who holds what</h2>" + "".join(parts)


def _keys(s: Mapping[str, Any]) -> str:
    if not s["keys"]:
        return ""
    rows = [(key, k["type"], k["protocol"], "yes" if k["converged"] else "NO",
             "-" if k["time"] is None else f"{k['time']:.3f}s") for key, k in s["keys"].items()]
    return "<h2>Keys</h2>" + _table(["key", "type", "protocol", "converged", "at"], rows)


def _faults(s: Mapping[str, Any]) -> str:
    faults = s.get("faults") or []
    if not faults:
        return "<h2 id=\"faults\">Fault timeline</h2><p>No fault was applied.</p>"
    rows = [(f"{f['t']:.3f}s", describe_fault(f), f["origin"]) for f in faults]
    return "<h2 id=\"faults\">Fault timeline</h2>" + _table(["time", "fault", "from"], rows)


def _requests(s: Mapping[str, Any]) -> str:
    history = s.get("history") or {}
    if not history:
        return "<h2 id=\"requests\">Requests</h2><p>No request was made.</p>"
    rows = []
    for name, h in history.items():
        q = h["latency_ms"] or {}
        rows.append((name, h["count"], h["ok"], h["fail"], h["info"],
                     *(f"{q[p]:.1f}" if p in q else "-" for p in ("p50", "p95", "p99", "max"))))
    head = ["requests", "count", "ok", "fail", "info", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    return ("<h2 id=\"requests\">Requests</h2><p><i>ok</i>: took effect; <i>fail</i>: did not; <i>info</i>: "
            "unknown (a write that timed out may still apply). Latency of the ok ones.</p>"
            + _table(head, rows, numeric=range(1, 9)))


def _figure(name: str, caption: str, svgs: Mapping[str, str]) -> str:
    if name not in svgs:
        return ""
    data = base64.b64encode(svgs[name].encode("utf-8")).decode("ascii")
    wide = " class=\"wide\"" if name == "spacetime" else ""
    return (f"<figure id=\"figure-{name}\"{wide}><img alt=\"{escape(caption)}\" "
            f"src=\"data:image/svg+xml;base64,{data}\"><figcaption>{escape(caption)}</figcaption></figure>")


def _traffic(s: Mapping[str, Any]) -> str:
    rows = [(p, f"{n:,}", f"{s['bytes']['by_protocol'][p]:,}") for p, n in s["messages"]["by_protocol"].items()]
    rows.append(("total", f"{s['messages']['total']:,}", f"{s['bytes']['total']:,}"))
    dropped = ", ".join(f"{cause} {n:,}" for cause, n in s["dropped"].items()) or "none"
    return (_table(["protocol", "messages", "bytes"], rows, numeric=(1, 2))
            + f"<p>Dropped: {escape(dropped)}; duplicated {s['duplicated']:,}.</p>")


#: a check's status -> its list item's class and label (a summary older than statuses has only ``ok``)
_STATUS = {"ok": ("okay", "ok"), "failed": ("fail", "FAIL"), "not checked": ("unchecked", "not checked")}


def _checks(s: Mapping[str, Any]) -> str:
    shown = [(_STATUS[c.get("status", "ok" if c["ok"] else "failed")], c) for c in s["checks"]]
    items = "".join(f"<li class=\"{css}\">[{label}] <b>{escape(c['name'])}</b>: {escape(c['message'])}</li>"
                    for (css, label), c in shown)
    return f"<h2>Checks</h2><ul>{items}</ul>"


def build_report(summary: Mapping[str, Any], history: Sequence[Mapping[str, Any]], svgs: Mapping[str, str]) -> str:
    """The text of ``report.html`` for a run's summary, history records and SVG figures."""
    s = summary
    figures = dict(FIGURES)
    title = f"crdtsim: {s['scenario']} seed {s['seed']} {'OK' if s['ok'] else 'FAILED'}"
    rerun = s.get("rerun") or f"crdtsim run {s['scenario']} --seed {s['seed']}"
    files = s.get("files") or []
    body = [
        f"<h1>{escape(str(s['scenario']))}</h1>",
        _verdict(s),
        _who_holds_what(s),
        _keys(s),
        _faults(s),
        _figure("faults", figures["faults"], svgs),
        "<h2 id=\"evolution\">Replicas and traffic</h2>",
        _figure("distinct_states", figures["distinct_states"], svgs),
        _traffic(s),
        _figure("traffic", figures["traffic"], svgs),
        _requests(s),
        f"<p>{len(history):,} history records (invocations and completions) in <code>history.jsonl</code>.</p>"
        if history else "",
        _figure("requests", figures["requests"], svgs),
        _figure("latency", figures["latency"], svgs),
        "<h2 id=\"spacetime\">Messages</h2>" if "spacetime" in svgs else "",
        _figure("spacetime", figures["spacetime"], svgs),
        _checks(s),
        f"<h2 id=\"rerun\">Run it again</h2><pre>{escape(rerun)}</pre>"
        f"<p>Trace digest <code>{escape(str(s['trace_digest']))}</code>: the same scenario and seed give the same "
        "digest.</p>",
        ("<h2>Files</h2><ul>" + "".join(f"<li><a href=\"{escape(f)}\">{escape(f)}</a></li>" for f in files) + "</ul>")
        if files else "",
    ]
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(b for b in body if b) + "\n</body></html>\n")


def write_report(directory: str | Path) -> Path:
    """Rebuild ``report.html`` in a results directory from the files it holds."""
    path = Path(directory) / "report.html"
    path.write_text(build_report(*read_results(directory)), encoding="utf-8")
    return path
