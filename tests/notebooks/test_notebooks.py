"""The notebooks run headless, top to bottom, without an error (and are stored without outputs)."""

import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["quickstart", "partitions", "protocols", "eventsourcing", "hunting", "apps"]
#: lines a notebook must print: its story really happened, not only ran
PRINTS = {"eventsourcing": ["every journal holds the same events: True",
                           "the two e-mail writes: ['dc-2#1', 'dc-1#2'] -> concurrent"],
          "hunting": ["  convergence: 0/1 keys converged; diverged: k",
                      "[FAIL] convergence: 0/1 keys converged; diverged: k"],
          "apps": ["[ok] app.convergence: 7 nodes: sources agree, every write arrived, every derived state is up "
                   "to date", "[ok] app.durability: all 15 created data reached the top zone", "leaks: 0 | ok: True"]}


def test_every_notebook_is_tested() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``python3`` kernelspec running this interpreter, whatever kernels the machine has.

    Written in place: ``ipykernel.kernelspec.install`` stages it in a ``/tmp/tmp*_kernels``
    directory that it never removes."""
    from ipykernel.kernelspec import write_kernel_spec

    prefix = tmp_path_factory.mktemp("kernels") / "share" / "jupyter"
    write_kernel_spec(prefix / "kernels" / "python3")
    return prefix


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir / "kernels")])
    assert specs.get_kernel_spec("python3").argv[0] == sys.executable
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    client = NotebookClient(book, km=km, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    # Raises CellExecutionError, with the cell and its traceback, on any error. A client given
    # its kernel manager leaves the kernel running unless told to clean up: the kernel process
    # and its connection file in /tmp would stay until the test session ends.
    client.execute(cleanup_kc=True)
    assert not km.is_alive(), "the kernel was left running"
    assert km.connection_file.endswith(".json") and not Path(km.connection_file).exists()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} drew no plot"
    printed = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs)
    for line in PRINTS.get(name, []):
        assert line in printed.splitlines(), f"{name} did not print {line!r}"
