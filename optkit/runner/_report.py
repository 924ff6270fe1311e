"""What a run shows a person: the progress bar while it works, the summary and critical-point
tables after (``optkit run``, ``critical`` and ``show``). Reads summaries, never solves."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .. import storage


class RunProgress:
    """What the run reports while it works: a phase line, then a bar over the solve's steps."""

    def __init__(self, bar: Progress | None) -> None:
        self.bar = bar
        self.task = None if bar is None else bar.add_task("starting", total=None)

    def __call__(self, description: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=description)

    def steps(self, done: int, total: int, running: int, stats: Any = None) -> None:
        """After a chunk: ``done`` of ``total`` steps, ``running`` starts left and, where
        given, the chunk's statistics (a ``ChunkStats``: best f, median and max ‖∇f‖)."""
        if self.bar is None:
            return
        text = f"solving: {running} start(s) running"
        if stats is not None:
            text += (f", best f {_fmt(stats.best_value, 4)}, ‖∇f‖ median "
                     f"{_fmt(stats.grad_norm_median, 2)} max {_fmt(stats.grad_norm_max, 2)}")
        self.bar.update(self.task, completed=total if running == 0 else done, total=total,
                        description=text)


@contextmanager
def progress_display(console: Console, enabled: bool) -> Iterator[RunProgress]:
    """Progress on stderr (phase, bar over the steps, elapsed time) when stdout and stderr are
    a terminal, so that a redirected summary stays clean."""
    if not enabled or not console.is_terminal or not Console(stderr=True).is_terminal:
        yield RunProgress(None)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield RunProgress(bar)


def _fmt(value: Any, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v, digits) for v in value[:6])
        return f"[{shown}{', …' if len(value) > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def render_summary(summary: dict[str, Any], path: Path | str | None = None) -> Table:
    """The summary table of a run (``optkit run`` and ``optkit show``)."""
    table = Table(title=f"optkit {summary.get('command', 'run')}: {summary.get('name')}",
                  show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    problem, device = summary.get("problem", {}), summary.get("device", {})
    timings = summary.get("timings", {})
    if path is not None:
        table.add_row("run directory", str(path))
    stopped = summary.get("interrupted")
    if isinstance(stopped, dict):
        table.add_row("interrupted", f"{stopped.get('signal')} at step {stopped.get('steps')} of "
                                     f"{stopped.get('max_steps')}: continue with optkit resume "
                                     f"{path if path is not None else 'RUN_DIR'}")
    table.add_row("problem", f"{problem.get('name')} (dim {problem.get('dim')})")
    if summary.get("command") == "critical":
        table.add_row("box", f"{_fmt(summary['box']['lower'])} … {_fmt(summary['box']['upper'])}")
        table.add_row("search starts", str(summary.get("num_starts")))
        table.add_row("critical points", str(summary.get("num_points")))
    else:
        options = summary.get("solver_options") or {}
        detail = ", ".join(f"{k}={v}" for k, v in options.items())
        table.add_row("method", summary.get("method", "-") + (f" ({detail})" if detail else ""))
        table.add_row("starts", str(summary.get("num_starts")))
        table.add_row("status", _counts(summary.get("status_counts")))
    kinds = dict(summary.get("kind_counts") or {})
    # ends on a numerically flat region and ends away from any critical point are not
    # critical points: counted on rows of their own
    flat, not_critical = kinds.pop("flat", 0), kinds.pop("not_critical", 0)
    table.add_row("critical-point kinds", _counts(kinds))
    if flat:
        table.add_row("flat-region ends", f"{flat} (f numerically constant; not critical points)")
    if not_critical:
        table.add_row("not at a critical point", str(not_critical))
    best = summary.get("best")
    if best:
        table.add_row("best value", _fmt(best.get("value"), 12))
        table.add_row("best x", _fmt(best.get("x")))
        kind = best.get("kind") or "unclassified"
        table.add_row("best", f"{best.get('status')}, {kind}, {best.get('num_steps')} steps, "
                              f"‖∇f‖ {_fmt(best.get('grad_norm'), 3)}")
        steps = summary.get("steps", {})
        table.add_row("steps (min/median/max)",
                      f"{steps.get('min')} / {_fmt(steps.get('median'))} / {steps.get('max')}")
    table.add_row("device", f"{device.get('platform')} × {device.get('count')}, "
                            f"{summary.get('precision')}")
    seconds = ", ".join(f"{k.removesuffix('_seconds')} {v:.3f} s" for k, v in timings.items()
                        if isinstance(v, (int, float)))
    table.add_row("time", seconds or "-")
    return table


def render_points(points: list[dict[str, Any]], limit: int = 20) -> Table:
    """A table of critical points: x, value, kind, eigenvalues (and count / known kind)."""
    table = Table(title="critical points", title_justify="left")
    columns = ["x", "value", "kind", "eigenvalues"]
    columns += [c for c in ("count", "known") if any(p.get(c) is not None for p in points)]
    for name in columns:
        table.add_column(name, overflow="fold")
    digits = {"x": 5, "value": 8, "eigenvalues": 3}
    for p in points[:limit]:
        table.add_row(*(_fmt(p.get(c), digits.get(c, 6)) for c in columns))
    if len(points) > limit:
        table.caption = f"{len(points) - limit} more in critical_points.json"
    return table


def show(path: str | os.PathLike[str], console: Console | None = None) -> None:
    """Print the summary (and critical points) of a saved run."""
    data = storage.load_run(path)
    console = console or Console()
    items: list[Any] = [render_summary(data.summary, data.path)]
    if data.critical_points:
        items.append(render_points(data.critical_points))
    console.print(Group(*items))
