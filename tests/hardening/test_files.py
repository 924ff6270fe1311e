"""Files that cannot hang or exhaust the reader: config files and run-directory files are read
only when they are regular files within their size limits (also through symlinks); YAML alias
bombs, duplicate keys and deep nesting are refused fast with their line."""

from __future__ import annotations

import json
import os
import time

import pytest

from optkit import _limits
from optkit.storage import RunDirError, load_run

from ._cli import BASE_CONFIG, invoke, one_error


def _bomb(levels: int = 9) -> str:
    """The "billion laughs": 9 levels of 9 aliases expand to 9⁹ ≈ 4·10⁸ strings."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


YAML_CASES = [
    # (file text, words the one error line must hold)
    (BASE_CONFIG + _bomb(), ("alias", "OPTKIT_MAX_YAML_NODES")),
    (BASE_CONFIG + "stop: {max_steps: 5}\n", ("duplicate key 'stop'", "line 3")),
    (BASE_CONFIG.replace("stop: {max_steps: 50}", "stop: {max_steps: 50, max_steps: 60}"),
     ("duplicate key 'max_steps'",)),
    (BASE_CONFIG + "x: " + "[" * 5000 + "]" * 5000 + "\n", ("nested", "OPTKIT_MAX_NESTING")),
    (BASE_CONFIG + "x:\n" + "".join("  " * i + "a:\n" for i in range(1, 300)),
     ("nested", "line")),
    (BASE_CONFIG + "x: {a: [1, 2\n", ("invalid YAML", "line")),
    (BASE_CONFIG + "x: !!python/object/apply:os.system ['echo hacked']\n",
     ("invalid YAML",)),
    ("- 1\n- 2\n", ("mapping",)),
    ("\tproblem: 1\n", ("invalid YAML",)),
    ("problem: {expression: 'x', variables: [x]}\n" + "a: &a 1\nb: *a\n" * 0 + "c: *nope\n",
     ("invalid YAML", "nope")),
]


@pytest.mark.parametrize(("text", "words"), YAML_CASES, ids=[
    "alias-bomb", "duplicate-section", "duplicate-key", "deep-flow", "deep-block",
    "unclosed", "python-tag", "top-level-list", "tab-indent", "unknown-alias"])
def test_hostile_yaml_is_refused_fast(tmp_path, text, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    started = time.perf_counter()
    code, stderr = invoke("validate", path)
    assert time.perf_counter() - started < 5
    assert code == 2
    one_error(stderr, str(path), *words)


def test_yaml_anchors_within_the_budget_still_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: &stop {max_steps: 7}\n" + BASE_CONFIG.replace(
        "stop: {max_steps: 50}", "stop: *stop"))
    # the extra key is refused by the schema, not by the loader: anchors themselves are fine
    code, stderr = invoke("validate", path)
    assert code == 2
    one_error(stderr, "defaults", "unknown key")


def test_override_values_use_the_same_loader(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(BASE_CONFIG)
    code, stderr = invoke("validate", path, "stop={max_steps: 5, max_steps: 6}")
    assert code == 2
    one_error(stderr, "override stop", "duplicate key 'max_steps'")


def _fifo(path):
    os.mkfifo(path)
    return path


def _big(path, megabytes=50):
    with open(path, "wb") as f:  # sparse: that size on paper, nothing written
        f.truncate(megabytes * 2**20)
    return path


def _link(target):
    def make(path):
        os.symlink(target, path)
        return path
    return make


SPECIAL = [
    ("dev-zero", lambda p: "/dev/zero", ("device", "not a regular file")),
    ("link-to-dev-zero", _link("/dev/zero"), ("device",)),
    ("fifo", _fifo, ("FIFO",)),
    ("link-to-fifo", lambda p: _link(_fifo(p.with_suffix(".fifo")))(p), ("FIFO",)),
    ("fifty-megabytes", _big, ("50.0 MiB", "OPTKIT_MAX_CONFIG_BYTES")),
    ("directory", lambda p: (p.mkdir(), p)[1], ("directory",)),
    ("missing", lambda p: p, ("no such config file",)),
    ("dangling-link", _link("/nonexistent/optkit"), ("no such config file",)),
    ("binary", lambda p: (p.write_bytes(b"\xff\xfe\x00" * 10), p)[1], ("UTF-8",)),
    ("long-name", lambda p: p.with_name("c" * 300 + ".yaml"), ("File name too long",)),
]


@pytest.mark.parametrize(("make", "words"), [(m, w) for _, m, w in SPECIAL],
                         ids=[name for name, _, _ in SPECIAL])
def test_special_config_files_are_refused_before_reading(tmp_path, make, words):
    path = make(tmp_path / "c.yaml")
    started = time.perf_counter()
    code, stderr = invoke("validate", path)
    assert time.perf_counter() - started < 5
    assert code == 2
    one_error(stderr, *words)


# ------------------------------------------------------------------------- run directories


def _run_dir(tmp_path, summary=None):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(BASE_CONFIG)
    text = json.dumps(summary if summary is not None else {"format_version": 1})
    (run / "summary.json").write_text(text)
    return run


def _replace(name, make):
    def build(run):
        (run / name).unlink(missing_ok=True)
        make(run / name)
    return build


RUN_DIR_CASES = [
    ("summary-links-dev-zero", _replace("summary.json", _link("/dev/zero")), "device"),
    ("summary-fifo", _replace("summary.json", _fifo), "FIFO"),
    ("summary-deeply-nested", lambda run: (run / "summary.json").write_text(
        "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    ("summary-huge", _replace("summary.json", lambda p: _big(p, 300)),
     "OPTKIT_MAX_RUN_FILE_BYTES"),
    ("summary-not-json", lambda run: (run / "summary.json").write_text("{"), "not valid JSON"),
    ("summary-not-object", lambda run: (run / "summary.json").write_text("[1]"), "JSON object"),
    ("summary-newer", lambda run: (run / "summary.json").write_text(
        '{"format_version": 99}'), "newer"),
    ("config-alias-bomb", lambda run: (run / "config.yaml").write_text(_bomb()),
     "OPTKIT_MAX_YAML_NODES"),
    ("config-links-dev-zero", _replace("config.yaml", _link("/dev/zero")), "device"),
    ("config-missing", lambda run: (run / "config.yaml").unlink(), "missing"),
    ("trajectories-links-dev-zero", _replace("trajectories.npz", _link("/dev/zero")),
     "not a regular file"),
    ("trajectories-garbage", lambda run: (run / "trajectories.npz").write_bytes(b"PK\x03\x04"),
     "cannot read"),
    ("trajectories-huge", _replace("trajectories.npz", lambda p: _big(p, 9 * 1024)),
     "OPTKIT_MAX_NPZ_BYTES"),
    ("critical-points-fifo", _replace("critical_points.json", _fifo), "FIFO"),
]


@pytest.mark.parametrize(("damage", "words"), [(d, w) for _, d, w in RUN_DIR_CASES],
                         ids=[name for name, _, _ in RUN_DIR_CASES])
def test_damaged_run_directories_are_one_line(tmp_path, damage, words):
    run = _run_dir(tmp_path)
    damage(run)
    started = time.perf_counter()
    with pytest.raises(RunDirError) as info:
        load_run(run)
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert "\n" not in message and words in message and str(run) in message
    code, stderr = invoke("show", run)
    assert code == 2
    one_error(stderr, words)


def test_read_file_stops_at_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 5000)
    monkeypatch.setenv(_limits.MAX_CONFIG_BYTES.env, "4096")
    with pytest.raises(_limits.FileRefused, match="OPTKIT_MAX_CONFIG_BYTES"):
        _limits.read_file(path, _limits.MAX_CONFIG_BYTES)
    monkeypatch.setenv(_limits.MAX_CONFIG_BYTES.env, "5000")
    assert _limits.read_file(path, _limits.MAX_CONFIG_BYTES) == b"x" * 5000
