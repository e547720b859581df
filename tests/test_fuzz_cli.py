"""A fuzzing harness over every verb and every option of the command line.

The verbs and their options are read from the Typer app itself
(:func:`commands`), so a verb or option added later is covered without
editing this file. For each (verb, option) hypothesis draws bad values fitted
to the option's type: empty, negative, zero, huge, NaN and infinite numbers,
text where a number belongs, unknown names, and for paths a missing, empty,
binary or directory path, a dangling link, a truncated or corrupt corpus and
truncated, corrupt or wrongly shaped JSON; for ``--out``, an existing file, a
path below a file and a directory holding another kind of result. Each case
runs ``scalinglab.cli.main`` in-process on tiny valid inputs with that one
value replaced, and must

- end with exit code 2 and exactly one line on standard error beginning with
  ``error:`` (the last; status lines of work already done, such as
  tokenizing a raw source, may precede it), no traceback, no input touched and
  no file left that is not complete; or, for a
  value that may be valid (a zero, a negative or huge number, a free-form
  name, a flag), be accepted: exit 0, or still working when the case's time
  is up (then it is stopped), leaving only complete files (every JSON file
  parses, no temporary file left).

The default run tries a few values per option (under 60 s on two cores); ``-m
slow`` tries many more. The count of cases tried is printed in the test
summary (``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import io
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalinglab as sl
from scalinglab.cli import app, main

#: Cases tried in this session, per verb (read by the summary hook in conftest.py).
CASES: dict[str, int] = {}

#: Seconds a case may run once its value has been accepted (then it is stopped).
ACCEPTED_LIMIT_S = 0.8

#: Options set on every invocation that has them, to keep accepted runs small.
SMALL = {
    "--boot": "10",
    "--budget": "1",
    "--entropy": "counts",
    "--tokens": "3000",
    "--sequences": "40",
    "--train": "200",
    "--test": "40",
    "--nodes": "64",
    "--edges": "200",
    "--pairs": "16",
    "--max-n": "8",
}


# -- the verbs and their options, from the app ------------------------------------------
def _leaves(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in sorted(subs.items()):
            yield from _leaves(sub, (*path, name))
    elif path:
        yield path, cmd


def commands() -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf verb of the app (``("synth", "markov")``, ...) with its command object."""
    return list(_leaves(typer.main.get_command(app), ()))


def _params(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.name != "help" and not getattr(p, "hidden", False)]


def _annotation(p: Any) -> Any:
    td = getattr(p, "type_descriptor", None)
    ann = getattr(td, "annotation", None)
    if ann is None:  # Click-based Typer: go by the Click type
        t = getattr(p, "type", None)
        name = getattr(t, "name", "text")
        return {"integer": int, "float": float, "boolean": bool, "path": Path}.get(name, str)
    if get_origin(ann) is list:
        (ann,) = get_args(ann) or (str,)
    for a in get_args(ann) or (ann,):  # Optional[X] -> X
        if a is not type(None):
            return a
    return ann


def kind_of(p: Any) -> str:
    """int, float, flag, choice, out, path or text: what bad values suit the option."""
    if getattr(p, "is_flag", False):
        return "flag"
    ann = _annotation(p)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "choice"
    if ann is bool:
        return "flag"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    if p.name == "out":
        return "out"
    if ann is Path or p.name in ("corpus", "source", "data", "dirs", "sweep_dir"):
        return "path"
    return "text"


def _flag(p: Any) -> str:
    return next(o for o in p.opts if o.startswith("--")) if p.opts else p.opts[0]


# -- inputs ----------------------------------------------------------------------------------
@dataclass
class Inputs:
    root: Path
    corpus: Path
    csv: Path
    bad: dict[str, Path]
    bad_out: dict[str, Path]


def _make_inputs(root: Path) -> Inputs:
    rng = np.random.default_rng(0)
    n, v = 6000, 24
    ids = rng.integers(0, v, n)
    corpus = root / "corpus"
    sl.corpus.write_corpus(corpus, ids, v, doc_offsets=[0, 2000, 4000])
    csv = root / "points.csv"
    x = np.geomspace(1e3, 1e7, 12)
    csv.write_text("x,loss\n" + "".join(f"{a},{2 + 30 * a**-0.3}\n" for a in x))
    b = root / "bad"
    b.mkdir()
    bad = {
        "missing": b / "no-such-file.txt",
        "empty": b / "empty.txt",
        "binary": b / "binary.bin",
        "directory": b / "empty-dir",
        "dangling-link": b / "dangling",
        "corrupt-json": b / "corrupt.json",
        "truncated-json": b / "truncated.json",
        "wrong-json": b / "list.json",
        "truncated-corpus": b / "truncated-corpus",
        "corrupt-corpus": b / "corrupt-corpus",
        "corrupt-meta": b / "corrupt-meta",
    }
    bad["empty"].write_bytes(b"")
    bad["binary"].write_bytes(bytes(range(256)) * 4 + b"\xff\xfe\x00")
    bad["directory"].mkdir()
    os.symlink(b / "nowhere", bad["dangling-link"])
    bad["corrupt-json"].write_text("{not json")
    bad["truncated-json"].write_text('{"runs": [{"P": 4096, "loss"')
    bad["wrong-json"].write_text("[1, 2, 3]")
    for name in ("truncated-corpus", "corrupt-corpus", "corrupt-meta"):
        shutil.copytree(corpus, bad[name])
    with open(bad["truncated-corpus"] / "tokens.bin", "r+b") as f:
        f.truncate(5001)
    t = np.fromfile(bad["corrupt-corpus"] / "tokens.bin", dtype="<u2")
    t[4321] = v + 3
    t.tofile(bad["corrupt-corpus"] / "tokens.bin")
    (bad["corrupt-meta"] / "meta.json").write_text('{"vocab_size": 24, "dtype": "uint')
    o = root / "bad-out"
    o.mkdir()
    bad_out = {"existing-file": o / "afile", "below-a-file": o / "afile" / "sub"}
    bad_out["existing-file"].write_text("not a directory\n")
    other = o / "other-result"  # a corpus: another kind of result for every non-corpus verb
    shutil.copytree(corpus, other)
    bad_out["other-result"] = other
    pred = o / "a-prediction"  # for the verbs that write corpora
    pred.mkdir()
    (pred / "prediction.json").write_text("{}")
    bad_out["a-prediction"] = pred
    return Inputs(root, corpus, csv, bad, bad_out)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    # Import what the verbs import lazily now: a case stopped by the time guard in the
    # middle of an import would leave a half-initialised module for the next cases.
    for mod in ("torch", "torch._dynamo", "matplotlib.pyplot", "scipy.optimize"):
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)
    for _verb, cmd in VERBS:
        module = getattr(cmd.callback, "__module__", None)
        if module:
            importlib.import_module(module)
    for mod in (
        "scalinglab.train.trainer",
        "scalinglab.train.sweep",
        "scalinglab.validation.core",
        "scalinglab.theory.predict",
        "scalinglab.stats.measure",
        "scalinglab.fit.core",
        "scalinglab.report.html",
        "scalinglab.report.collapse",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)
    return _make_inputs(tmp_path_factory.mktemp("fuzz-inputs"))


# -- bad values --------------------------------------------------------------------------
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=3, max_size=12)
_JUNK = st.sampled_from(["abc", "1.5.2", "--", "1e3x", "0x1g", "∞", "None", "[1]", "'"])


def _numbers(kind: str) -> st.SearchStrategy[tuple[str, bool]]:
    """(value, must_fail): must_fail for text that is no number at all, NaN and empty."""
    never = st.one_of(st.just(""), _JUNK, st.sampled_from(["nan", "NaN", "-nan"]))
    if kind == "int":
        never = st.one_of(never, st.sampled_from(["1.5", "inf", "2e"]))
    maybe = st.one_of(
        st.just("0"),
        st.integers(max_value=-1).map(str),
        st.integers(min_value=10**12, max_value=10**40).map(str),
    )
    if kind == "float":
        maybe = st.one_of(
            maybe,
            st.sampled_from(["inf", "-inf", "1e400", "-1e-320", "1e308"]),
            st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False).map(repr),
        )
    return st.one_of(never.map(lambda s: (s, True)), maybe.map(lambda s: (s, False)))


def values(
    kind: str, inp: Inputs, verb: tuple[str, ...], name: str = ""
) -> st.SearchStrategy[tuple[str, bool]]:
    """Bad values for an option of ``kind``, each with whether it must be refused."""
    if kind in ("int", "float"):
        return _numbers(kind)
    if kind == "choice":
        return st.one_of(st.just(""), _NAME, _JUNK).map(lambda s: (s, True))
    if kind == "path":
        # Any text file is a valid raw source: JSON that is corrupt as JSON is still text;
        # and a bare JSON list is a valid input of some options (--entropy-from's losses).
        text_ok = name in ("corpus", "source")
        return st.sampled_from(sorted(inp.bad)).map(
            lambda k: (str(inp.bad[k]), not ((text_ok and k.endswith("json")) or k == "wrong-json"))
        )
    if kind == "out":
        writes_corpus = verb[0] in ("tokenize", "synth")
        keys = [
            k
            for k in sorted(inp.bad_out)
            if k != ("other-result" if writes_corpus else "a-prediction")
        ]
        return st.sampled_from(keys).map(lambda k: (str(inp.bad_out[k]), True))
    # free text: a name, a number where a name is expected, a bad path; may be valid
    return st.one_of(
        st.just(""),
        _NAME,
        _JUNK,
        st.sampled_from(["-1", "0", "nan", "1e40", "2^80", "1:0", "5,3,-1"]),
        st.sampled_from(sorted(inp.bad)).map(lambda k: str(inp.bad[k])),
    ).map(lambda s: (s, False))


# -- running one case ----------------------------------------------------------------------
class _TimeUp(BaseException):
    """Raised in the running command when an accepted case has had its time."""


@dataclass
class Outcome:
    code: Any
    stderr: str
    stdout: str
    timed_out: bool
    exception: BaseException | None


def run_cli(argv: list[str], limit_s: float = ACCEPTED_LIMIT_S) -> Outcome:
    """Run ``scalinglab ARGV`` in-process; stop it after ``limit_s`` seconds."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    exc: BaseException | None = None
    timed_out = False

    def _alarm(signum: int, frame: Any) -> None:
        raise _TimeUp

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
    except SystemExit as e:
        code = e.code if e.code is not None else 0
    except _TimeUp:
        timed_out = True
    except BaseException as e:  # noqa: BLE001 - a traceback is what the harness looks for
        exc, code = e, 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return Outcome(code, err.getvalue(), out.getvalue(), timed_out, exc)


def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    files = {}
    for r in roots:
        for p in r.rglob("*"):
            if p.is_file() and not p.is_symlink():
                st_ = p.stat()
                files[str(p)] = (st_.st_size, st_.st_mtime_ns)
    return files


def base_argv(cmd: Any, verb: tuple[str, ...], inp: Inputs, case_dir: Path) -> dict[str, list[str]]:
    """Tiny valid inputs for every argument and required option, plus the SMALL options."""
    argv: dict[str, list[str]] = {}
    opts = {o for p in _params(cmd) for o in p.opts}
    for p in _params(cmd):
        k = kind_of(p)
        is_arg = getattr(p, "param_type_name", "") == "argument"
        if not (is_arg or p.required or k == "out"):
            continue
        if k == "out":
            value = str(case_dir / "out")
        elif p.name == "data":
            value = str(inp.csv)
        else:
            value = str(inp.corpus)
        argv[p.name] = [value] if is_arg else [_flag(p), value]
    if "data" in argv:  # fit: name its columns
        for o, v in (("--x", "x"), ("--y", "loss")):
            if o in opts:
                argv[o] = [o, v]
    for o, v in SMALL.items():
        if o in opts:
            argv.setdefault(o, [o, v])
    return argv


def check_case(
    verb: tuple[str, ...],
    cmd: Any,
    p: Any,
    value: str,
    must_fail: bool,
    inp: Inputs,
    case_dir: Path,
) -> Outcome:
    """Run one case and assert the harness's invariants; return its outcome."""
    argv_parts = base_argv(cmd, verb, inp, case_dir)
    is_arg = getattr(p, "param_type_name", "") == "argument"
    flag = None if is_arg else _flag(p)
    # Drop the base value of this option (and of whatever SMALL set under the same flag).
    argv_parts.pop(p.name, None)
    if flag:
        argv_parts.pop(flag, None)
    argv = [*verb]
    if kind_of(p) == "flag":
        argv += [flag]  # a flag has no bad value: it must simply not break the verb
    elif is_arg:
        argv += [value]
    # arguments first, in declaration order, then options
    for q in _params(cmd):
        if q.name in argv_parts and getattr(q, "param_type_name", "") == "argument":
            argv += argv_parts.pop(q.name)
    for parts in argv_parts.values():
        argv += parts
    if not is_arg and kind_of(p) != "flag":
        argv += [f"{flag}={value}"] if value.startswith("-") or value == "" else [flag, value]
    before = _snapshot(inp.root, case_dir)
    r = run_cli(argv)
    CASES[" ".join(verb)] = CASES.get(" ".join(verb), 0) + 1
    after = _snapshot(inp.root, case_dir)
    where = f"scalinglab {' '.join(argv)}"
    assert r.exception is None, f"{where}: traceback {type(r.exception).__name__}: {r.exception}"
    assert "Traceback" not in r.stderr + r.stdout, f"{where}: {r.stderr}"
    if r.code == 2:
        # Status lines of work already done (tokenizing a raw source) may come first.
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"{where}: stderr {r.stderr!r}"
        assert lines[-1].startswith("error: "), f"{where}: stderr {r.stderr!r}"
    else:
        assert not must_fail, f"{where}: exit {r.code}, expected 2 (stderr {r.stderr[-300:]!r})"
        assert r.code == 0 or r.timed_out, f"{where}: exit {r.code}: {r.stderr[-500:]!r}"
    for f in before.keys() | after.keys():
        if f.startswith(str(inp.root)):
            assert after.get(f) == before.get(f), f"{where}: added or changed an input {f}"
    for f in (f for f in after if before.get(f) != after[f]):
        assert_complete(Path(f), where)
    return r


def assert_complete(f: Path, where: str) -> None:
    """A file a case left behind is a complete result: no temporary file, JSON that parses,
    a corpus that loads with its checks."""
    assert not f.name.endswith(".tmp") and ".tmp" not in f.parent.name, f"{where}: left {f}"
    if f.suffix == ".json":
        try:
            json.loads(f.read_text())
        except ValueError as e:
            raise AssertionError(f"{where}: half-written {f}: {e}") from None
    if f.name == "meta.json" and (f.parent / "tokens.bin").exists():
        sl.corpus.load(f.parent)


# -- the tests -----------------------------------------------------------------------------
VERBS = commands()
OPTIONS = [(verb, cmd, p) for verb, cmd in VERBS for p in _params(cmd)]
_IDS = [f"{' '.join(v)}:{p.name}" for v, _c, p in OPTIONS]


def _examples() -> int:
    return int(os.environ.get("SCALINGLAB_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("case")
    cwd = Path.cwd()
    os.chdir(d)
    try:
        yield d
    finally:
        os.chdir(cwd)


def _fresh(case_dir: Path) -> None:
    for p in case_dir.iterdir():
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _fuzz(verb, cmd, p, inputs: Inputs, case_dir: Path, examples: int) -> None:
    kind = kind_of(p)

    @settings(
        max_examples=1 if kind == "flag" else examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(values(kind, inputs, verb, p.name))
    def run(drawn: tuple[str, bool]) -> None:
        _fresh(case_dir)
        check_case(verb, cmd, p, drawn[0], drawn[1], inputs, case_dir)

    run()


@pytest.mark.parametrize(("verb", "cmd", "p"), OPTIONS, ids=_IDS)
def test_bad_values(verb, cmd, p, inputs: Inputs, case_dir: Path) -> None:
    _fuzz(verb, cmd, p, inputs, case_dir, _examples())


@pytest.mark.slow
@pytest.mark.parametrize(("verb", "cmd", "p"), OPTIONS, ids=_IDS)
def test_bad_values_long(verb, cmd, p, inputs: Inputs, case_dir: Path) -> None:
    _fuzz(verb, cmd, p, inputs, case_dir, 40)


def test_every_verb_and_option_is_covered() -> None:
    """The harness's list comes from the app: every registered verb is there, with its options."""
    names = {" ".join(v) for v, _ in VERBS}
    assert {"predict", "stats", "tokenize", "train", "sweep", "fit", "validate"} <= names
    assert any(n.startswith("synth ") for n in names) and "report collapse" in names
    for verb, cmd in VERBS:
        assert {p.name for v, _c, p in OPTIONS if v == verb} == {p.name for p in _params(cmd)}
        assert all(kind_of(p) for p in _params(cmd))


# -- the two cases found by hand (regressions) ------------------------------------------------
def test_predict_out_an_existing_file(inputs: Inputs, case_dir: Path) -> None:
    afile = case_dir / "afile"
    afile.write_text("keep me\n")
    r = run_cli(["predict", str(inputs.corpus), "--out", str(afile), "--entropy", "counts"])
    assert r.exception is None and r.code == 2, (r.code, r.exception, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "afile" in lines[0]
    assert "existing file" in lines[0]
    assert afile.read_text() == "keep me\n"


def test_stats_on_a_corpus_with_an_id_above_vocab_size(inputs: Inputs, case_dir: Path) -> None:
    out = case_dir / "st"
    r = run_cli(["stats", str(inputs.bad["corrupt-corpus"]), "--out", str(out)])
    assert r.exception is None and r.code == 2, (r.code, r.exception, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: corrupt corpus:")
    assert "tokens.bin" in lines[0] and "vocab_size 24" in lines[0]
    assert not out.exists()


def test_harness_catches_a_traceback(inputs: Inputs, case_dir: Path, monkeypatch) -> None:
    """The harness is not vacuous: a verb that ends in a plain exception fails it."""
    measure_mod = importlib.import_module("scalinglab.stats.measure")

    def broken(*a: Any, **kw: Any) -> None:
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(measure_mod, "measure", broken)
    verb, cmd = next((v, c) for v, c in VERBS if v == ("stats",))
    p = next(q for q in _params(cmd) if q.name == "max_n")
    with pytest.raises(AssertionError, match="traceback ValueError"):
        check_case(verb, cmd, p, "4", False, inputs, case_dir)


def test_harness_catches_a_multi_line_error(inputs: Inputs, case_dir: Path, monkeypatch) -> None:
    measure_mod = importlib.import_module("scalinglab.stats.measure")
    from scalinglab.errors import UserError

    def chatty(*a: Any, **kw: Any) -> None:
        import sys

        print("error: a first complaint", file=sys.stderr)
        raise UserError("and a second one")

    monkeypatch.setattr(measure_mod, "measure", chatty)
    verb, cmd = next((v, c) for v, c in VERBS if v == ("stats",))
    p = next(q for q in _params(cmd) if q.name == "max_n")
    with pytest.raises(AssertionError, match="stderr"):
        check_case(verb, cmd, p, "4", False, inputs, case_dir)


def test_time_guard_stops_an_accepted_case(case_dir: Path, monkeypatch) -> None:
    """A value accepted by a verb that then works for long is stopped at the case's limit."""
    synth_cli = importlib.import_module("scalinglab.synth.cli")

    def slow(**kw: Any) -> None:
        time.sleep(30)

    monkeypatch.setattr(synth_cli, "generate_markov", slow)
    t0 = time.perf_counter()
    r = run_cli(["synth", "markov", "--out", str(case_dir / "o"), "--tokens", "1000"], limit_s=0.5)
    assert r.timed_out and time.perf_counter() - t0 < 5
    assert not (case_dir / "o").exists() and not list(case_dir.glob(".o.lock"))  # released
