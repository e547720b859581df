"""Sweeps: grids, power-law fits, aggregation, resuming after SIGKILL, parallel workers."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglab._io import read_json
from scalinglab.errors import UserError
from scalinglab.train._runs import _execute, _Job
from scalinglab.train.grid import SweepGrid, parse_float_list, parse_int_list, parse_window
from scalinglab.train.powerlaw import fit_power_law
from scalinglab.train.sweep import aggregate
from scalinglab.warns import has_code

TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
FAST = {"batch_size": 16, "evals": 6, "eval_blocks": 32, "final_eval_blocks": 128}


def _ok(argv: list[str]) -> None:
    """Run the CLI on ``argv``; it must succeed (return, or exit with status 0)."""
    from scalinglab.cli import main

    try:
        main(argv)
    except SystemExit as e:
        assert e.code in (0, None), e.code


# -- grids ------------------------------------------------------------------------------------


def test_parse_int_list_forms():
    assert parse_int_list("2^12:2^16") == [4096, 8192, 16384, 32768, 65536]
    assert parse_int_list("2^12:2^20:4") == [2**12, 2**16, 2**20]
    assert parse_int_list("4096,16384") == [4096, 16384]
    assert parse_int_list("64k, 1M,2**3") == [8, 65536, 2**20]
    assert parse_int_list("1e6") == [1_000_000]
    assert parse_int_list("10:20:5") == [10, 15, 20]
    assert parse_int_list("16,8,16") == [8, 16]
    for bad in ("", "abc", "1.5", "2^3:2^5:0", "0", "1:2:3:4"):
        with pytest.raises(UserError):
            parse_int_list(bad)
    assert parse_float_list("1e-3,3e-4") == [3e-4, 1e-3]
    for bad in ("x", "-1", "nan", ""):
        with pytest.raises(UserError):
            parse_float_list(bad)


def test_sweep_grid_normalises_its_axes_and_checks_every_setting_once():
    import dataclasses

    g = SweepGrid(P="2^10:2^12", contexts=[16, 8, 16], lrs="3e-3,1e-3", seeds=2, model=TINY)
    assert g.P == (1024, 2048, 4096) and g.contexts == (8, 16) and g.lrs == (1e-3, 3e-3)
    assert g.seeds == (0, 1) and g.size == 3 * 2 * 2 * 2
    same = SweepGrid(P=[4096, 1024, 2048], contexts=(8, 16), lrs=[3e-3, 1e-3], seeds=[1, 0])
    assert dataclasses.replace(same, model=TINY) == g
    assert g.to_dict()["P"] == [1024, 2048, 4096] and g.to_dict()["model"] == TINY
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.P = (1,)  # type: ignore[misc]
    for kwargs, msg in (
        ({"P": []}, "at least one P"),
        ({"P": [1]}, "at least 2 tokens"),
        ({"P": [1.5]}, "integers"),
        ({"P": [64], "contexts": [64]}, "more than P"),
        ({"P": [1024], "lrs": [0.0]}, "positive"),
        ({"P": [1024], "seeds": 0}, "at least one seed"),
        ({"P": [1024], "seeds": [-1]}, "non-negative"),
        ({"P": [1024], "train": {"lr": 1e-3}}, "axis of the grid"),
        ({"P": [1024], "train": {"max_stepz": 3}}, "unknown training setting"),
        ({"P": [1024], "train": {"max_steps": 0}}, "max_steps"),
        ({"P": [1024], "train": {"device": "tpu"}}, "unknown device"),
        ({"P": [1024], "model": {"context": 8}}, "axis of the grid"),
        ({"P": [1024], "model": {"n_embd": 30, "n_head": 4}}, "not divisible"),
        ({"P": [1024], "model": {"arch": "rnn"}}, "unknown architecture"),
    ):
        with pytest.raises(UserError, match=msg):
            SweepGrid(**kwargs)
    assert parse_window("2^10:64k") == (1024, 65536) and parse_window((4, 8)) == (4, 8)
    assert parse_window(None) is None
    for bad in ("2^12", "8:4", (0, 4), (1, 2, 3)):
        with pytest.raises(UserError, match="fit window"):
            parse_window(bad)


# -- power-law fits -----------------------------------------------------------------------------

P_GRID = 2.0 ** np.arange(12, 21)


def test_exact_power_law_is_recovered():
    L = 2.5 * (P_GRID / 1e4) ** -0.2
    fit = fit_power_law(P_GRID, L, n_boot=100)
    assert fit.alpha == pytest.approx(0.2, abs=1e-9)
    assert fit.predict(1e4) == pytest.approx(2.5, rel=1e-9)
    assert fit.alpha_ci95 == pytest.approx([0.2, 0.2], abs=1e-8)
    assert fit.window == [2**12, 2**20] and fit.n_points == 9 and fit.E == 0.0


def test_exact_power_law_with_offset_is_recovered():
    L = 1.2 + 30.0 * P_GRID**-0.35
    fit = fit_power_law(P_GRID, L, offset=True, n_boot=0)
    assert fit.alpha == pytest.approx(0.35, rel=1e-5)
    assert fit.E == pytest.approx(1.2, rel=1e-5)
    np.testing.assert_allclose(fit.predict(P_GRID), L, rtol=1e-8)
    plain = fit_power_law(P_GRID, L)
    assert plain.alpha < 0.35  # an offset flattens the curve a pure power law sees


def test_no_offset_fit_equals_ordinary_least_squares_in_log_space():
    from scipy.stats import linregress

    rng = np.random.default_rng(4)
    L = 3.0 * P_GRID**-0.15 * np.exp(rng.normal(0, 0.02, P_GRID.size))
    fit = fit_power_law(P_GRID, L, n_boot=0)
    ols = linregress(np.log(P_GRID), np.log(L))
    assert fit.alpha == pytest.approx(-ols.slope, rel=1e-7)
    assert fit.alpha_stderr == pytest.approx(ols.stderr, rel=1e-5)
    assert fit.rms_log_residual == pytest.approx(
        math.sqrt(np.mean((np.log(L) - ols.intercept - ols.slope * np.log(P_GRID)) ** 2)), rel=1e-6
    )


def test_bootstrap_interval_covers_the_true_exponent_most_of_the_time():
    rng = np.random.default_rng(7)
    hits = 0
    reps = 200
    for _ in range(reps):
        L = 2.0 * P_GRID**-0.12 * np.exp(rng.normal(0, 0.01, P_GRID.size))
        lo, hi = fit_power_law(P_GRID, L, n_boot=500, seed=int(rng.integers(1 << 30))).alpha_ci95
        hits += lo <= 0.12 <= hi
    # A percentile case bootstrap on 9 points under-covers somewhat; 95% nominal.
    assert 0.8 <= hits / reps <= 1.0


@settings(max_examples=25, deadline=None)
@given(alpha=st.floats(0.02, 1.5), amp=st.floats(0.1, 100), scale=st.floats(1.0, 1e3))
def test_power_law_fit_is_exact_on_noiseless_data(alpha, amp, scale):
    P = np.geomspace(scale, scale * 1e4, 7)
    fit = fit_power_law(P, amp * P**-alpha, n_boot=0)
    assert fit.alpha == pytest.approx(alpha, rel=1e-6, abs=1e-9)


def test_bad_fit_inputs_raise():
    with pytest.raises(UserError, match="at least 3"):
        fit_power_law([1, 2], [1.0, 0.9])
    with pytest.raises(UserError, match="at least 4"):
        fit_power_law([1, 2, 3], [1.0, 0.9, 0.8], offset=True)
    with pytest.raises(UserError, match="finite"):
        fit_power_law([1, 2, 3], [1.0, float("nan"), 0.8])
    with pytest.raises(UserError, match="positive"):
        fit_power_law([1, 2, 3], [1.0, -0.9, 0.8])
    with pytest.raises(UserError, match="bootstrap"):
        fit_power_law(P_GRID, P_GRID**-0.1, n_boot=-1)


def test_no_bootstrap_interval_from_the_minimum_number_of_points():
    rng = np.random.default_rng(2)
    for offset, k in ((False, 3), (True, 4)):
        P = P_GRID[:k]
        L = (0.5 if offset else 0) + 3.0 * P**-0.2 * np.exp(rng.normal(0, 0.02, k))
        fit = fit_power_law(P, L, offset=offset, n_boot=200)
        assert all(math.isnan(v) for v in fit.alpha_ci95) and fit.n_boot == 0
        P2 = P_GRID[: k + 2]
        L2 = (0.5 if offset else 0) + 3.0 * P2**-0.2 * np.exp(rng.normal(0, 0.02, k + 2))
        more = fit_power_law(P2, L2, offset=offset, n_boot=200)
        assert more.n_boot > 20 and all(math.isfinite(v) for v in more.alpha_ci95)


# -- aggregation ---------------------------------------------------------------------------------


def _record(T, P, lr, seed, loss, converged=True):
    pos = [loss + 0.5 / n for n in range(1, T + 1)]
    pos = list(np.array(pos) - np.mean(pos) + loss)
    return {
        "context": T,
        "P": P,
        "lr": lr,
        "seed": seed,
        "best_val_loss": loss,
        "best_val_loss_stderr": 0.01,
        "per_position_loss": pos,
        "per_position_stderr": [0.02] * T,
        "converged": converged,
    }


def test_aggregate_keeps_best_lr_averages_seeds_and_takes_the_envelope():
    Ps = [2**10, 2**12, 2**14, 2**16]
    truth = {P: 3.0 * (P / 2**10) ** -0.1 for P in Ps}
    runs = []
    for P in Ps:
        for lr, extra in ((1e-3, 0.05), (3e-3, 0.0), (1e-2, 0.2)):
            for seed, d in ((0, -0.01), (1, 0.01)):
                runs.append(_record(8, P, lr, seed, truth[P] + extra + d))
        runs.append(_record(4, P, 3e-3, 0, truth[P] + (0.1 if P > 2**10 else -0.1)))
    runs.append(_record(8, 2**18, 3e-3, 0, 2.0, converged=False))
    agg = aggregate(runs, fit_window=(2**10, 2**16), n_boot=50)
    c8 = agg["curves_by_context"]["8"]
    assert c8["lr"][:4] == [3e-3] * 4
    assert c8["loss"][:4] == pytest.approx([truth[P] for P in Ps])
    assert c8["seeds"][:4] == [2] * 4
    assert c8["stderr"][0] == pytest.approx(np.std([-0.01, 0.01], ddof=1) / math.sqrt(2))
    curve = agg["curve"]
    assert curve["P"] == [*Ps, 2**18]
    assert curve["context"] == [4, 8, 8, 8, 8]  # T = 4 wins only at the smallest P
    assert curve["loss"][0] == pytest.approx(truth[2**10] - 0.1)
    assert curve["converged"][-1] is False
    pp = {b["context"]: b for b in agg["per_position"]}
    assert pp[8]["n"] == list(range(1, 9)) and len(pp[8]["loss"]) == 5
    assert np.mean(pp[8]["loss"][1]) == pytest.approx(truth[2**12])
    assert agg["model_entropy"]["P"] == 2**18 and agg["model_entropy"]["context"] == 8
    assert agg["model_entropy"]["loss"] == pp[8]["loss"][-1]
    assert agg["model_entropy"]["n"] == list(range(1, 9))
    # Window 2^10..2^16 on the envelope: the T=4 point at 2^10 sits 0.1 below the power law.
    assert agg["alpha_D"]["window"] == [2**10, 2**16]
    assert agg["alpha_D"]["value"] == agg["alpha_D"]["no_offset"]["alpha"]
    assert [w for w in agg["warnings"] if has_code([w], "sweep-unconverged") and "262,144" in w]


def test_a_diverged_run_never_wins_and_a_diverged_point_is_left_out_of_the_fit():
    runs = [_record(8, P, 1e-3, 0, 3.0 * P**-0.1) for P in (256, 512, 1024, 2048)]
    runs.append(
        {
            **_record(8, 512, 1e-1, 0, 1.0),
            "best_val_loss": None,
            "best_val_loss_stderr": None,
            "per_position_loss": [None] * 8,
        }
    )
    runs.append(
        {
            **_record(8, 4096, 1e-1, 0, 1.0),
            "best_val_loss": None,
            "best_val_loss_stderr": None,
            "per_position_loss": [None] * 8,
        }
    )
    agg = aggregate(runs, n_boot=0)
    assert agg["curve"]["lr"][:4] == [1e-3] * 4
    assert math.isnan(agg["curve"]["loss"][4])
    assert agg["alpha_D"]["window"] == [256, 2048]
    assert agg["alpha_D"]["value"] == pytest.approx(0.1)


def test_aggregate_warns_when_the_best_lr_is_at_the_grid_edge():
    runs = [
        _record(8, P, lr, 0, 3.0 - 0.1 * i - (0.01 if lr == 1e-2 else 0))
        for i, P in enumerate([256, 512, 1024])
        for lr in (1e-3, 1e-2)
    ]
    two = aggregate(runs, n_boot=0)
    assert not has_code(two["warnings"], "sweep-lr-edge")  # 2 rates: always an edge
    runs += [_record(8, P, 3e-3, 0, 3.5) for P in (256, 512, 1024)]
    agg = aggregate(runs, n_boot=0)
    edge = [w for w in agg["warnings"] if has_code([w], "sweep-lr-edge")]
    assert len(edge) == 1 and "P = 256, 512, 1,024" in edge[0]
    assert agg["alpha_D"]["with_offset"] is None  # 3 points: too few for an offset fit
    assert has_code(agg["warnings"], "sweep-fit-failed")  # the offset fit needs 4 points


# -- running sweeps --------------------------------------------------------------------------------


def _sweep_args(corpus_path: Path, out: Path, steps: int = 40) -> list[str]:
    opts = (
        f"--P 2^10:2^12 --context 8 --lr 3e-3,1e-2 --layers 1 --width 32 --heads 2 "
        f"--max-steps {steps} --batch-size 16 --evals 6 --eval-blocks 32 "
        "--final-eval-blocks 128 --bootstrap 50 --threads 1"
    )
    return ["sweep", str(corpus_path), *opts.split(), "--out", str(out)]


def _finished(out: Path) -> dict[str, tuple[bytes, int]]:
    runs = out / "runs"
    if not runs.is_dir():
        return {}
    return {
        p.stem: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in runs.glob("*.json")
        if not p.name.startswith(".")
    }


def test_sweep_killed_with_sigkill_resumes_redoing_only_unfinished_runs(shakespeare_char, tmp_path):

    out = tmp_path / "sweep"
    env = {**os.environ, "SCALINGLAB_NO_PROGRESS": "1"}
    # Two worker processes: killing the sweep must take its workers down with it.
    cmd = [*_sweep_args(shakespeare_char.path, out, 60), "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalinglab.cli", *cmd],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not _finished(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _finished(out)
    assert 1 <= len(before) < 6, proc.stderr.read().decode()[-2000:]
    time.sleep(1.5)  # a surviving worker would finish its run and write it meanwhile
    assert _finished(out) == before
    assert not (out / "sweep.json").exists()

    _ok(_sweep_args(shakespeare_char.path, out, 60))
    after = _finished(out)
    assert len(after) == 6
    for rid, (data, mtime) in before.items():
        assert after[rid] == (data, mtime)  # byte-identical and never rewritten
    sweep = read_json(out / "sweep.json")
    assert sorted(sweep["runs_reused"]) == sorted(before)
    assert sorted(sweep["runs_trained"]) == sorted(set(after) - set(before))
    assert len(sweep["runs"]) == 6 and sweep["curve"]["P"] == [1024, 2048, 4096]
    # Per P the best learning rate of the grid, its loss the record's (one seed).
    for P, lr, loss in zip(*(sweep["curve"][k] for k in ("P", "lr", "loss")), strict=True):
        recs = [r for r in sweep["runs"] if r["P"] == P]
        assert loss == min(r["best_val_loss"] for r in recs)
        assert lr == min(recs, key=lambda r: r["best_val_loss"])["lr"]
    pp = sweep["per_position"][0]
    assert pp["n"] == list(range(1, 9)) and np.array(pp["loss"]).shape == (3, 8)
    a = sweep["alpha_D"]
    # the exponent is fitted on the converged points only (60-step runs may still improve)
    kept = [P for P, ok in zip(sweep["curve"]["P"], sweep["curve"]["converged"], strict=True) if ok]
    if len(kept) == 3:
        assert a["window"] == [1024, 4096] and a["value"] == a["no_offset"]["alpha"]
        assert a["no_offset"]["n_points"] == 3 and a["with_offset"] is None  # 4 points needed
        assert a["ci95"] == [None, None]  # 3 points: no bootstrap interval (NaN in JSON)
    else:
        assert a["value"] is None and a["with_offset"] is None
        assert has_code(sweep["warnings"], "sweep-fit-converged-only")
    assert has_code(sweep["warnings"], "sweep-fit-failed")  # the offset fit needs 4 distinct P
    ent = read_json(out / "model_entropy.json")
    assert ent["n"] == list(range(1, 9)) and ent["P"] == 4096 and len(ent["loss"]) == 8
    # The per-position losses at the largest P, seed-averaged at its best learning rate...
    best = min((r for r in sweep["runs"] if r["P"] == 4096), key=lambda r: r["best_val_loss"])
    assert ent["loss"] == best["per_position_loss"]
    # ... are what `predict/stats --entropy-from` reads as upper bounds on H_n, n = 1..T.
    from scalinglab.stats.entropy import load_external_losses

    assert load_external_losses(out / "model_entropy.json") == dict(
        zip(range(1, 9), best["per_position_loss"], strict=True)
    )

    # A run trained by a worker process equals the same job trained here, sequentially.
    rid = next(iter(before))
    rec = read_json(out / "runs" / f"{rid}.json")
    job = _Job(rid, tmp_path / "again.json", rec["train"], rec["model"])
    redo = _execute(job, shakespeare_char)
    np.testing.assert_allclose(redo["per_position_loss"], rec["per_position_loss"], rtol=1e-4)


def test_changed_settings_start_new_runs_and_bad_grids_fail_early(shakespeare_char, tmp_path):
    from scalinglab.train.sweep import plan, run_id

    def grid(P, T, train):
        return SweepGrid(P=P, contexts=T, lrs=[1e-3], seeds=1, model=TINY, train=train)

    a = plan(shakespeare_char, tmp_path, grid([1024], [8], {"max_steps": 10}))
    b = plan(shakespeare_char, tmp_path, grid([1024], [8], {"max_steps": 11}))
    c = plan(
        shakespeare_char,
        tmp_path,
        grid([1024], [8], {"max_steps": 10, "threads": 2, "device": "cpu"}),
    )
    assert a[0].run_id != b[0].run_id
    assert a[0].run_id == c[0].run_id  # where a run executes is not part of its identity
    assert a[0].run_id.startswith("P1024-T8-lr0.001-s0-")
    assert run_id("x", {}, {"P": 1, "context": 2, "lr": 0.5, "seed": 3}).startswith(
        "P1-T2-lr0.5-s3-"
    )
    with pytest.raises(UserError, match="exceeds"):
        plan(shakespeare_char, tmp_path, grid([2**21], [8], {}))
    with pytest.raises(UserError, match="more than P"):
        grid([64], [64], {})
    with pytest.raises(UserError, match="unknown device"):
        grid([1024], [8], {"device": "gpu0"})


def test_sweep_cli_rejects_bad_input_before_training(shakespeare_char, tmp_path, capsys):
    from scalinglab.cli import main

    out = tmp_path / "bad"
    base = ["sweep", str(shakespeare_char.path), "--out", str(out)]
    for args, msg in (
        (["--P", "2^21"], "exceeds"),
        (["--P", "64", "--context", "64"], "more than P"),
        (["--P", "4096", "--device", "tpu"], "unknown device"),
        (["--P", "4096", "--workers", "0"], "workers must be >= 1"),
        (["--P", "4096", "--threads", "0"], "threads must be >= 1"),
        (["--P", "4096", "--bootstrap", "-1"], "bootstrap"),
        (["--P", "4096", "--seeds", "0"], "at least one seed"),
        (["--P", "4096", "--lr", "fast"], "not a list of numbers"),
        (["--P", "4096", "--fit-window", "2^12"], "LO:HI"),
        (["--P", "2^12:2^8"], "empty list"),
    ):
        with pytest.raises(SystemExit) as e:
            main([*base, *args])
        assert e.value.code == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and msg in err and "\n" not in err, (args, err)
    assert not (out / "runs").exists()  # nothing trained, nothing written


def test_a_held_out_split_shorter_than_one_block_fails_before_training(tmp_path):
    from scalinglab.corpus.core import TokenCorpus
    from scalinglab.train.sweep import plan

    tokens = np.random.default_rng(0).integers(0, 5, 2000)
    c = TokenCorpus.from_array(tokens, vocab_size=5)
    n_held = int(c.heldout.size)
    assert plan(c, tmp_path, SweepGrid(P=[512], contexts=[n_held - 1], model=TINY))
    with pytest.raises(UserError, match="held-out split .* fewer than one evaluation block"):
        plan(c, tmp_path, SweepGrid(P=[512], contexts=[8, n_held], model=TINY))


def test_aggregate_warns_when_the_loss_does_not_fall_or_the_offset_is_undetermined():
    Ps = [2**k for k in range(10, 16)]
    rising = aggregate([_record(8, P, 1e-3, 0, 2.0 * P**0.02) for P in Ps], n_boot=100)
    assert rising["alpha_D"]["value"] == pytest.approx(-0.02)
    flat = [w for w in rising["warnings"] if has_code([w], "sweep-alpha-not-positive")]
    assert len(flat) == 1 and "1,024..32,768" in flat[0]
    pure = aggregate([_record(8, P, 1e-3, 0, 3.0 * P**-0.1) for P in Ps], n_boot=0)
    assert pure["alpha_D"]["with_offset"]["E"] == pytest.approx(0.0, abs=1e-9)
    assert has_code(pure["warnings"], "sweep-offset-zero")
    assert not has_code(pure["warnings"], "sweep-alpha-not-positive")
    offset = aggregate([_record(8, P, 1e-3, 0, 1.0 + 30.0 * P**-0.4) for P in Ps], n_boot=0)
    assert offset["alpha_D"]["with_offset"]["alpha"] == pytest.approx(0.4, rel=1e-4)
    assert not has_code(offset["warnings"], "sweep-offset-zero")
    assert not has_code(offset["warnings"], "sweep-offset-at-limit")
    assert not has_code(offset["warnings"], "sweep-fit-failed")


def _pool_workers(pid: int) -> list[int]:
    """Child processes of ``pid`` that are multiprocessing spawn workers (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            for child in (task / "children").read_text().split():
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    out.append(int(child))
        except OSError:
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_a_killed_worker_ends_the_sweep_with_a_one_line_error(shakespeare_char, tmp_path):
    out = tmp_path / "sweep"
    cmd = [*_sweep_args(shakespeare_char.path, out, 2000), "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalinglab.cli", *cmd],
        env={**os.environ, "SCALINGLAB_NO_PROGRESS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
        workers = _pool_workers(proc.pid)
        time.sleep(0.05)
    if len(workers) != 2:
        proc.kill()
        pytest.fail(f"no two pool workers: {proc.communicate()[1].decode()[-2000:]}")
    time.sleep(1.0)  # let the workers import torch and start training
    os.kill(workers[-1], signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2
    assert (
        lines[-1].startswith("error: a worker process died")
        and "run the command again" in lines[-1]
    )


def test_an_unconverged_point_is_left_out_of_the_measured_exponent():
    Ps = [2**10, 2**11, 2**12, 2**13, 2**14]
    runs = [_record(8, P, 3e-3, 0, 3.0 * (P / 2**10) ** -0.2) for P in Ps]
    runs.append(_record(8, 2**15, 3e-3, 0, 5.0, converged=False))  # stopped far above the law
    agg = aggregate(runs, n_boot=50)
    assert agg["alpha_D"]["value"] == pytest.approx(0.2, abs=1e-6)
    assert agg["alpha_D"]["window"] == [2**10, 2**14]
    left = [w for w in agg["warnings"] if has_code([w], "sweep-fit-converged-only")]
    assert len(left) == 1 and "32,768" in left[0]


def test_a_run_still_improving_by_less_than_its_error_counts_as_converged():
    from scalinglab.train.sweep import run_converged

    base = _record(8, 2**12, 3e-3, 0, 2.0, converged=False)
    flat = {
        **base,
        "best_val_loss_stderr": 0.01,
        "history": {"step": [10, 50, 75, 100], "val_loss": [3.0, 2.01, 2.005, 2.0]},
    }
    falling = {**flat, "history": {"step": [10, 50, 75, 100], "val_loss": [3.0, 2.5, 2.2, 2.0]}}
    assert run_converged(flat)  # fell 0.005 < 0.01 over the last quarter
    assert not run_converged(falling)  # fell 0.2
    assert run_converged({**falling, "converged": True})
    assert not run_converged({**base, "history": {}})
