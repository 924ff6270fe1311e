"""What we found: classification of critical points, atlases, Taylor models, derivative checks."""

from .classify import CriticalPoint, Kind, classify
from .critical_points import find_critical_points, merge_nearby
from .derivatives import DerivativeReport, check_derivatives
from .taylor import TaylorComparison, TaylorModel, taylor, taylor_error

__all__ = [
    "CriticalPoint", "DerivativeReport", "Kind", "TaylorComparison", "TaylorModel",
    "check_derivatives", "classify", "find_critical_points", "merge_nearby", "taylor",
    "taylor_error",
]
