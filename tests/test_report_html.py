"""scalinglab report html: the page from every kind of result, rendered in headless Chromium.

The inputs are made here: a real ``predict`` of a small power-law corpus, a real
``fit`` and a real ``report collapse``; the sweep and the validation (whose real
runs train models for minutes) are written in their formats from a known law.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scalinglab as sl
from scalinglab.report._html_browser import PageCheck, check_page, find_browser
from scalinglab.report.html import SECTIONS
from scalinglab.synth.markov import PowerLawSource
from scalinglab.train.sweep import RUN_FORMAT

ALPHA = 0.1  # the sweep's exact law L = 3 (P / 4096)^-ALPHA


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scalinglab.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )


def run_inproc(args: list[str]) -> int:
    """The CLI in this process (no second start-up of Python and PyTorch)."""
    from scalinglab.cli import main

    with pytest.raises(SystemExit) as e:
        main(args)
    return int(e.value.code or 0)


@pytest.fixture(scope="module")
def browser() -> str:
    exe = find_browser()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs Debian's chromium")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    return exe


def assert_clean(check: PageCheck) -> None:
    """No console errors, no failed loads, every image decoded."""
    assert not check.errors, check.errors
    assert not check.broken_images, check.broken_images
    assert check.images, "the page shows no image"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    src = PowerLawSource(vocab_size=2, beta=0.8, tau_min=1.0, tau_max=1e4)
    corpus = sl.corpus.TokenCorpus.from_array(src.sample(300_000, seed=1), 2, name="powerlaw")
    corpus = corpus.save(root / "corpus")
    pred = sl.theory.predict(
        corpus,
        out=root / "predict",
        lags=list(range(1, 33)),
        first_lag=4,
        max_n=8,
        n_boot=50,
        entropy="counts",
        progress=False,
    )
    hash_ = pred.corpus.get("content_hash")
    _write_sweep(root / "sweep", pred.corpus)
    _write_validation(root / "validate", pred.to_dict(), root / "sweep", hash_)
    # real collapse of the sweep at known exponents, real fit of a known law
    code = run_inproc(
        [
            "report",
            "collapse",
            str(root / "sweep"),
            "--beta",
            "0.8",
            "--gamma",
            "0.16",
            "--out",
            str(root / "collapse"),
        ]
    )
    assert code == 0
    x = np.geomspace(1e3, 1e6, 12)
    rows = "\n".join(f"{v:.6g},{0.5 + 4 * v**-0.3:.6g}" for v in x)
    (root / "runs.csv").write_text("D,loss\n" + rows + "\n")
    code = run_inproc(
        [
            "fit",
            str(root / "runs.csv"),
            "--x",
            "D",
            "--y",
            "loss",
            "--form",
            "power_law_offset",
            "--bootstrap",
            "0",
            "--out",
            str(root / "fit"),
        ]
    )
    assert code == 0
    return {k: root / k for k in ("predict", "sweep", "validate", "collapse", "fit")}


def _write_sweep(out: Path, corpus: dict) -> None:
    """sweep.json of runs that follow L = 3 (P/4096)^-ALPHA, per position L_n = L n^-0.1."""
    P = [4096 * 2**k for k in range(6)]
    L = [3 * (p / 4096) ** -ALPHA for p in P]
    n = list(range(1, 17))
    per_pos = [[loss * (1 + 0.5 * k**-0.5) / 1.5 for k in n] for loss in L]
    runs = [
        {
            "run_id": f"P{p}-T16-s0",
            "format": RUN_FORMAT,
            "P": p,
            "context": 16,
            "seed": 0,
            "lr": 0.01,
            "best_val_loss": loss,
            "converged": True,
        }
        for p, loss in zip(P, L, strict=True)
    ]
    fit = {
        "form": "no_offset",
        "alpha": ALPHA,
        "alpha_stderr": 0.002,
        "alpha_ci95": [ALPHA - 0.004, ALPHA + 0.004],
        "A": 3.0,
        "E": 0.0,
        "P0": 4096.0,
        "window": [P[0], P[-1]],
        "n_points": len(P),
        "equation": "L = A (P/P0)^-alpha",
    }
    doc = {
        "runs": runs,
        "grid": {"P": P, "contexts": [16], "lrs": [0.01], "seeds": [0]},
        "curve": {
            "P": P,
            "loss": L,
            "stderr": [0.01] * len(P),
            "context": [16] * len(P),
            "lr": [0.01] * len(P),
            "seeds": [1] * len(P),
            "converged": [True] * len(P),
        },
        "per_position": [
            {"context": 16, "n": n, "P": P, "loss": per_pos, "stderr": [[0.01] * len(n)] * len(P)}
        ],
        "alpha_D": {
            "value": ALPHA,
            "stderr": 0.002,
            "ci95": fit["alpha_ci95"],
            "window": fit["window"],
            "form": "no_offset",
            "no_offset": fit,
        },
        "corpus": corpus,
        "warnings": ["[sweep-still-improving] a made-up warning to show"],
    }
    out.mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps(doc))


def _write_validation(out: Path, pred: dict, sweep_dir: Path, hash_: str | None) -> None:
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    P = sweep["curve"]["P"]
    doc = {
        "corpus": pred["corpus"],
        "predicted": {"alpha_D": pred["alpha_D"], "beta": pred["beta"], "gamma": pred["gamma"]},
        "measured": {"alpha_D": sweep["alpha_D"], "curve": sweep["curve"]},
        "agreement": {
            "measured_minus_predicted": 0.01,
            "combined_stderr": 0.02,
            "z": 0.5,
            "intervals_overlap": True,
            "agree": True,
            "rule": "overlap",
        },
        "levels": {
            "P": P,
            "measured": sweep["curve"]["loss"],
            "predicted": [v * 1.05 for v in sweep["curve"]["loss"]],
            "max_abs_relative_error": 0.05,
        },
        "verdict": "predicted and measured alpha_D agree (a written example)",
        "warnings": ["[validate-example] a made-up validation warning"],
    }
    out.mkdir(parents=True)
    (out / "validation.json").write_text(json.dumps(doc))


def test_full_page_in_chromium(results, tmp_path, browser):
    out = tmp_path / "report"
    rep = sl.report.html(list(results.values()), out)
    assert rep.path == out / "index.html"
    assert rep.sections == list(SECTIONS)  # every section, in page order
    check = check_page(rep.path, tmp_path / "shot.png", browser=browser)
    assert_clean(check)
    assert check.sections == list(SECTIONS)
    # every figure is embedded, and also written as a file
    assert all(i["src"].startswith("data:image/") for i in check.images)
    assert len(check.images) == len(rep.figures) and all(f.stat().st_size for f in rep.figures)
    # the summary says what predict says; the measured exponent and the warnings are there
    pred = json.loads((results["predict"] / "prediction.json").read_text())
    from scalinglab.report.html import _sentence

    assert _sentence(pred) in check.text
    assert f"{ALPHA:.3f} ± 0.002" in check.text
    assert "sweep-still-improving" in check.text and "validate-example" in check.text
    assert pred["corpus"]["content_hash"] in check.text
    shot = (tmp_path / "shot.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000


def test_no_network_reference(results, tmp_path):
    rep = sl.report.html([results["predict"], results["sweep"]], tmp_path / "r")
    text = rep.path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<script" not in text  # static page: nothing to fetch, nothing to fail


def test_a_broken_page_is_caught(tmp_path, browser):
    """The check fails on a missing image, a console error and an uncaught exception."""
    good = tmp_path / "fig.svg"
    good.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        '<img src="fig.svg" alt="ok"><img src="missing.png" alt="gone">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    check = check_page(page, browser=browser)
    assert [i["alt"] for i in check.broken_images] == ["gone"]
    assert any("boom" in e for e in check.errors)
    assert any("undefinedFunction" in e for e in check.errors)
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in check.errors)
    with pytest.raises(AssertionError):
        assert_clean(check)


def test_missing_inputs_drop_their_sections(results, tmp_path):
    t0 = time.perf_counter()
    rep = sl.report.html(results["predict"], tmp_path / "p", filename="report.html")
    elapsed = time.perf_counter() - t0
    assert rep.path.name == "report.html"
    # predict's power-law corpus warns (close singular values, an extrapolated curve)
    assert rep.sections == [
        "summary",
        "exponents",
        "curve",
        "correlations",
        "entropy",
        "warnings",
        "provenance",
    ]
    text = rep.path.read_text()
    for gone in ("sweep", "validation", "collapse", "fits"):
        assert f'id="{gone}"' not in text
    assert elapsed < 2.0, f"the page of a predict directory took {elapsed:.2f} s"
    only_fit = sl.report.html(results["fit"], tmp_path / "f", figure_dir=None)
    warned = bool(json.loads((results["fit"] / "fit.json").read_text())["warnings"])
    assert only_fit.sections == ["summary", "fits", *(["warnings"] * warned), "provenance"]
    assert only_fit.figures == [] and not (tmp_path / "f" / "figures").exists()
    stats = tmp_path / "stats"  # what `scalinglab stats` writes: no prediction
    stats.mkdir()
    for name in ("correlations.json", "entropy.json"):
        (stats / name).write_bytes((results["predict"] / name).read_bytes())
    rep = sl.report.html(stats, tmp_path / "s")
    assert "curve" not in rep.sections and "correlations" in rep.sections
    assert "entropy" in rep.sections and "summary" in rep.sections
    beta = json.loads((stats / "correlations.json").read_text())["beta"]
    assert f"beta = {beta['value']:.3f} ± {beta['stderr']:.3f}" in rep.path.read_text()


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "case",
    ["empty", "malformed", "newer", "older", "run-format", "not-an-object"],
)
def test_bad_input_is_one_line_exit_2_nothing_written(results, tmp_path, case, capsys):
    d = _copy(results["predict"], tmp_path / "in")
    bad = d / "prediction.json"
    if case == "empty":
        for f in d.iterdir():
            f.unlink()
        bad = d
    elif case == "malformed":
        bad.write_text(bad.read_text()[:200])
    elif case == "newer":
        _edit(bad, lambda doc: doc.update(schema_version=2))
    elif case == "older":  # a format before predicted_loss was written
        _edit(bad, lambda doc: doc.pop("predicted_loss"))
    elif case == "run-format":
        d = _copy(results["sweep"], tmp_path / "sw")
        bad = d / "sweep.json"
        _edit(bad, lambda doc: doc["runs"][1].update(format=RUN_FORMAT + 1))
    elif case == "not-an-object":
        bad.write_text("[1, 2]")
    out = tmp_path / "out"
    capsys.readouterr()
    assert run_inproc(["report", "html", str(results["fit"]), str(d), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0], err
    assert "Traceback" not in err
    assert not out.exists()
    with pytest.raises(sl.UserError, match=re.escape(str(bad))):
        sl.report.html([d], out)
    assert not out.exists()


def test_cli_writes_index_and_figures(results, tmp_path):
    out = tmp_path / "r"
    r = run_cli(
        ["report", "html", str(results["validate"]), str(results["collapse"]), "--out", str(out)]
    )
    assert r.returncode == 0, r.stderr
    assert (out / "index.html").is_file() and any((out / "figures").iterdir())
    text = (out / "index.html").read_text()
    assert 'id="validation"' in text and 'id="collapse"' in text
    assert "scalinglab report html" in text  # the command, under provenance


def test_a_corpus_with_no_law_gives_a_page_without_a_curve(tmp_path, browser):
    tokens = np.random.default_rng(0).integers(0, 4, 50_000).astype(np.uint16)
    corpus = sl.corpus.TokenCorpus.from_array(tokens, 4, name="iid").save(tmp_path / "c")
    pred = sl.theory.predict(
        corpus, out=tmp_path / "p", n_boot=20, max_n=4, entropy="counts", progress=False
    )
    assert pred.alpha_D["value"] is None
    rep = sl.report.html(tmp_path / "p", tmp_path / "r")
    assert "curve" not in rep.sections and "warnings" in rep.sections
    check = check_page(rep.path, browser=browser)
    assert_clean(check)
    assert "No data-limited law could be predicted" in check.text
    assert "predict-no-beta" in check.text


# -- the verbs write report.html into their own --out -------------------------------------------


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = PowerLawSource(vocab_size=2, beta=0.8, tau_min=1.0, tau_max=1e4)
    tokens = src.sample(100_000, seed=2)
    c = sl.corpus.TokenCorpus.from_array(tokens, 2, name="pl-small")
    return Path(c.save(tmp_path_factory.mktemp("small") / "corpus").path)


def test_predict_writes_report_html_unless_told_not_to(small_corpus, tmp_path, browser):
    out = tmp_path / "pred"
    args = ["predict", str(small_corpus), "--entropy", "counts", "--max-n", "4", "--boot", "20"]
    assert run_inproc([*args, "--lags", "1-16", "--out", str(out), "--no-report"]) == 0
    assert (out / "prediction.json").is_file() and not (out / "report.html").exists()
    assert run_inproc([*args, "--lags", "1-16", "--out", str(out)]) == 0  # statistics reused
    assert not (out / "figures").exists()  # the page alone: its figures are inline
    check = check_page(out / "report.html", browser=browser)
    assert_clean(check)
    assert check.sections[:5] == ["summary", "exponents", "curve", "correlations", "entropy"]


def test_sweep_writes_report_html_unless_told_not_to(small_corpus, tmp_path, browser):
    opts = (
        "--P 2^10:2^11 --context 8 --lr 1e-2 --layers 1 --width 16 --heads 1 --max-steps 10 "
        "--batch-size 8 --evals 3 --eval-blocks 16 --final-eval-blocks 32 --bootstrap 0 "
        "--threads 1"
    ).split()
    out = tmp_path / "sw"
    assert run_inproc(["sweep", str(small_corpus), *opts, "--out", str(out), "--no-report"]) == 0
    assert (out / "sweep.json").is_file() and not (out / "report.html").exists()
    assert run_inproc(["sweep", str(small_corpus), *opts, "--out", str(out)]) == 0  # runs reused
    assert not (out / "figures").exists()  # the page alone: its figures are inline
    check = check_page(out / "report.html", browser=browser)
    assert_clean(check)
    assert "sweep" in check.sections


class _FakeValidation:
    """What validation.core.validate returns, as far as the verb uses it."""

    def summary(self) -> list[str]:
        return ["predicted and measured alpha_D agree (a written example)"]


def test_validate_writes_report_html_unless_told_not_to(results, tmp_path, monkeypatch, browser):
    """The verb's wiring; validate itself (minutes of training) is replaced by its files."""
    import scalinglab.validation.core as core

    def fake_validate(corpus, *, out, **kw):
        dst = Path(out)  # claimed (made) by the verb already
        (dst / "validation.json").write_bytes(
            (results["validate"] / "validation.json").read_bytes()
        )
        _copy(results["predict"], dst / "predict")
        _copy(results["sweep"], dst / "sweep")
        return _FakeValidation()

    monkeypatch.setattr(core, "validate", fake_validate)
    for flag, written in (("--no-report", False), (None, True)):
        out = tmp_path / f"v-{written}"
        assert run_inproc(["validate", "corpus", "--out", str(out), *([flag] if flag else [])]) == 0
        assert (out / "report.html").exists() is written
    check = check_page(tmp_path / "v-True" / "report.html", browser=browser)
    assert_clean(check)
    for section in ("validation", "curve", "sweep"):
        assert section in check.sections
