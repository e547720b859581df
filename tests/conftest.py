"""Shared fixtures. Per-topic fixtures live in the topic's own test files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():  # a clone elsewhere: look beside the repository root
    SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _quiet_and_isolated(tmp_path_factory: pytest.TempPathFactory):
    """No progress bars in tests, and a private corpus cache."""
    os.environ["SCALINGLAB_NO_PROGRESS"] = "1"
    os.environ["SCALINGLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip("shared/data not present")
    return SHARED


@pytest.fixture(scope="session")
def shakespeare_txt(shared_data: Path) -> Path:
    return shared_data / "tiny-shakespeare.txt"


@pytest.fixture(scope="session")
def shakespeare_char(shakespeare_txt: Path, tmp_path_factory: pytest.TempPathFactory):
    """tiny-shakespeare tokenized with the char tokenizer (a TokenCorpus)."""
    import scalinglab as sl

    return sl.corpus.tokenize(shakespeare_txt, "char", tmp_path_factory.mktemp("ts") / "char")


def pytest_terminal_summary(terminalreporter) -> None:
    """Report how many cases the fuzzing harness (tests/test_fuzz_cli.py) tried."""
    import sys

    for name, mod in list(sys.modules.items()):
        cases = getattr(mod, "CASES", None) if name.endswith("test_fuzz_cli") else None
        if cases:
            per_verb = ", ".join(f"{v} {n}" for v, n in sorted(cases.items()))
            terminalreporter.write_sep("-", "fuzzing harness")
            terminalreporter.write_line(
                f"{sum(cases.values())} cases tried over {len(cases)} verbs ({per_verb})"
            )
