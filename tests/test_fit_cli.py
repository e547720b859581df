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
    assert (out / "fit.png").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("x,y\n1,2\n2,nan\n3,1\n", ["--x", "x", "--y", "y"], "row(s) 2"),
        ("x,y\n1,2\n2,1.5\n3,1\n", ["--x", "size", "--y", "y"], "no column 'size'"),
        ("x,y\n1,2\n2,1.5\n", ["--x", "x", "--y", "y", "--form", "bnsl"], "parameters but only 2"),
        ("x,y\n1,2\n2,1.5\n3,1\n", ["--x", "x", "--y", "y", "--form", "cubic"], "unknown form"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, args, message):
    csv = tmp_path / "d.csv"
    csv.write_text(content)
    code = run(["fit", str(csv), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_help_shows_an_example(capsys):
    assert run(["fit", "--help"]) == 0
    assert "Example" in capsys.readouterr().out
