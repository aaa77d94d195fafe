"""What pyproject.toml cannot say: the top-level ``scenarios/`` ships as the ``sim.bundled`` package.

``scenarios/`` stays the one copy of the bundled scenarios; the wheel (and an editable install)
maps it to ``sim/bundled/``, so ``crdtsim list`` and ``crdtsim run NAME`` work from any install.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["crdt*", "sim*"]), "sim.bundled"],
    package_dir={"sim.bundled": "scenarios"},
)
