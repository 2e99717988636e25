"""Models: the energy cross-reference (heat <-> compute) and other pure models."""

from models.energy import ClusterSpec, ForwardResult, Interval, InverseResult, forward, inverse
from models.energy_check import CrossCheck, cross_reference
from models.energy_data import Accelerator, known_accelerators, load_facts

__all__ = [
    "Accelerator",
    "ClusterSpec",
    "CrossCheck",
    "ForwardResult",
    "Interval",
    "InverseResult",
    "cross_reference",
    "forward",
    "inverse",
    "known_accelerators",
    "load_facts",
]
