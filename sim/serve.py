"""``crdtsim serve DIR``: browse many results directories (a sweep's, a hunt's) over HTTP.

The index lists every results directory under ``DIR`` (each one holding a ``summary.json``),
failing runs first, with its verdict, failed checks and a link to its ``report.html``; every
other path is served as a file from ``DIR``. A report missing from a directory (one written
before reports existed, say) is built from its files on request, without writing it.
Built on the standard library's :mod:`http.server`; it listens on 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = ["index_page", "make_server", "results_directories", "serve"]

#: how deep under DIR results directories are looked for
MAX_DEPTH = 4


def results_directories(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(directory relative to ``root``, its summary) for every results directory, failing first."""
    found = []
    for path in sorted(root.rglob("summary.json")):
        relative = path.parent.relative_to(root)
        if len(relative.parts) > MAX_DEPTH:
            continue
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a file being written, or not ours: leave it out of the index
        if isinstance(summary, dict) and "ok" in summary:
            found.append((relative, summary))
    return sorted(found, key=lambda entry: (bool(entry[1].get("ok")), str(entry[0])))


def index_page(root: Path) -> str:
    """The index: one row per results directory."""
    rows = []
    for relative, s in results_directories(root):
        link = quote(f"{relative.as_posix()}/report.html" if relative.parts else "report.html")
        failed = "; ".join(f"{c['name']}: {c['message']}" for c in s.get("checks", []) if not c.get("ok"))
        verdict = "OK" if s.get("ok") else "FAILED"
        rows.append(f"<tr class=\"{verdict.lower()}\"><td><a href=\"{link}\">{escape(relative.as_posix() or '.')}"
                    f"</a></td><td>{escape(str(s.get('scenario')))}</td><td>{escape(str(s.get('seed')))}</td>"
                    f"<td>{verdict}</td><td>{escape(failed)}</td></tr>")
    body = ("<table><tr><th>results</th><th>scenario</th><th>seed</th><th>verdict</th><th>failed checks</th></tr>"
            + "".join(rows) + "</table>") if rows else "<p>No results directory (with a summary.json) here yet.</p>"
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>crdtsim results</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}td,th{border:1px solid #ddd;padding:.3em .6em}"
            "table{border-collapse:collapse}tr.failed td:nth-child(4){color:#b00;font-weight:bold}</style></head>"
            f"<body><h1>crdtsim results in {escape(str(root))}</h1>{body}</body></html>\n")


class _Handler(SimpleHTTPRequestHandler):
    root: Path

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html") and not (self.root / "index.html").exists():
            self._send(index_page(self.root))
            return
        target = (self.root / path.lstrip("/")).resolve()
        if target.name == "report.html" and not target.exists() and (target.parent / "summary.json").is_file() \
                and target.is_relative_to(self.root.resolve()):
            from sim.htmlreport import build_report, read_results

            self._send(build_report(*read_results(target.parent)))
            return
        super().do_GET()

    def _send(self, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        print(f"{self.address_string()} {format % args}", file=sys.stderr)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A server for ``root`` (``port=0`` picks a free port: see ``server.server_address``)."""
    handler = type("Handler", (_Handler,), {"root": root})
    return ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))


def serve(root: Path, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Serve ``root`` until interrupted (Ctrl-C); returns the exit code."""
    try:
        server = make_server(root, host, port)
    except OSError as error:
        print(f"crdtsim: cannot listen on {host}:{port}: {error}", file=sys.stderr)
        return 2
    address, bound = server.server_address[:2]
    print(f"serving {root} at http://{address!s}:{bound}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
