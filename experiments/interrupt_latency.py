"""How fast ``optkit run`` stops on a signal, and whether ``optkit resume`` finishes it bit for bit.

    python experiments/interrupt_latency.py [--tries 100] [--signal SIGINT|SIGTERM|both]

One uninterrupted run of a config (default: Rosenbrock in 20 variables, 16 starts, gradient
descent for 30,000 steps, unclassified: a few seconds of compiling and a few of solving on a
CPU) gives the
reference trajectories.npz and its compile time C and solve time S. Then, ``--tries`` times,
half aimed at compilation and half at the solve: start ``optkit run``, wait for its run
directory to appear (it is about to trace and compile) and then a uniformly random delay in
[0, C], or wait for the first line of its live log progress.jsonl (it is solving) and then a
random delay in [0, S]; send the signal, and measure the seconds from the signal to the
process's exit (the *stop latency*: noticing the signal, saving the partial run, exiting).
Where the signal really landed is read from the run's one-line message. Where the run saved
something, ``optkit resume`` finishes it and every array of its trajectories.npz is compared
with the reference, bit for bit.

Interrupted runs compile with the persistent compilation cache off (so a signal can land in a
real compilation); the reference and the resumes share a cache of their own in the work
folder (a resumed solve from a cached program must still match bit for bit).

Prints the distribution of latencies, exit codes, where the signals landed (from the one-line
message) and the bit-for-bit count; ``--json`` writes every try.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

CONFIG = {
    "name": "latency",
    "problem": {"name": "rosenbrock", "dim": 20},
    "start": {"uniform": {"low": -2.0, "high": 2.0, "count": 16, "seed": 1}},
    "solver": {"method": "gradient_descent"},
    "stop": {"grad_tol": 1e-12, "max_steps": 30000},
    "record": {"trajectory": False},
    "analysis": {"classify": False},
}
#: phases, recognised in the one-line message of an interrupted run
PHASES = (("while preparing", "preparing"), ("while compiling", "compiling"),
          ("at step", "solving"), ("after the solve finished", "after solve"),
          ("after the run finished", "after run"))


def optkit(args: list[str], cache: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OPTKIT_CACHE_DIR=cache)
    return subprocess.Popen([sys.executable, "-m", "optkit.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_dir(parent: Path, proc: subprocess.Popen[str]) -> Path | None:
    while True:
        found = list(parent.glob("*/config.yaml"))
        if found:
            return found[0].parent
        if proc.poll() is not None:
            return None
        time.sleep(0.002)


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "trajectories.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return sorted(a) == sorted(b) and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def phase_of(stderr: str) -> str:
    for text, name in PHASES:
        if text in stderr:
            return name
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--signal", default="SIGINT", choices=("SIGINT", "SIGTERM", "both"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="a run config (default: the one above)")
    parser.add_argument("--json", type=Path, help="write every try here (JSON lines)")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--report", type=Path, help="only summarise the tries of a --json file")
    args = parser.parse_args()
    if args.report:
        report([json.loads(line) for line in args.report.read_text().splitlines()])
        return
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="optkit-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    config = args.config or work / "config.yaml"
    if args.config is None:
        config.write_text(yaml.safe_dump(CONFIG))
    cache = str(work / "cache")

    # the reference, uninterrupted (compiled without the cache, like the tries)
    proc = optkit(["run", str(config), "--out", str(work / "reference"), "-q"], "off")
    ref_dir = wait_for_dir(work / "reference", proc)
    out, err = proc.communicate()
    if proc.returncode not in (0, 1) or ref_dir is None:
        sys.exit(f"the reference run failed ({proc.returncode}): {err}")
    reference = arrays(ref_dir)
    timings = json.loads((ref_dir / "summary.json").read_text())["timings"]
    compile_span = timings["trace_seconds"] + timings["compile_seconds"]
    solve_span = timings["solve_seconds"]
    print(f"reference: compile {compile_span:.2f} s, solve {solve_span:.2f} s, exit "
          f"{proc.returncode}")

    records = []
    log = args.json.open("w") if args.json else None
    for i in range(args.tries):
        signame = (args.signal if args.signal != "both"
                   else ("SIGINT", "SIGTERM")[i % 2])
        out_dir = work / f"try{i}"
        proc = optkit(["run", str(config), "--out", str(out_dir), "-q"], "off")
        path = wait_for_dir(out_dir, proc)
        aim = ("compile", "solve")[i % 2]
        if aim == "solve" and path is not None:
            while proc.poll() is None and not (
                    (path / "progress.jsonl").exists()
                    and (path / "progress.jsonl").stat().st_size > 0):
                time.sleep(0.002)
        delay = rng.uniform(0.0, compile_span if aim == "compile" else solve_span)
        time.sleep(delay)
        sent = time.perf_counter()
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate()
        latency = time.perf_counter() - sent
        code = proc.returncode
        record = {"try": i, "signal": signame, "aim": aim, "delay": delay, "latency": latency,
                  "exit": code, "phase": phase_of(err) if code in (130, 143) else "finished",
                  "stderr": err.strip().splitlines()[-1:] if err.strip() else [],
                  "resumed": None, "bit_for_bit": None}
        if path is not None and (path / "checkpoint.npz").exists():
            done = optkit(["resume", str(path), "-q"], cache)
            _, rerr = done.communicate()
            record["resumed"] = done.returncode
            record["bit_for_bit"] = done.returncode in (0, 1) and same(arrays(path), reference)
            if not record["bit_for_bit"]:
                record["resume_stderr"] = rerr.strip()
        elif path is not None and (path / "summary.json").exists() \
                and not (path / "INCOMPLETE").exists():  # finished before or as it stopped
            record["bit_for_bit"] = same(arrays(path), reference)
        records.append(record)
        if log:
            log.write(json.dumps(record) + "\n")
            log.flush()
        print(f"try {i:3d}: {signame} {delay:5.2f} s into {aim} ({record['phase']}): exit "
              f"{code} in {latency:.3f} s; resume {record['resumed']}, bit for bit "
              f"{record['bit_for_bit']}", flush=True)

    report(records)
    print(f"work folder: {work}")


def report(records: list[dict]) -> None:
    """The distribution of stop latencies, exit codes, phases and the bit-for-bit count."""
    latencies = sorted(r["latency"] for r in records if r["exit"] in (130, 143))
    print(f"\n{len(records)} tries, {len(latencies)} stopped by the signal")
    if latencies:
        q = np.quantile(latencies, [0.5, 0.9, 0.99])
        print(f"stop latency (s): min {latencies[0]:.3f}, median {q[0]:.3f}, p90 {q[1]:.3f}, "
              f"p99 {q[2]:.3f}, max {latencies[-1]:.3f}, mean {statistics.mean(latencies):.3f};"
              f" over 1 s: {sum(t > 1.0 for t in latencies)}")
    for name in sorted({r["phase"] for r in records}):
        group = [r["latency"] for r in records if r["phase"] == name]
        print(f"  {name:12s} {len(group):3d} tries, latency max {max(group):.3f} s")
    codes: dict[int, int] = {}
    for r in records:
        codes[r["exit"]] = codes.get(r["exit"], 0) + 1
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
    checked = [r for r in records if r["bit_for_bit"] is not None]
    print(f"resumed or finished runs equal to the reference bit for bit: "
          f"{sum(r['bit_for_bit'] for r in checked)} of {len(checked)}")


if __name__ == "__main__":
    main()
