"""What we found: classification of critical points, atlases, Taylor models, derivative checks."""

from ._classify import CriticalPoint, Kind, classify
from ._taylor import TaylorComparison, TaylorModel, taylor, taylor_error
from .critical_points import find_critical_points, merge_nearby
from .derivatives import DerivativeReport, check_derivatives

__all__ = [
    "CriticalPoint", "DerivativeReport", "Kind", "TaylorComparison", "TaylorModel",
    "check_derivatives", "classify", "find_critical_points", "merge_nearby", "taylor",
    "taylor_error",
]
