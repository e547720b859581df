"""The ``scalinglab synth`` verbs: corpora written, one-line errors for bad parameters."""

from __future__ import annotations

import json

import pytest

import scalinglab as sl
from scalinglab.cli import main


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.mark.parametrize(
    "args",
    [
        ["markov", "--vocab", "16", "--tokens", "20000", "--max-lag", "4"],
        ["powerlaw", "--vocab", "8", "--beta", "0.7", "--tokens", "20000"],
        ["rhm", "-v", "8", "-m", "2", "-s", "2", "-L", "3", "--train", "100", "--test", "20"],
        ["pcfg", "-v", "8", "--f", "0.25", "-L", "3", "--sequences", "100"],
        [
            "walk",
            "--graph",
            "ba",
            "--nodes",
            "100",
            "--attach",
            "2",
            "--tokens",
            "20000",
            "--bias",
            "0.5",
        ],
        [
            "lcg",
            "-m",
            "1024",
            "--pairs",
            "8",
            "--seq-len",
            "16",
            "--base",
            "4",
            "--test-pairs",
            "2",
        ],
        ["pcg", "--bits", "128", "--output", "xsl-rr", "--sequences", "4", "--seq-len", "8"],
        ["group", "--group", "alternating", "--n", "4"],
    ],
)
def test_synth_verbs_write_a_corpus_with_truth(tmp_path, args):
    out = tmp_path / args[0]
    assert _run(["synth", *args, "--out", str(out), "--seed", "3"]) == 0
    corpus = sl.corpus.load(out)
    assert corpus.meta["generator"]["kind"] == args[0] and corpus.meta["generator"]["seed"] == 3
    assert json.loads((out / "truth.json").read_text())["kind"] == args[0]


def test_synth_ladder_verb(tmp_path):
    base = sl.corpus.TokenCorpus.from_array([0, 1, 2, 1, 0, 2, 2, 1] * 200, vocab_size=3)
    src = base.save(tmp_path / "src")
    out = tmp_path / "lad"
    assert (
        _run(
            [
                "synth",
                "ladder",
                str(src.path),
                "--orders",
                "1,2",
                "--tokens",
                "1000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "ladder.json").is_file() and sl.corpus.load(out / "k2").num_tokens == 1000


@pytest.mark.parametrize(
    "args",
    [
        ["rhm", "-v", "4", "-m", "5"],
        ["rhm", "-v", "4", "-m", "2", "--classes", "5"],
        ["lcg", "-m", "1000", "--pairs", "100000"],
        ["pcg", "--bits", "32"],
        ["group", "--group", "klein"],
        ["markov", "--vocab", "1"],
        ["ladder", "/nonexistent/corpus", "--orders", "2"],
        ["ladder", "/nonexistent/corpus", "--orders", "x"],
        ["lcg", "-m", "1024", "--pair", "5,2"],  # c even: no full period
        ["lcg", "-m", "1024", "--pair", "5"],
        ["powerlaw", "--tau-max", "1e13"],
        ["pcfg", "-v", "4096", "--f", "0.5"],
        ["markov", "--transition", "/nonexistent/t.npy"],
        ["walk", "--graph", "regular", "--nodes", "11", "--degree", "3"],
        ["walk", "--graph", "er", "--nodes", "10", "--edges", "100"],
    ],
)
def test_bad_parameters_exit_2_with_one_line(tmp_path, capsys, args):
    assert _run(["synth", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err


def test_markov_verb_takes_a_transition_tensor(tmp_path):
    import numpy as np

    t = sl.synth.random_chain(3, order=2, seed=4).transition.reshape(3, 3, 3)
    np.save(tmp_path / "t.npy", t)
    out = tmp_path / "mk"
    args = ["synth", "markov", "--transition", str(tmp_path / "t.npy"), "--tokens", "5000"]
    assert _run([*args, "--max-lag", "2", "--out", str(out)]) == 0
    corpus = sl.corpus.load(out)
    assert corpus.meta["generator"]["params"]["order"] == 2 and corpus.vocab_size == 3
    np.testing.assert_allclose(np.load(out / "transition.npy"), t.reshape(9, 3), rtol=1e-15)
    np.save(tmp_path / "bad.npy", np.full((3, 2), 0.5))
    assert _run(["synth", "markov", "--transition", str(tmp_path / "bad.npy"), "--out",
                 str(tmp_path / "b")]) == 2  # fmt: skip


def test_lcg_verb_takes_given_pairs(tmp_path):
    out = tmp_path / "l"
    args = ["synth", "lcg", "-m", "1024", "--pair", "5,3", "--pair", "0x9,7", "--seq-len", "8"]
    assert _run([*args, "--out", str(out)]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert [p[:2] for p in truth["pairs"]] == [[5, 3], [9, 7]] and all(truth["full_period"])


def test_summarize_reads_the_headline_numbers_back(tmp_path):
    """What the verbs print is an API result: sizes from meta.json, numbers from truth.json."""
    corpus = sl.synth.generate_markov(tmp_path / "mk", vocab_size=8, num_tokens=3000, max_lag=3)
    s = sl.synth.summarize(corpus, seconds=1.5)
    truth = sl.synth.read_truth(tmp_path / "mk")
    assert (s.kind, s.tokens, s.vocab_size, s.seconds) == ("markov", 3000, 8, 1.5)
    assert s.documents == corpus.num_documents
    assert s.highlights == {
        "entropy rate (nats)": truth["entropy_rate"]["nats"],
        "H_0 (nats)": truth["H_n"]["nats"][0],
        "||C(1)||_op": truth["correlations"]["operator_norm"][0],
    }
    assert json.loads(json.dumps(s.to_dict()))["highlights"] == s.highlights
    with pytest.raises(sl.UserError, match="no truth.json"):
        sl.synth.read_truth(tmp_path)
    with pytest.raises(sl.UserError, match="no summary"):
        sl.synth.highlights({"kind": "nothing"})


def test_cli_checks_live_in_the_api(tmp_path):
    """Parsing and file checks the verbs rely on, reachable (and checked) from Python."""
    import numpy as np

    from scalinglab.synth.ladder import parse_orders
    from scalinglab.synth.markov import load_transition
    from scalinglab.synth.prng import parse_pair

    assert parse_orders("3, 1,3") == [1, 3] and parse_orders([2, 1]) == [1, 2]
    assert parse_pair("0x9, 7") == (9, 7)
    for bad in ("x", ","):
        with pytest.raises(sl.UserError):
            parse_orders(bad)
    with pytest.raises(sl.UserError):
        parse_pair("5")
    with pytest.raises(sl.UserError, match="not found"):
        load_transition(tmp_path / "none.npy")
    (tmp_path / "t.txt").write_text("not an array")
    with pytest.raises(sl.UserError, match="not a .npy"):
        load_transition(tmp_path / "t.txt")
    t = np.full((2, 2), 0.5)
    np.save(tmp_path / "t.npy", t)
    c = sl.synth.generate_markov(tmp_path / "g", transition=tmp_path / "t.npy", num_tokens=100)
    assert c.meta["generator"]["params"]["transition"] == "given"
    lc = sl.synth.generate_lcg(tmp_path / "l", modulus=1024, pairs=["5,3"], seq_len=4)
    assert sl.synth.read_truth(lc)["pairs"][0][:2] == [5, 3]
    with pytest.raises(sl.UserError, match="num_tokens"):
        sl.synth.generate_facts(tmp_path / "f", num_tokens=0)
    assert not (tmp_path / "f").exists()


def test_verb_defaults_are_the_generators_defaults():
    """Each option default is read from its generator's signature, not copied."""
    import inspect

    from scalinglab.synth import cli

    for cmd, gen in [
        (cli.markov_cmd, sl.synth.generate_markov),
        (cli.powerlaw_cmd, sl.synth.generate_powerlaw),
        (cli.facts_cmd, sl.synth.generate_facts),
        (cli.rhm_cmd, sl.synth.generate_rhm),
        (cli.pcg_cmd, sl.synth.generate_pcg),
    ]:
        opts = inspect.signature(cmd).parameters
        params = inspect.signature(gen).parameters
        shared = [k for k in opts if k in params and k not in ("out", "seed", "transition")]
        assert len(shared) >= 4
        for k in shared:
            assert opts[k].default.default == params[k].default, (cmd.__name__, k)
    assert inspect.signature(sl.synth.generate_facts).parameters["a"].default == (
        sl.synth.FactsSource.a
    )
