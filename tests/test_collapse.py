"""Collapse of per-position losses: exact scaling forms, a slow reference score, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglab._io import read_json, write_json
from scalinglab.errors import UserError
from scalinglab.report.collapse import collapse, collapse_score, per_position_block, rescale
from scalinglab.warns import has_code

BETA, GAMMA = 0.9, 0.3


def _ok(argv: list[str]) -> None:
    """Run the CLI on ``argv``; it must succeed (return, or exit with status 0)."""
    from scalinglab.cli import main

    try:
        main(argv)
    except SystemExit as e:
        assert e.code in (0, None), e.code


P = np.geomspace(2**8, 2**26, 25)
N = np.arange(1, 33)


def scaling_form(P, n, beta=BETA, gamma=GAMMA):
    """L_n(P) = n^-gamma f(P / n^(2 beta)) with a smooth f: an exact collapse."""
    u = P[:, None] / n[None, :] ** (2 * beta)
    return n[None, :] ** -gamma * (1.0 + 2.0 * u**-0.25)


def slow_score(P, n, L, beta, gamma):
    """The collapse score written point by point, without NumPy vectorisation."""
    curves = []
    for j in range(len(n)):
        pts = sorted(
            (math.log(P[i]) - 2 * beta * math.log(n[j]), math.log(L[i][j]) + gamma * math.log(n[j]))
            for i in range(len(P))
        )
        curves.append(pts)
    devs, total = [], 0
    for j, pts in enumerate(curves):
        for x, y in pts:
            total += 1
            vals = []
            for m, other in enumerate(curves):
                if m == j or not other[0][0] <= x <= other[-1][0]:
                    continue
                for (x0, y0), (x1, y1) in zip(other, other[1:], strict=False):
                    if x0 <= x <= x1:
                        vals.append(y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0))
                        break
            if vals:
                devs.append(y - sum(vals) / len(vals))
    return math.sqrt(sum(d * d for d in devs) / len(devs)), len(devs) / total


def test_exact_scaling_form_collapses_and_the_grid_finds_the_exponents():
    L = scaling_form(P, N)
    res = collapse(P, N, L, BETA, GAMMA, rel_step=0.1, steps=3)
    assert res.at_given.score < 2e-3  # only the error of linear interpolation in log-log
    assert res.at_given.coverage > 0.6
    assert res.best_on_grid["beta"] == pytest.approx(BETA)
    assert res.best_on_grid["gamma"] == pytest.approx(GAMMA)
    s = np.array(res.grid_score)
    centre = s[3, 3]
    assert np.all(np.delete(s.ravel(), 3 * s.shape[1] + 3) > 5 * centre)


def test_collapse_is_found_from_wrong_starting_exponents():
    L = scaling_form(P, N, beta=1.1, gamma=0.4)
    res = collapse(P, N, L, 1.0, 0.5, rel_step=0.1, steps=3)
    assert res.best_on_grid["beta"] == pytest.approx(1.1)
    assert res.best_on_grid["gamma"] == pytest.approx(0.4)
    assert res.at_given.score > 10 * res.best_on_grid["score"]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    beta=st.floats(0.3, 2.0),
    gamma=st.floats(0.0, 1.0),
    k=st.integers(2, 7),
    m=st.integers(2, 6),
)
def test_vectorised_score_matches_the_slow_reference(seed, beta, gamma, k, m):
    rng = np.random.default_rng(seed)
    Ps = np.sort(rng.choice(np.arange(2**8, 2**20), size=k, replace=False)).astype(float)
    n = np.arange(1, m + 1)
    L = rng.uniform(1.0, 4.0, (k, m))
    fast = collapse_score(Ps, n, L, beta, gamma)
    if fast.points == 0:
        assert fast.coverage == 0.0
        return
    score, coverage = slow_score(Ps, n, L.tolist(), beta, gamma)
    assert fast.score == pytest.approx(score, rel=1e-9, abs=1e-12)
    assert fast.coverage == pytest.approx(coverage)


def test_rescale_coordinates():
    x, y = rescale(
        np.array([100.0, 400.0]),
        np.array([1, 2]),
        np.array([[2.0, 1.0], [1.5, 0.8]]),
        beta=1.0,
        gamma=0.5,
    )
    np.testing.assert_allclose(x, [[100, 400], [25, 100]])
    np.testing.assert_allclose(y, [[2.0, 1.5], [math.sqrt(2), 0.8 * math.sqrt(2)]])


def test_bad_collapse_inputs():
    L = scaling_form(P, N)
    with pytest.raises(UserError, match="beta"):
        collapse(P, N, L, -1.0, 0.3)
    with pytest.raises(UserError, match="gamma"):
        collapse(P, N, L, 1.0, float("nan"))
    with pytest.raises(UserError, match="does not match"):
        collapse_score(P, N, L[:, :3], 1.0, 0.3)
    with pytest.raises(UserError, match="two or more P"):
        collapse(P[:1], N, L[:1], 1.0, 0.3)
    with pytest.raises(UserError, match="positive"):
        collapse_score(P, N, -L, 1.0, 0.3)
    with pytest.raises(UserError, match="no context 16"):
        per_position_block({"per_position": [{"context": 8}]}, 16)


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture()
def sweep_dir(tmp_path):
    Ps = [2**k for k in range(10, 21)]
    L = scaling_form(np.array(Ps, dtype=float), N)
    d = tmp_path / "sweep"
    write_json(
        d / "sweep.json",
        {
            "per_position": [{"context": 32, "n": N.tolist(), "P": Ps, "loss": L.tolist()}],
            "alpha_D": {
                "value": 0.16,
                "stderr": 0.01,
                "ci95": [0.14, 0.18],
                "window": [1024, 2**20],
                "form": "no_offset",
                "with_offset": None,
            },
        },
    )
    return d


def test_report_collapse_with_a_prediction_file(sweep_dir, tmp_path, capsys):

    pred = tmp_path / "prediction.json"
    pred.write_text(
        json.dumps(
            {
                "beta": {"value": BETA, "stderr": 0.05},
                "gamma": {"value": GAMMA, "stderr": 0.01},
                "alpha_D": {"value": GAMMA / (2 * BETA), "stderr": 0.012, "ci95": [0.14, 0.19]},
            }
        )
    )
    _ok(["report", "collapse", str(sweep_dir), "--prediction", str(pred)])
    res = read_json(sweep_dir / "collapse.json")
    assert (sweep_dir / "collapse.png").stat().st_size > 10_000
    assert res["beta"] == BETA and res["gamma"] == GAMMA and res["context"] == 32
    assert res["best_on_grid"]["beta"] == pytest.approx(BETA)
    assert res["alpha_D"]["predicted"]["stderr"] == 0.012
    assert res["alpha_D"]["measured"]["ci95"] == [0.14, 0.18]
    out = capsys.readouterr().out
    assert "alpha_D predicted" in out and "alpha_D measured" in out


def test_report_collapse_with_explicit_exponents_and_errors(sweep_dir, tmp_path, capsys):
    from scalinglab.cli import main

    out = tmp_path / "elsewhere"
    _ok(
        [
            "report",
            "collapse",
            str(sweep_dir / "sweep.json"),
            "--beta",
            "1.0",
            "--gamma",
            "0.3",
            "--n-min",
            "2",
            "--n-max",
            "16",
            "--out",
            str(out),
        ]
    )
    res = read_json(out / "collapse.json")
    assert res["n_range"] == [2, 16]
    assert res["alpha_D"]["predicted"]["value"] == pytest.approx(0.15)
    for args, msg in (
        ([str(sweep_dir)], "--beta and --gamma"),
        ([str(tmp_path / "missing")], "no sweep.json"),
        ([str(sweep_dir), "--beta", "1", "--gamma", "0.3", "--context", "64"], "no context 64"),
        ([str(sweep_dir), "--prediction", str(tmp_path / "nope.json")], "not found"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["report", "collapse", *args])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and msg in err


def test_report_collapse_rejects_malformed_prediction_files(sweep_dir, tmp_path, capsys):
    from scalinglab.cli import main

    cases = {
        "list.json": ("[1, 2]", "expected a JSON object"),
        "text.json": ('{"beta": {"value": "high"}, "gamma": 0.3}', "beta must be a number"),
        "broken.json": ('{"beta": ', "corrupt"),
        "nogamma.json": ('{"beta": 0.9}', "--beta and --gamma"),
    }
    for name, (text, msg) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SystemExit) as e:
            main(["report", "collapse", str(sweep_dir), "--prediction", str(path)])
        assert e.value.code == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and msg in err and "\n" not in err, (name, err)
    bad = tmp_path / "bad_sweep"
    write_json(bad / "sweep.json", [1, 2])
    with pytest.raises(SystemExit) as e:
        main(["report", "collapse", str(bad), "--beta", "1", "--gamma", "0.3"])
    assert e.value.code == 2 and "expected a JSON object" in capsys.readouterr().err


def test_report_collapse_leaves_out_a_diverged_P(sweep_dir, capsys):

    doc = read_json(sweep_dir / "sweep.json")
    block = doc["per_position"][0]
    block["loss"][3] = [None] * len(block["n"])  # every run at this P diverged
    write_json(sweep_dir / "sweep.json", doc)
    _ok(["report", "collapse", str(sweep_dir), "--beta", str(BETA), "--gamma", str(GAMMA)])
    res = read_json(sweep_dir / "collapse.json")
    assert res["dropped_P"] == [block["P"][3]]
    assert res["P"] == [p for i, p in enumerate(block["P"]) if i != 3]
    assert res["at_given"]["score"] < 2e-3  # the remaining P still collapse exactly
    assert has_code(res["warnings"], "collapse-diverged-left-out") and len(res["warnings"]) == 1
    out = capsys.readouterr().out
    assert "[collapse-diverged-left-out]" in out and "8,192" in out


def test_collapse_sweep_api_writes_what_the_cli_writes(sweep_dir, tmp_path):
    """The CLI is a layer over report.collapse_sweep: same document from a dict, a path or
    the CLI; the exponents come from the prediction unless given."""
    import scalinglab as sl

    pred = {"beta": {"value": BETA}, "gamma": {"value": GAMMA}, "alpha_D": {"value": 0.17}}
    doc = read_json(sweep_dir / "sweep.json")
    from_dict = sl.report.collapse_sweep(doc, pred)
    from_path = sl.report.collapse_sweep(sweep_dir, pred)
    assert from_dict.result == from_path.result and from_dict.source["sweep"] is None
    assert from_path.source == {"sweep": str(sweep_dir), "prediction": None}
    assert from_dict.alpha_D["predicted"]["value"] == 0.17  # the prediction's own
    assert from_dict.result.best_on_grid["beta"] == pytest.approx(BETA)
    assert not from_dict.warnings and from_dict.P == doc["per_position"][0]["P"]
    given = sl.report.collapse_sweep(doc, pred, beta=1.0, n_min=2, n_max=16)
    assert given.result.beta == 1.0 and given.result.gamma == GAMMA
    assert given.alpha_D["predicted"]["value"] == pytest.approx(GAMMA / 2.0)
    assert given.n == list(range(2, 17))
    path = from_dict.save(tmp_path / "api")
    written = read_json(path)
    assert written["figure"] == str(tmp_path / "api" / "collapse.png")
    assert (tmp_path / "api" / "collapse.png").stat().st_size > 10_000
    _ok(
        ["report", "collapse", str(sweep_dir), "--beta", str(BETA), "--gamma", str(GAMMA),
         "--out", str(tmp_path / "cli")]
    )  # fmt: skip
    cli = read_json(tmp_path / "cli" / "collapse.json")
    api = sl.report.collapse_sweep(sweep_dir, beta=BETA, gamma=GAMMA).to_dict()
    assert {k: v for k, v in cli.items() if k != "figure"} == api
    # a far too large beta pulls the curves apart: the spread is flagged as saying little
    apart = sl.report.collapse_sweep(doc, beta=200.0, gamma=GAMMA)
    assert apart.result.at_given.coverage < 0.5
    assert has_code(apart.warnings, "collapse-low-coverage")
    with pytest.raises(UserError, match="no gamma"):
        sl.report.collapse_sweep(doc, {"beta": 0.9})
