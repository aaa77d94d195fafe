"""What pyproject.toml cannot say: the top-level ``scenarios/`` ships as the ``sim.bundled`` package.

``scenarios/`` stays the one copy of the bundled scenarios; the wheel (and an editable install)
maps it to ``sim/bundled/``, so ``crdtsim list`` and ``crdtsim run NAME`` work from any install.
Namespace discovery, as pyproject.toml's own would do, also finds the data-only directories
(``sim/templates``, ``sim/apps/external``).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["crdt*", "sim*"]), "sim.bundled", "sim.bundled.hunt"],
    package_dir={"sim.bundled": "scenarios", "sim.bundled.hunt": "scenarios/hunt"},
)
