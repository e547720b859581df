"""Model and trainer: exact parameter counts, causality, per-position losses, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import scalinglab as sl  # noqa: E402
from scalinglab.errors import UserError  # noqa: E402
from scalinglab.train.model import GPT, ModelConfig, apply_rotary, rotary_tables  # noqa: E402
from scalinglab.train.trainer import (  # noqa: E402
    BlockStream,
    TrainConfig,
    autocast_dtype,
    eval_starts,
    eval_steps,
    lr_at,
    per_position_losses,
    resolve_device,
    slice_offset,
    train,
)
from scalinglab.warns import has_code  # noqa: E402

TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
FAST = {"batch_size": 16, "evals": 8, "eval_blocks": 64, "final_eval_blocks": 512, "threads": 1}


def _ok(argv: list[str]) -> None:
    """Run the CLI on ``argv``; it must succeed (return, or exit with status 0)."""
    from scalinglab.cli import main

    try:
        main(argv)
    except SystemExit as e:
        assert e.code in (0, None), e.code


# -- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [True, False])
def test_gpt2_parameter_count_matches_closed_form(tied):
    V, T, L, d = 65, 16, 3, 48
    m = GPT(
        ModelConfig(vocab_size=V, context=T, n_layer=L, n_embd=d, n_head=4, tie_embeddings=tied)
    )
    per_block = (
        2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)
    )
    non_emb = L * per_block + 2 * d + (0 if tied else V * d)
    assert m.num_params(non_embedding=True) == non_emb
    assert m.num_params() == non_emb + V * d + T * d


def test_llama_parameter_count_matches_closed_form():
    V, T, L, d = 100, 32, 2, 64
    cfg = ModelConfig(
        vocab_size=V, context=T, n_layer=L, n_embd=d, n_head=4, arch="llama", tie_embeddings=False
    )
    assert (cfg.positions, cfg.mlp, cfg.norm, cfg.bias) == ("rotary", "swiglu", "rmsnorm", False)
    h = 176  # 8 * 64 / 3 = 170.7, rounded up to a multiple of 16
    assert cfg.mlp_hidden == h
    m = GPT(cfg)
    per_block = d + 4 * d * d + d + 3 * h * d
    assert m.num_params(non_embedding=True) == L * per_block + d + V * d
    assert m.num_params() == L * per_block + d + 2 * V * d  # no position table


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_model_is_causal(arch):
    torch.manual_seed(0)
    m = GPT(ModelConfig(vocab_size=20, context=12, arch=arch, **TINY)).eval()
    x = torch.randint(0, 20, (2, 12))
    y = x.clone()
    y[:, 7] = (y[:, 7] + 1) % 20
    with torch.no_grad():
        a, b = m(x), m(y)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-4)


@settings(max_examples=25, deadline=None)
@given(p=st.integers(0, 40), q=st.integers(0, 40), shift=st.integers(0, 20))
def test_rotary_scores_depend_only_on_relative_position(p, q, shift):
    cos, sin = rotary_tables(64, 8)
    g = torch.Generator().manual_seed(1)
    u, v = torch.randn(8, generator=g), torch.randn(8, generator=g)

    def score(i: int, j: int) -> float:
        ru = apply_rotary(u.view(1, 1, 1, 8), cos[i : i + 1], sin[i : i + 1])
        rv = apply_rotary(v.view(1, 1, 1, 8), cos[j : j + 1], sin[j : j + 1])
        return float((ru * rv).sum())

    assert math.isclose(score(p, q), score(p + shift, q + shift), rel_tol=1e-4, abs_tol=1e-4)


def test_bad_model_configs_raise_user_errors():
    with pytest.raises(UserError, match="divisible"):
        ModelConfig(vocab_size=10, n_embd=30, n_head=4)
    with pytest.raises(UserError, match="architecture"):
        ModelConfig(vocab_size=10, arch="mamba")
    with pytest.raises(UserError, match="mlp"):
        ModelConfig(vocab_size=10, mlp="tanh")


# -- pieces of the trainer ---------------------------------------------------------------------


def test_uniform_model_scores_log_V_at_every_position():
    V, T = 37, 10
    m = GPT(ModelConfig(vocab_size=V, context=T, tie_embeddings=False, **TINY))
    with torch.no_grad():
        m.lm_head.weight.zero_()  # logits 0 for every token: p = 1 / V exactly
    data = torch.from_numpy(np.random.default_rng(0).integers(0, V, 300))
    losses = per_position_losses(m, data, eval_starts(300, T + 1, 50), T)
    assert losses.shape == (50, T)
    np.testing.assert_allclose(losses, math.log(V), rtol=1e-6)


def test_per_position_losses_match_a_slow_reference():
    V, T = 11, 8
    torch.manual_seed(3)
    m = GPT(ModelConfig(vocab_size=V, context=T, **TINY)).eval()
    tokens = np.random.default_rng(1).integers(0, V, 200)
    starts = eval_starts(200, T + 1, 40)
    fast = per_position_losses(m, torch.from_numpy(tokens), starts, T, batch_size=7)
    for b, s in enumerate(starts[:10]):
        with torch.no_grad():
            logits = m(torch.from_numpy(tokens[s : s + T])[None])[0].double().numpy()
        for i in range(T):
            row = logits[i]
            logz = row.max() + math.log(np.exp(row - row.max()).sum())
            assert fast[b, i] == pytest.approx(logz - row[tokens[s + i + 1]], abs=1e-5)


def test_eval_starts_are_fixed_distinct_and_in_range():
    a = eval_starts(10_000, 65, 500)
    b = eval_starts(10_000, 65, 500)
    np.testing.assert_array_equal(a, b)
    assert a.size == 500 and np.unique(a).size == 500
    assert a.min() >= 0 and a.max() <= 10_000 - 65
    np.testing.assert_array_equal(eval_starts(100, 65, 500), np.arange(36))
    with pytest.raises(UserError, match="held-out"):
        eval_starts(40, 65, 10)


@settings(max_examples=40, deadline=None)
@given(P=st.integers(20, 5000), T=st.integers(1, 64), seed=st.integers(0, 99))
def test_an_epoch_visits_distinct_non_overlapping_blocks_inside_the_slice(P, T, seed):
    if T + 1 > P:
        return
    stream = BlockStream(P, T, np.random.default_rng(seed))
    starts = stream.epoch()
    assert np.unique(starts).size == starts.size  # no block twice
    assert starts.min() >= 0 and starts.max() + T + 1 <= P  # blocks of T + 1 inside the slice
    assert np.unique(starts % T).size == 1  # one phase: blocks do not overlap
    assert starts.size >= ((P - T) // T if P >= 2 * T else 1)


def test_block_stream_serves_whole_epochs_in_fixed_size_batches():
    stream = BlockStream(1000, 10, np.random.default_rng(0))
    taken = np.concatenate([stream.take(7) for _ in range(30)])
    assert taken.size == 210 and stream.epochs >= 2
    n0 = (1000 - 1 - int(taken[0] % 10)) // 10  # blocks in the first epoch
    assert np.unique(taken[:n0]).size == n0  # the first epoch is a permutation
    assert np.unique(taken[:n0] % 10).size == 1


def test_slices_are_nested_for_one_seed_and_move_with_the_seed():
    n = 1_000_000
    small, big = slice_offset(n, 2**12, 5), slice_offset(n, 2**18, 5)
    assert big <= small and small + 2**12 <= big + 2**18 + 2**18  # nearly nested
    assert slice_offset(n, 2**12, 5) == small
    assert len({slice_offset(n, 2**12, s) for s in range(10)}) == 10
    assert slice_offset(n, n, 3) == 0


def test_evaluation_steps_are_log_spaced_and_end_at_the_last_step():
    steps = eval_steps(2000, 30)
    assert steps[0] == 10 and steps[-1] == 2000  # from planned / 200 to planned
    assert np.all(np.diff(steps) > 0) and steps.size == 30
    ratios = steps[1:] / steps[:-1]
    np.testing.assert_allclose(ratios, 200 ** (1 / 29), rtol=0.06)  # geometric spacing
    small = eval_steps(7, 30)  # fewer steps than evaluations: every step once
    np.testing.assert_array_equal(small, np.arange(1, 8))
    np.testing.assert_array_equal(eval_steps(1, 5), [1])


def test_learning_rate_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(P=10_000, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    planned = 200
    lrs = np.array([lr_at(s, cfg, planned) for s in range(planned + 1)])
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert np.all(np.diff(lrs[10:]) <= 1e-15)
    assert lrs[planned] == pytest.approx(1e-4)
    assert lrs[10 + (planned - 10) // 2] == pytest.approx(0.55e-3, rel=1e-2)


# -- training runs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(shakespeare_char):
    cfg = TrainConfig(
        P=2**14,
        context=8,
        lr=1e-2,
        batch_size=64,
        max_steps=200,
        max_epochs=1000,
        evals=8,
        eval_blocks=64,
        final_eval_blocks=4096,
        threads=1,
    )
    return train(shakespeare_char, cfg, TINY)


def test_loss_decreases_and_per_position_losses_have_length_T(run):
    h = run.history
    assert h["val_loss"][0] > run.best_val_loss + 0.5
    assert h["val_loss"][0] == pytest.approx(math.log(65), abs=0.3)  # near uniform at the start
    assert len(run.per_position_loss) == 8 and len(run.per_position_stderr) == 8
    assert run.best_val_loss == pytest.approx(np.mean(run.per_position_loss))
    assert 0 < run.best_val_loss_stderr < 0.1
    assert run.steps == 200 and run.tokens_seen == 200 * 64 * 8
    assert run.epochs == pytest.approx(run.tokens_seen / 2**14)
    assert run.params_non_embedding < run.params


def test_position_zero_is_the_hardest_on_real_text(run):
    L = np.array(run.per_position_loss)
    err = np.array(run.per_position_stderr)
    assert L[0] == L.max()
    assert L[0] - L[1:].mean() > 3 * err[0]
    # One token of context cannot beat the bigram conditional entropy of the corpus
    # (2.453 nats, from the counts of tiny-shakespeare) by more than the sampling error.
    assert L[0] > 2.453 - 3 * err[0]


def test_training_is_deterministic_for_a_seed(shakespeare_char):
    cfg = TrainConfig(P=2**12, context=8, lr=3e-3, max_steps=25, **FAST)
    a = train(shakespeare_char, cfg, TINY)
    b = train(shakespeare_char, cfg, TINY)
    assert a.per_position_loss == b.per_position_loss
    assert a.history["val_loss"] == b.history["val_loss"]
    c = train(shakespeare_char, TrainConfig(**{**cfg.to_dict(), "seed": 1}), TINY)
    assert c.offset != a.offset and c.per_position_loss != a.per_position_loss


def test_early_stopping_keeps_the_best_weights(shakespeare_char):
    # 64 tokens and a high learning rate: memorised within a few dozen steps.
    cfg = TrainConfig(
        P=64,
        context=8,
        lr=1e-2,
        max_steps=400,
        max_epochs=10_000,
        patience=2,
        evals=40,
        **{k: v for k, v in FAST.items() if k != "evals"},
    )
    r = train(shakespeare_char, cfg, TINY)
    assert r.stop_reason == "early_stopping" and r.converged
    assert r.steps < 400
    assert r.best_step < r.steps
    assert min(r.history["val_loss"]) == pytest.approx(
        r.history["val_loss"][r.history["step"].index(r.best_step)]
    )


def test_llama_and_rotary_variants_train(shakespeare_char):
    for model in ({**TINY, "arch": "llama"}, {**TINY, "positions": "rotary", "mlp": "relu"}):
        cfg = TrainConfig(P=2**11, context=16, lr=3e-3, max_steps=15, **FAST)
        r = train(shakespeare_char, cfg, model)
        assert r.best_val_loss < math.log(65)


def test_bad_inputs_give_clear_errors(shakespeare_char):
    with pytest.raises(UserError, match="exceeds the .* tokens of the training split"):
        train(shakespeare_char, TrainConfig(P=2**21, context=16), TINY)
    with pytest.raises(UserError, match="context 64 .* more than P = 32"):
        TrainConfig(P=32, context=64)
    with pytest.raises(UserError, match="unknown device"):
        TrainConfig(P=4096, device="tpu")
    for bad in ("cuda:x", "cuda:", "cpu:0", "mps:1", "cuda:-1"):
        with pytest.raises(UserError, match="unknown device"):
            resolve_device(bad)
    with pytest.raises(UserError, match="invalid training setting lr"):
        TrainConfig(P=4096, lr=float("nan"))
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(" CPU ").type == "cpu"
    assert autocast_dtype(torch.device("cpu")) is None  # full precision on CPU


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    mps = torch.backends.mps
    for cuda_ok, mps_ok, expected in (
        (True, True, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ):
        monkeypatch.setattr(torch.cuda, "is_available", lambda v=cuda_ok: v)
        monkeypatch.setattr(mps, "is_available", lambda v=mps_ok: v)
        assert resolve_device("auto").type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UserError, match="cuda:2 requested but there are 2 CUDA devices"):
        resolve_device("cuda:2")


def test_cli_errors_are_one_line_with_exit_code_2(shakespeare_char, tmp_path, capsys):
    from scalinglab.cli import main

    for args, msg in (
        (["--P", "4096", "--device", "tpu"], "unknown device"),
        (["--P", "2^22"], "exceeds"),
        (["--P", "32", "--context", "64"], "more than P"),
        (["--P", "abc"], "not an integer"),
        (["--P", "4096", "--device", "cuda:x"], "unknown device"),
        (["--P", "4096", "--threads", "0"], "threads must be >= 1"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["train", str(shakespeare_char.path), *args, "--out", str(tmp_path)])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and msg in err and "\n" not in err


def test_train_cli_writes_run_json(shakespeare_char, tmp_path, capsys):
    from scalinglab._io import read_json

    _ok(
        [
            "train",
            str(shakespeare_char.path),
            "--P",
            "2^11",
            "--context",
            "8",
            "--width",
            "32",
            "--layers",
            "1",
            "--max-steps",
            "5",
            "--final-eval-blocks",
            "64",
            "--warmup",
            "2",
            "--untied",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    rec = read_json(tmp_path / "cli" / "run.json")
    assert rec["P"] == 2048 and len(rec["per_position_loss"]) == 8 and rec["steps"] == 5
    assert rec["train"]["warmup_steps"] == 2 and rec["model"]["tie_embeddings"] is False
    # 5 steps: stopped by the budget; unconverged exactly when the best came last
    assert rec["stop_reason"] == "max_steps"
    assert has_code(rec["warnings"], "train-unconverged") == (not rec["converged"])
    printed = capsys.readouterr().out
    assert "best held-out loss" in printed
    assert ("[train-unconverged]" in printed) == (not rec["converged"])
    # The API given `out` writes the same record: same settings, same losses.
    cfg = TrainConfig(
        P=2048, context=8, max_steps=5, final_eval_blocks=64, warmup_steps=2, threads=1
    )
    res = train(
        shakespeare_char,
        cfg,
        {"n_embd": 32, "n_layer": 1, "tie_embeddings": False},
        out=tmp_path / "api",
    )
    api = read_json(tmp_path / "api" / "run.json")
    assert api == res.to_dict() or set(api) == set(res.to_dict())
    timing = {k for k in api if k.endswith("_s")} | {"history", "software"}
    assert {k: v for k, v in api.items() if k not in timing} == {
        k: v for k, v in rec.items() if k not in timing
    }


def test_cli_options_are_the_config_fields():
    """Every command-line field of ModelConfig and TrainConfig is an option of `train`, with
    the field's default and help; `sweep` has the same ones less its own axes."""
    import dataclasses

    import typer

    from scalinglab.cli import app
    from scalinglab.train.config import ModelConfig

    cmd = typer.main.get_command(app)
    for verb, own in (("train", {"P"}), ("sweep", {"P", "context", "lr", "seed", "threads"})):
        params = {p.name: p for p in cmd.commands[verb].params}  # type: ignore[attr-defined]
        for cls in (ModelConfig, TrainConfig):
            for f in dataclasses.fields(cls):
                if not f.metadata.get("cli", True) or f.name in own:
                    continue
                p = params[f.name]
                assert p.default == f.default and p.help == f.metadata["help"], (verb, f.name)
    train_opts = {p.name: p for p in cmd.commands["train"].params}  # type: ignore[attr-defined]
    assert "--warmup" in train_opts["warmup_steps"].opts
    assert "--untied" in train_opts["tie_embeddings"].secondary_opts
    assert "--layers" in train_opts["n_layer"].opts


def test_public_api_is_lazy():
    assert sl.train.TrainConfig is TrainConfig
    assert callable(sl.train.fit_power_law)


def test_how_a_run_ended_is_a_coded_warning(shakespeare_char):
    from scalinglab.train.trainer import _warnings
    from scalinglab.warns import codes

    cfg = TrainConfig(P=2048, context=8, max_steps=200, max_time_s=1e-6, **FAST)
    res = train(shakespeare_char, cfg, TINY)
    assert res.stop_reason == "time_budget" and res.steps == 1
    assert codes(res.warnings) == ["train-time-budget", "train-unconverged"]
    nan = {"val_loss": [float("nan")]}
    assert codes(_warnings("diverged", False, 7, 10, nan, cfg)) == ["train-diverged"]
    assert _warnings("early_stopping", True, 7, 10, nan, cfg) == []
    assert codes(_warnings("max_steps", False, 10, 10, nan, cfg)) == ["train-unconverged"]
