"""The contents of summary.json and critical_points.json, built from a run's arrays.

Distinct critical points are merged by the one rule in ``optkit.analysis.merge_nearby``, the
same that ``find_critical_points`` uses.
"""

from __future__ import annotations

import platform as _platform
import time
from collections.abc import Iterable
from typing import Any

import jax
import numpy as np

from .. import storage
from ..analysis import merge_nearby
from ..analysis._classify import CRITICAL_KINDS, KIND_LABELS, Kind
from ..config import Resolved
from ..solvers import Status

#: per-start results are stored in summary.json for batches up to this size
PER_START_LIMIT = 100
#: end points closer than this fraction of the box diagonal count as one critical point
MERGE_FRACTION = 1e-3


def header(resolved: Resolved, devices: list[jax.Device], command: str) -> dict[str, Any]:
    from .. import __version__

    cfg, problem = resolved.config, resolved.problem
    return {
        "format_version": storage.FORMAT_VERSION,
        "command": command,
        "name": cfg.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "optkit_version": __version__,
        "jax_version": jax.__version__,
        "python_version": _platform.python_version(),
        "device": {"platform": devices[0].platform, "count": len(devices),
                   "kind": getattr(devices[0], "device_kind", devices[0].platform),
                   "kinds": sorted({getattr(d, "device_kind", d.platform) for d in devices}),
                   "ids": [d.id for d in devices], "process_count": jax.process_count()},
        "precision": cfg.precision,
        "problem": {"name": problem.name, "dim": problem.dim, "source": problem.source},
        "method": cfg.solver.method,
        "solver_options": cfg.solver.options,
    }


def run_summary(resolved: Resolved, arrays: dict[str, np.ndarray], outcome: dict[str, Any],
             devices: list[jax.Device], points: list[dict[str, Any]] | None) -> dict[str, Any]:
    status = arrays["status"]
    x, value = arrays["x_final"], arrays["value_final"]
    grad_norm, num_steps = arrays["grad_norm_final"], arrays["num_steps"]
    kinds = [KIND_LABELS[k] for k in arrays["kind"]] if "kind" in arrays else None
    finite = np.isfinite(value)
    best = int(np.argmin(np.where(finite, value, np.inf))) if finite.any() else 0
    summary = {
        **header(resolved, devices, "run"),
        "timings": {"trace_seconds": outcome["trace_seconds"],
                    "compile_seconds": outcome["compile_seconds"],
                    "solve_seconds": outcome["solve_seconds"]},
        "num_starts": len(status),
        "status_counts": {s.name: int(np.sum(status == s)) for s in Status},
        "kind_counts": kind_counts(kinds) if kinds is not None else None,
        "num_critical_points": None if points is None else len(points),
        # end points on a numerically flat region: not critical points, counted apart
        "flat_ends": None if kinds is None else kinds.count("flat"),
        "steps": {"min": int(num_steps.min()), "median": float(np.median(num_steps)),
                  "max": int(num_steps.max()), "total_evals": int(arrays["num_evals"].sum())},
        "trajectory_recorded": bool(arrays["trajectory_recorded"]),
        "best": {
            "index": best, "x": x[best], "value": value[best], "grad_norm": grad_norm[best],
            "num_steps": int(num_steps[best]), "status": Status(int(status[best])).name,
            "kind": None if kinds is None else kinds[best],
        },
    }
    if len(status) <= PER_START_LIMIT:
        summary["starts"] = [
            {"start": outcome["x0s"][i], "x": x[i], "value": value[i],
             "grad_norm": grad_norm[i], "num_steps": int(num_steps[i]),
             "num_evals": int(arrays["num_evals"][i]), "status": Status(int(status[i])).name,
             "kind": None if kinds is None else kinds[i]}
            for i in range(len(status))
        ]
    return summary


def kind_counts(kinds: Iterable[str]) -> dict[str, int]:
    kinds = list(kinds)
    return {label: kinds.count(label) for label in KIND_LABELS}


def merge_radius(resolved: Resolved) -> float:
    box = resolved.config.analysis.box
    assert box is not None
    return MERGE_FRACTION * float(np.linalg.norm(np.subtract(box.upper, box.lower)))


def distinct_critical_points(arrays: dict[str, np.ndarray],
                             resolved: Resolved) -> list[dict[str, Any]]:
    """The run's end points that are critical points (kind minimum, maximum, saddle or
    degenerate; never not_critical or flat), merged by
    :func:`optkit.analysis.merge_nearby` (best-resolved first, radius :data:`MERGE_FRACTION` of
    the box diagonal); each keeps its best-resolved member (smallest gradient norm) and
    ``count``, the number of starts that ended there. Sorted by value."""
    critical = np.flatnonzero(np.isin(arrays["kind"], [Kind[k.upper()] for k in CRITICAL_KINDS]))
    order = critical[np.argsort(arrays["grad_norm_final"][critical], kind="stable")]
    kept, joined = merge_nearby(arrays["x_final"], order, merge_radius(resolved))
    points = []
    for position, rep in enumerate(kept):
        points.append({
            "x": arrays["x_final"][rep], "value": arrays["value_final"][rep],
            "grad_norm": arrays["grad_norm_final"][rep],
            "kind": KIND_LABELS[arrays["kind"][rep]], "index": int(arrays["index"][rep]),
            "eigenvalues": arrays["eigenvalues"][rep],
            **({"distance": arrays["distance"][rep]} if "distance" in arrays else {}),
            # bounded runs: −1/0/+1 per variable (at its lower bound, free, at its upper
            # bound) and the bounds' multipliers; eigenvalues are the reduced Hessian's
            **({"active": arrays["active"][rep].tolist(),
                "multipliers": arrays["multipliers"][rep]} if "active" in arrays else {}),
            "count": int(np.sum(joined == position)),
        })
    points.sort(key=lambda p: float(p["value"]))
    mark_known(points, resolved)
    return points


def point_dict(cp: Any) -> dict[str, Any]:
    return {"x": np.ravel(np.asarray(cp.x)), "value": np.asarray(cp.value),
            "grad_norm": np.asarray(cp.grad_norm), "kind": str(cp.kind),
            "index": int(cp.index), "eigenvalues": np.asarray(cp.eigenvalues),
            "distance": np.asarray(cp.distance)}


def mark_known(points: list[dict[str, Any]], resolved: Resolved) -> None:
    """Set ``known`` to the kind of the problem's known critical point within the merge
    radius of each point (None where the problem lists none there)."""
    radius = merge_radius(resolved)
    known = resolved.problem.critical_points
    for point in points:
        point["known"] = None
        for k in known:
            if np.linalg.norm(np.subtract(point["x"], k.x)) <= radius:
                point["known"] = k.kind
                break


def points_file(resolved: Resolved, points: list[dict[str, Any]], method: str) -> dict[str, Any]:
    return {"format_version": storage.FORMAT_VERSION, "problem": resolved.problem.name,
            "method": method, "merge_radius": merge_radius(resolved), "points": points}
