"""validate: the grid sized by a budget, the comparison's numbers, end to end, resume, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.errors import UserError
from scalinglab.synth.markov import random_chain
from scalinglab.validation import compare, plan_grid, verdict
from scalinglab.warns import has_code

TINY = {"n_layer": 1, "n_embd": 16, "n_head": 2, "context": 16, "batch_size": 16}


def test_plan_grid_grows_while_the_budget_lasts_and_caps_each_run():
    g = plan_grid(
        10**7,
        0.01,
        600,
        context=64,
        batch_size=32,
        workers=2,
        min_steps=1000,
        epochs_to_converge=15,
    )
    P = g["P"]
    assert P[0] == 2**12 and all(b == 2 * a for a, b in zip(P, P[1:], strict=False))
    # expected cost: max(500, 15 P / 2048) steps x 0.01 s x 2 rates / 2 workers
    cost = sum(max(500, 15 * p / 2048) * 0.01 for p in P)
    assert g["expected_cost_s"] == pytest.approx(cost)
    assert cost <= 0.7 * 600 < cost + max(500, 15 * 2 * P[-1] / 2048) * 0.01
    assert g["max_time_s"] == pytest.approx(3 * max(500, 15 * P[-1] / 2048) * 0.01)
    assert g["max_steps"] >= 10**9  # no fixed step cap
    with pytest.raises(UserError, match="raise --budget"):
        plan_grid(10**7, 1.0, 60, context=64, batch_size=32)
    with pytest.raises(UserError, match="too short"):
        plan_grid(10_000, 0.01, 600, context=64, batch_size=32)


def _sweep(P, L, conv=None, alpha=(0.2, 0.01, [0.18, 0.22])):
    return {
        "curve": {
            "P": P,
            "loss": L,
            "stderr": [0.01] * len(P),
            "converged": conv or [True] * len(P),
        },
        "alpha_D": {"value": alpha[0], "stderr": alpha[1], "ci95": alpha[2]},
    }


def _pred(P, L, alpha=(0.21, 0.02, [0.17, 0.25])):
    return {
        "alpha_D": {"value": alpha[0], "stderr": alpha[1], "ci95": alpha[2]},
        "predicted_loss": {"P": P, "loss": L},
        "horizon": {"calibration": {"P0": P[0]}},
    }


def test_compare_against_exact_numbers():
    P = [2.0**k for k in range(10, 17)]
    L = [3.0 * (p / 1024) ** -0.2 for p in P]
    grid = np.logspace(3, 6, 61)
    pred = _pred(grid.tolist(), (1.1 * 3.0 * (grid / 1024) ** -0.2).tolist())
    blocks, warns = compare(pred, _sweep(P, L), n_boot=50)
    a = blocks["agreement"]
    assert a["measured_minus_predicted"] == pytest.approx(-0.01)
    assert a["combined_stderr"] == pytest.approx(np.hypot(0.01, 0.02))
    assert a["intervals_overlap"] and a["agree"]
    lv = blocks["levels"]
    assert np.allclose(lv["relative_error"], 0.1, atol=1e-9)  # the curve is 10% high
    assert lv["predicted_curve_slope_on_window"] == pytest.approx(0.2, abs=1e-9)
    ex = blocks["extrapolation"]
    assert ex["fit_window"] == [1024, 16384] and ex["P"] == 65536
    assert ex["measured_fit_error_percent"] == pytest.approx(0.0, abs=1e-6)
    assert ex["predicted_curve_error_percent"] == pytest.approx(10.0, abs=1e-6)
    assert not warns
    line = verdict(a, lv, 7)
    assert line.startswith("predicted and measured alpha_D agree") and "10%" in line


def test_compare_disagreement_and_an_unconverged_last_point():
    P = [2.0**k for k in range(10, 15)]
    L = [3.0 * (p / 1024) ** -0.2 for p in P]
    grid = np.logspace(3, 5, 41)
    pred = _pred(grid.tolist(), (3.0 * (grid / 1024) ** -0.2).tolist(), (0.5, 0.02, [0.46, 0.54]))
    blocks, warns = compare(pred, _sweep(P, L, conv=[True] * 4 + [False]), n_boot=50)
    a = blocks["agreement"]
    assert not a["intervals_overlap"] and not a["agree"]
    assert a["z"] == pytest.approx(-0.3 / np.hypot(0.01, 0.02))
    # P_max is the largest converged point (8192); P <= 2048 holds only 2 points
    assert blocks["extrapolation"] == {} and has_code(warns, "validate-no-extrapolation")
    more = [*P, 2.0**15]
    blocks, _ = compare(pred, _sweep(more, [*L, 9.0], conv=[True] * 5 + [False]), n_boot=50)
    assert blocks["extrapolation"]["P"] == 2**14  # the unconverged 2^15 is not P_max
    assert blocks["extrapolation"]["fit_window"] == [1024, 4096]
    assert "disagree" in verdict(a, blocks["levels"], 4)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    chain = random_chain(8, order=2, alpha=0.3, seed=3)
    tok, _ = chain.sample(200_000, seed=4)
    return sl.corpus.TokenCorpus.from_array(tok, 8, name="mk").save(
        tmp_path_factory.mktemp("val") / "corpus"
    )


def _cli(*args: str, cwd: Path, **kw) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {
        "SCALINGLAB_NO_PROGRESS": "1",
        "PATH": "/usr/bin:/bin",
        "SCALINGLAB_CACHE": str(cwd / "cache"),
    }
    cmd = [sys.executable, "-m", "scalinglab.cli", *args]
    if kw.get("background"):
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_validate_end_to_end_on_a_tiny_grid(corpus, tmp_path):
    out = tmp_path / "val"
    kw = {
        "out": out,
        "budget": 40,
        "p_min": 256,
        "p_max": 2048,
        "model": TINY,
        "min_steps": 100,
        "workers": 1,
        "n_boot": 50,
        "progress": False,
        "predict_options": {"max_n": 6, "lags": list(range(1, 9)), "entropy": "counts"},
    }
    res = sl.validate(corpus, **kw)
    doc = json.loads((out / "validation.json").read_text())
    for key in ("predicted", "measured", "agreement", "levels", "extrapolation", "verdict"):
        assert key in doc
    assert doc["grid"]["P"] == [256, 512, 1024, 2048]
    assert (out / "validation.png").stat().st_size > 0
    assert doc["measured"]["curve"]["P"] == [256, 512, 1024, 2048]
    assert doc["levels"]["calibrated"] is True
    i0 = doc["measured"]["curve"]["P"].index(doc["predicted"]["calibration"]["P0"])
    assert doc["measured"]["curve"]["converged"][i0]
    assert doc["levels"]["relative_error"][i0] == pytest.approx(0.0, abs=1e-6)  # calibrated
    assert doc["width_check"]["width"] == 32
    assert res.verdict == doc["verdict"] and res.verdict
    # resumable: nothing is trained again
    runs = sorted(p.name for p in (out / "sweep" / "runs").glob("*.json"))
    before = {p: (out / "sweep" / "runs" / p).read_bytes() for p in runs}
    again = sl.validate(corpus, **kw)
    assert again.grid == res.grid
    assert {p: (out / "sweep" / "runs" / p).read_bytes() for p in runs} == before


def test_validate_resumes_after_sigkill_keeping_finished_runs(corpus, tmp_path):
    args = [
        "validate",
        str(corpus.path),
        "--out",
        "v",
        "--budget",
        "120",  # ample: --p-max caps the grid at 4 sizes, a loaded machine still fits them
        "--p-min",
        "256",
        "--p-max",
        "2048",
        "--max-n",
        "4",
        "--workers",
        "1",
        "--boot",
        "20",
        "--min-steps",
        "100",
    ]
    proc = _cli(*args, cwd=tmp_path, background=True)
    runs = tmp_path / "v" / "sweep" / "runs"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if runs.is_dir() and len(list(runs.glob("*.json"))) >= 2:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(kept) >= 1
    for body in kept.values():
        json.loads(body)  # finished runs are whole
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v" / "validation.json").is_file()
    for name, body in kept.items():
        assert (runs / name).read_bytes() == body  # kept, not retrained


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--budget", "0"], "--budget"),
        (["--budget", "30"], "raise --budget"),
        (["--p-max", "1000"], "--p-max"),
        (["--p-min", "8"], "--p-min"),
        (["--workers", "0"], "--workers"),
        (["--min-steps", "-1"], "--min-steps"),
        (["--device", "tpu"], "device"),
    ],
)
def test_validate_bad_input_is_one_line_and_exit_2(corpus, tmp_path, args, needle):
    r = _cli("validate", str(corpus.path), "--out", "v", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], r.stderr
    assert not (tmp_path / "v" / "validation.json").exists()
