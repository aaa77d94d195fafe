"""Hunting bugs: search a scenario's space of schedules for a failing check, shrink the failure
to a minimal schedule, and keep it as a plain scenario file (``crdtsim hunt``)."""

from sim.hunt.hunt import HuntResult, hunt, parse_budget, to_yaml
from sim.hunt.runner import evaluate, signature
from sim.hunt.space import Candidate, FaultGene, HuntSpace, Write

__all__ = ["Candidate", "FaultGene", "HuntResult", "HuntSpace", "Write", "evaluate", "hunt", "parse_budget",
           "signature", "to_yaml"]
