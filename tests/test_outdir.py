"""The --out helper: refused before any work, created and removed again, one writer at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scalinglab.errors import UserError
from scalinglab.outdir import check, claim, kinds_in


def test_existing_file_refused(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(UserError, match="is an existing file"):
        claim(f, "prediction")
    assert f.read_text() == "x"


def test_below_a_file_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="is a file, not a directory"):
        claim(tmp_path / "afile" / "sub" / "out", "fit")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_parent_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(UserError, match="not writable"):
            claim(ro / "out", "fit")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(
    ("files", "kind", "held"),
    [
        (["meta.json", "tokens.bin"], "prediction", "a token corpus"),
        (["sweep.json"], "fit", "a sweep"),
        (["prediction.json"], "corpus", "a prediction"),
        (["fit.json"], "run", "a fit"),
        (["validation.json"], "stats", "a validation"),
    ],
)
def test_other_kind_of_result_refused(tmp_path: Path, files: list[str], kind: str, held: str):
    for f in files:
        (tmp_path / f).write_text("{}")
    assert kinds_in(tmp_path) and kind not in kinds_in(tmp_path)
    with pytest.raises(UserError, match=f"holds {held}"):
        claim(tmp_path, kind)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # nothing added


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        (["correlations.json", "entropy.json"], "prediction"),
        (["prediction.json"], "stats"),
        (["sweep.json"], "collapse"),
        (["collapse.json"], "sweep"),
        (["notes.txt"], "fit"),
    ],
)
def test_compatible_results_accepted(tmp_path: Path, files: list[str], kind: str) -> None:
    for f in files:
        (tmp_path / f).write_text("{}")
    with claim(tmp_path, kind) as c:
        assert c.out == tmp_path.absolute()
    assert all((tmp_path / f).exists() for f in files)


def test_created_dirs_removed_when_left_empty(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    c = claim(out, "prediction")
    assert out.is_dir() and (tmp_path / "a" / "b" / ".out.lock").exists()
    c.release()
    assert not (tmp_path / "a").exists()


def test_created_dir_kept_when_a_result_was_written(tmp_path: Path) -> None:
    out = tmp_path / "a" / "out"
    with claim(out, "fit"):
        (out / "fit.json").write_text("{}")
    assert (out / "fit.json").exists()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["out"]  # no lock file left


def test_corpus_kind_creates_only_parents(tmp_path: Path) -> None:
    out = tmp_path / "p" / "corpus"
    with claim(out, "corpus", create=False):
        assert (tmp_path / "p").is_dir() and not out.exists()
    assert not (tmp_path / "p").exists()


def test_check_creates_nothing(tmp_path: Path) -> None:
    check(tmp_path / "x" / "y", "stats")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="unknown kind"):
        check(tmp_path, "nonsense")


_HOLD = textwrap.dedent(
    """
    import sys, time
    from scalinglab.outdir import claim
    from scalinglab.errors import UserError
    try:
        with claim(sys.argv[1], "fit"):
            print("held", flush=True)
            time.sleep(float(sys.argv[2]))
    except UserError as e:
        print("refused:", e, flush=True)
        sys.exit(2)
    """
)


def test_second_process_refused_while_first_writes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out), "3"], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None and first.stdout.readline().strip() == "held"
    second = subprocess.run(
        [sys.executable, "-c", _HOLD, str(out), "0"], capture_output=True, text=True
    )
    assert second.returncode == 2
    assert "being written by another scalinglab process" in second.stdout
    assert f"pid {first.pid}" in second.stdout
    with pytest.raises(UserError, match="being written"):  # this process too
        claim(out, "fit")
    first.wait(timeout=30)
    with claim(out, "fit"):  # free again once the first has finished
        pass


def test_lock_released_by_sigkill(tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out), "60"], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    p.kill()
    p.wait(timeout=30)
    with claim(out, "fit"):  # the kernel dropped the lock with the process
        pass


_WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    from scalinglab.outdir import claim
    from scalinglab.errors import UserError
    from scalinglab._io import write_json
    out, tag = sys.argv[1], sys.argv[2]
    try:
        with claim(out, "fit"):
            for name in ("a.json", "b.json", "fit.json"):
                write_json(os.path.join(out, name), {"writer": tag})
                time.sleep(0.2)
    except UserError as e:
        print(e)
        sys.exit(2)
    """
)


def test_two_concurrent_writers_never_mix(tmp_path: Path) -> None:
    """Two processes started together on one --out: the files all come from one of them."""
    for trial in range(3):
        out = tmp_path / f"out{trial}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(out), tag],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for tag in ("A", "B")
        ]
        codes = [p.wait(timeout=60) for p in procs]
        assert sorted(codes) in ([0, 0], [0, 2]), [p.stderr.read() for p in procs]  # type: ignore[union-attr]
        writers = {
            json.loads((out / n).read_text())["writer"] for n in ("a.json", "b.json", "fit.json")
        }
        assert len(writers) == 1
        if sorted(codes) == [0, 2]:  # the refused one wrote nothing
            winner = "AB"[codes.index(0)]
            assert writers == {winner}
        time.sleep(0.05)


def test_claim_removes_killed_writers_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "fit.json").write_text("{}")
    (out / ".fit.json.abcd.tmp").write_text('{"half')
    (out / ".fit.png.efgh.tmp").write_bytes(b"\x89PNG")
    with claim(out, "fit"):
        assert sorted(p.name for p in out.iterdir()) == ["fit.json"]


def test_two_concurrent_stats_on_one_out_never_mix(tmp_path: Path) -> None:
    """Two `scalinglab stats` of different corpora started together on one --out: both of
    its files describe one corpus, the one whose run succeeded (last)."""
    import numpy as np

    import scalinglab as sl

    rng = np.random.default_rng(0)
    corpora = {}
    for name in ("a", "b"):
        c = sl.corpus.write_corpus(tmp_path / name, rng.integers(0, 16, 20000), 16)
        corpora[c.content_hash] = name
    out = tmp_path / "out"
    env = {**os.environ, "SCALINGLAB_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scalinglab.cli",
                "stats",
                str(tmp_path / name),
                "--out",
                str(out),
                "--boot",
                "10",
                "--max-n",
                "4",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for name in ("a", "b")
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = [c for c, _ in results]
    print("concurrent stats exit codes:", codes)
    assert sorted(codes) in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert err.strip().startswith("error: --out") and "being written" in err
    hashes = {
        json.loads((out / f).read_text())["corpus"]["content_hash"]
        for f in ("correlations.json", "entropy.json")
    }
    assert len(hashes) == 1 and hashes <= set(corpora)
    if sorted(codes) == [0, 2]:
        assert corpora[hashes.pop()] == "ab"[codes.index(0)]
