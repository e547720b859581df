"""Tokenization throughput: scalinglab's batched, multi-core pipeline against a plain loop.

For bpe:8192 on tiny-shakespeare and on python-stdlib, prints tokens per second of
``sl.corpus.tokenize`` (streaming, batched ``encode_batch`` on all cores, written to
disk) and of a plain single-threaded ``tokenizer.encode`` loop over the same
documents, timed in the same run, and their ratio. Then tokenizes a generated
text source much larger than one batch and prints the peak resident memory,
which stays flat as the source grows.

    python benchmarks/tokenize.py [--big-mb 512]
"""

from __future__ import annotations

import sys

# This script's name shadows the standard library's ``tokenize`` module when run
# as ``python benchmarks/tokenize.py``: drop its folder from the import path.
if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    sys.path.pop(0)

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import scalinglab as sl  # noqa: E402
from scalinglab.corpus.sources import open_source  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def bench(source: str, work: Path) -> None:
    first = sl.corpus.tokenize(source, "bpe:8192", work / "train")  # trains the BPE
    tj = work / "train" / "tokenizer.json"
    t0 = time.perf_counter()
    c = sl.corpus.tokenize(source, str(tj), work / "enc")
    t_pipe = time.perf_counter() - t0
    assert c.content_hash == first.content_hash

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tj))
    src = open_source(source)
    docs = [text for (_s, _e, text), _nb in src.pieces()]
    t0 = time.perf_counter()
    n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
    t_loop = time.perf_counter() - t0
    # The pipeline cuts documents only where the ids do not change: same count.
    eods = c.num_documents if c.eod_token is not None else 0
    assert n + eods == c.num_tokens, (n, eods, c.num_tokens)
    print(
        f"{Path(source).name:>22}: {c.num_tokens:>10,} tokens | pipeline "
        f"{c.num_tokens / t_pipe:>12,.0f} tok/s | plain encode loop {n / t_loop:>12,.0f} tok/s "
        f"| ratio {t_loop / t_pipe:5.2f}x"
    )


def peak_rss_mb(source: Path, out: Path) -> float:
    code = (
        "import re, scalinglab as sl, sys;"
        "sl.corpus.tokenize(sys.argv[1], 'char', sys.argv[2]);"
        "s = open('/proc/self/status').read();"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', s).group(1)) / 1024)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(source), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SCALINGLAB_NO_PROGRESS": "1"},
    )
    return float(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big-mb", type=int, default=512, help="size of the generated source")
    args = ap.parse_args()
    os.environ.setdefault("SCALINGLAB_NO_PROGRESS", "1")
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench(str(SHARED / "tiny-shakespeare.txt"), work / "ts")
        bench("python-stdlib", work / "py")
        # Memory: peak RSS tokenizing sources of two sizes (char tokenizer, streamed).
        line = "All the world's a stage, and all the men and women merely players. " * 2 + "\n"
        block = line.encode() * ((1 << 20) // len(line))
        for mb in (args.big_mb // 8, args.big_mb):
            p = work / f"big{mb}.txt"
            with open(p, "wb") as f:
                for _ in range(mb):
                    f.write(block)
            rss = peak_rss_mb(p, work / f"c{mb}")
            print(f"generated {mb:>5} MB text source: peak RSS {rss:7.0f} MB")
            p.unlink()


if __name__ == "__main__":
    main()
