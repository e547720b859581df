"""``scalinglab fit`` on the command line."""

from __future__ import annotations

import json

import pytest

from scalinglab.cli import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_fit_bnsl_with_holdout(tmp_path, shared_data, capsys):
    out = tmp_path / "bnsl"
    code = run(
        [
            "fit",
            str(shared_data / "bnsl_4digit_addition.csv"),
            "--x",
            "train_set_size",
            "--y",
            "test_cross_entropy",
            "--form",
            "bnsl,power_law_offset",
            "--holdout-last",
            "3",
            "--bootstrap",
            "30",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    d = json.loads((out / "fit.json").read_text())
    assert d["form"] == "bnsl"
    assert d["extrapolation"]["n_points"] == 3 and d["extrapolation"]["rmsle"] <= 0.02
    assert [e["form"] for e in d["ranking"]] == ["bnsl", "power_law_offset"]
    assert set(d["stderr"]) == set(d["params"]) == set(d["ci95"])
    assert (out / "fit.png").exists()
    text = capsys.readouterr().out
    assert "held-out" in text and "ranking" in text


def test_fit_two_columns_with_expression(tmp_path, shared_data):
    out = tmp_path / "kaplan"
    code = run(
        [
            "fit",
            str(shared_data / "chinchilla_svg_extracted_data.csv"),
            "--form",
            "kaplan",
            "--x",
            "Model Size",
            "--x",
            "Training FLOP / (6 * Model Size)",
            "--y",
            "loss",
            "--drop-highest",
            "5",
            "--bootstrap",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    d = json.loads((out / "fit.json").read_text())
    assert d["x"] == {"N": "Model Size", "D": "Training FLOP / (6 * Model Size)"}
    assert d["n_points"] == 240 and d["stderr"]["alpha_N"] is None
    assert "extrapolation" not in d and "ranking" not in d  # nothing held out, one form
    assert (out / "fit.png").exists()


OK = "x,y\n1,2\n2,1.5\n3,1.2\n4,1.1\n5,1.05\n"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("x,y\n1,2\n2,nan\n3,1\n", ["--x", "x", "--y", "y"], "row(s) 2"),
        ("x,y\n1,2\n2,1.5\n3,1\n", ["--x", "size", "--y", "y"], "no column 'size'"),
        ("x,y\n1,2\n2,1.5\n", ["--x", "x", "--y", "y", "--form", "bnsl"], "parameters but only 2"),
        ("x,y\n1,2\n2,1.5\n3,1\n", ["--x", "x", "--y", "y", "--form", "cubic"], "unknown form"),
        ("x,y\n1,2\ninf,1.5\n3,1\n", ["--x", "x", "--y", "y"], "'x' at row(s) 2"),
        ("x,y\n1,2\n2,-1.5\n3,1\n", ["--x", "x", "--y", "y"], "'y' at row(s) 2"),
        ("x,y\n1,a\n2,b\n3,c\n", ["--x", "x", "--y", "y"], "not numeric"),
        ("x,y\n", ["--x", "x", "--y", "y"], "no data points"),
        ("", ["--x", "x", "--y", "y"], "cannot read"),
        (OK, ["--x", "x", "--y", "y", "--form", "chinchilla"], "takes 2 input"),
        (OK, ["--x", "x", "--y", "y", "--loss", "cauchy"], "unknown loss"),
        (OK, ["--x", "x", "--y", "y", "--delta", "-1"], "Huber delta"),
        (OK, ["--x", "x", "--y", "y", "--bootstrap", "-1"], "n_boot"),
        (OK, ["--x", "x", "--y", "y", "--holdout-above", "abc"], "needs a number"),
        (OK, ["--x", "x", "--y", "y", "--holdout-above", "9"], "no point has"),
        (OK, ["--x", "x", "--y", "y", "--holdout-last", "1", "--holdout-above", "3"], "not both"),
        (OK, ["--x", "x", "--y", "y", "--holdout-last", "5"], "cannot hold out"),
        (OK, ["--x", "x", "--y", "y", "--form", "power_law", "--holdout-last", "4"], "only 1"),
        (OK, ["--x", "x", "--y", "y", "--drop-highest", "9"], "cannot drop"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, args, message):
    csv = tmp_path / "d.csv"
    csv.write_text(content)
    code = run(["fit", str(csv), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("target", ["missing.csv", "folder"])
def test_missing_file_or_directory_is_one_line_and_exit_2(tmp_path, capsys, target):
    (tmp_path / "folder").mkdir()
    code = run(
        ["fit", str(tmp_path / target), "--x", "x", "--y", "y", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_help_shows_an_example(capsys):
    assert run(["fit", "--help"]) == 0
    assert "Example" in capsys.readouterr().out
