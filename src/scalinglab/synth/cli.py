"""Command-line verbs of scalinglab.synth: ``scalinglab synth KIND [options] --out DIR``.

A thin layer: every verb calls one ``generate_*`` function (which checks its
parameters and writes the corpus with its ``truth.json``) and prints
:func:`scalinglab.synth.summary.summarize`. Option defaults are read from the
generators' signatures, so that each default is stated once.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ..outdir import claim
from .facts import generate_facts
from .groups import generate_group
from .ladder import generate_ladder
from .markov import generate_markov, load_transition
from .pcfg import generate_pcfg
from .powerlaw import generate_powerlaw
from .prng import generate_lcg, generate_pcg
from .rhm import generate_rhm
from .summary import SynthSummary, summarize
from .walks import generate_walk

synth_app = typer.Typer(
    name="synth",
    help="Generate synthetic corpora with known structure (truth.json beside the tokens).",
    no_args_is_help=True,
    add_completion=False,
)


def _defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """Keyword defaults of a generator, by parameter name."""
    return {
        k: p.default
        for k, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


MK = _defaults(generate_markov)
PL = _defaults(generate_powerlaw)
FA = _defaults(generate_facts)
RH = _defaults(generate_rhm)
PC = _defaults(generate_pcfg)
WK = _defaults(generate_walk)
LD = _defaults(generate_ladder)
LC = _defaults(generate_lcg)
PG = _defaults(generate_pcg)
GR = _defaults(generate_group)

OUT = typer.Option(..., "--out", "-o", help="Output corpus directory.")
SEED = typer.Option(0, "--seed", help="Random seed (recorded in meta.json).")


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[int], None]]:
    from .._progress import make_progress

    with make_progress(transient=True) as prog:
        task = prog.add_task(what, total=total)
        yield lambda k: prog.advance(task, k)


def _print_summary(s: SynthSummary) -> None:
    """Print a short table: corpus size and the truth's headline numbers."""
    from rich.table import Table

    from .._progress import console, warn

    t = Table(title=f"synth {s.kind} -> {s.path}", box=None)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("tokens", f"{s.tokens:,}")
    t.add_row("vocabulary", f"{s.vocab_size:,}")
    t.add_row("documents", f"{s.documents:,}")
    for k, v in s.highlights.items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    t.add_row("seconds (sampling, truth, writing)", f"{s.seconds:.2f}")
    console.print(t)
    for w in s.warnings:
        warn(w)
    console.print(f"truth: {Path(s.path) / 'truth.json'}", highlight=False)


def _generate(
    generate: Callable[..., Any], args: dict[str, Any], progress: str | None = None
) -> None:
    """Call a generator with a verb's arguments (named as its parameters) and print the summary.

    ``progress`` labels a progress bar over ``args["num_tokens"]`` tokens.
    """
    claim(args["out"], "corpus", create=False)
    t0 = time.perf_counter()
    if progress is None:
        corpus = generate(**args)
    else:
        with _progress(max(int(args["num_tokens"]), 1), progress) as adv:
            corpus = generate(**args, progress=adv)
    _print_summary(summarize(corpus, seconds=time.perf_counter() - t0))


@synth_app.command("markov")
def markov_cmd(
    out: Path = OUT,
    vocab_size: int = typer.Option(MK["vocab_size"], "--vocab", "-V", help="Vocabulary size V."),
    order: int = typer.Option(MK["order"], "--order", "-k", help="Order k of the chain."),
    alpha: float = typer.Option(
        MK["alpha"], "--alpha", help="Dirichlet concentration of each row."
    ),
    num_tokens: int = typer.Option(MK["num_tokens"], "--tokens", "-n", help="Tokens to generate."),
    segment_length: int = typer.Option(
        MK["segment_length"],
        "--segment-length",
        help="Tokens per independent stationary segment.",
    ),
    transition: Path | None = typer.Option(
        None, "--transition", help=".npy (V^k, V) transition table to use."
    ),
    max_lag: int = typer.Option(
        MK["max_lag"], "--max-lag", help="Exact C(n) norms for lags 1..max-lag."
    ),
    seed: int = SEED,
) -> None:
    """Markov chain of order k (Dirichlet-random or given); exact H_n and C(n) in truth.json.

    Example: scalinglab synth markov --vocab 1024 --order 1 --tokens 10000000 --out out/mk
    """
    args = {**locals(), "transition": None if transition is None else load_transition(transition)}
    _generate(generate_markov, args, "sampling")


@synth_app.command("powerlaw")
def powerlaw_cmd(
    out: Path = OUT,
    vocab_size: int = typer.Option(PL["vocab_size"], "--vocab", "-V", help="Vocabulary size V."),
    beta: float = typer.Option(PL["beta"], "--beta", help="Exponent of ||C(n)|| ~ n^-beta."),
    tau_min: float = typer.Option(PL["tau_min"], "--tau-min", help="Shortest relaxation time."),
    tau_max: float = typer.Option(PL["tau_max"], "--tau-max", help="Longest relaxation time."),
    modes_per_octave: float = typer.Option(PL["modes_per_octave"], "--modes-per-octave"),
    num_tokens: int = typer.Option(PL["num_tokens"], "--tokens", "-n"),
    seed: int = SEED,
) -> None:
    """Source with exactly known power-law correlations C(n) (reference for beta estimators).

    Example: scalinglab synth powerlaw --beta 0.8 --tau-max 1e5 --tokens 10000000 --out out/pl
    """
    _generate(generate_powerlaw, locals(), "sampling")


@synth_app.command("facts")
def facts_cmd(
    out: Path = OUT,
    num_facts: int = typer.Option(
        FA["num_facts"], "--facts", "-K", help="Facts K (vocabulary 2K), 1..4096."
    ),
    a: float = typer.Option(FA["a"], "--zipf", "-a", help="Zipf exponent a of P(k) ~ k^-a, 0..8."),
    tau0: float = typer.Option(FA["tau0"], "--tau0", help="Timescale of fact 1 (tokens), > 0."),
    c: float = typer.Option(
        FA["c"], "--tau-exponent", "-c", help="Timescales tau_k = tau0 k^c, c in 0..8."
    ),
    num_tokens: int = typer.Option(FA["num_tokens"], "--tokens", "-n", help="Tokens to generate."),
    max_n: int = typer.Option(FA["max_n"], "--max-n", help="Exact H_n for n = 0..max-n."),
    max_lag: int = typer.Option(
        FA["max_lag"], "--max-lag", help="Exact C(n) norms up to this lag."
    ),
    seed: int = SEED,
) -> None:
    """Facts with slowly flipping bits (Santa Fe process): exact H_n, C(n), gamma, beta, alpha_D.

    Example: scalinglab synth facts -K 32 -a 2.5 -c 2.5 --tau0 4 --tokens 10000000 --out out/facts
    """
    _generate(generate_facts, locals(), "sampling")


@synth_app.command("rhm")
def rhm_cmd(
    out: Path = OUT,
    v: int = typer.Option(RH["v"], "--vocab", "-v", help="Symbols per level v."),
    m: int = typer.Option(RH["m"], "--rules", "-m", help="Rules per symbol m."),
    s: int = typer.Option(RH["s"], "--arity", "-s", help="Symbols per rule s."),
    L: int = typer.Option(RH["L"], "--levels", "-L", help="Depth L (sequences of s^L tokens)."),
    n_c: int | None = typer.Option(RH["n_c"], "--classes", help="Root classes n_c (default v)."),
    num_train: int = typer.Option(RH["num_train"], "--train", help="Training sequences."),
    num_test: int = typer.Option(
        RH["num_test"], "--test", help="Held-out sequences (disjoint from training)."
    ),
    replace: bool = typer.Option(
        RH["replace"],
        "--replace/--no-replace",
        help="Sample with replacement (sequences may repeat).",
    ),
    balanced: bool = typer.Option(
        RH["balanced"], "--balanced", help="Balanced rules: every position uniform."
    ),
    seed: int = SEED,
) -> None:
    """Random Hierarchy Model; truth: number of sequences, entropy, beta = ln m / ln s, exact C(n).

    Example: scalinglab synth rhm -v 16 -m 4 -s 2 -L 6 --train 20000 --test 2000 --out out/rhm
    """
    _generate(generate_rhm, locals())


@synth_app.command("pcfg")
def pcfg_cmd(
    out: Path = OUT,
    v: int = typer.Option(PC["v"], "--vocab", "-v", help="Symbols per level v."),
    f: float = typer.Option(
        PC["f"], "--f", help="Ambiguity knob f (fraction of tuples that are rules)."
    ),
    p2: float = typer.Option(PC["p2"], "--p2", help="Probability of a binary rule."),
    p3: float | None = typer.Option(
        PC["p3"], "--p3", help="Probability of a ternary rule (1 - p2)."
    ),
    L: int = typer.Option(PC["L"], "--levels", "-L", help="Depth L."),
    n_c: int | None = typer.Option(PC["n_c"], "--classes", help="Root classes (default v)."),
    num_sequences: int = typer.Option(
        PC["num_sequences"], "--sequences", help="Sequences to generate."
    ),
    seed: int = SEED,
) -> None:
    """Varying-tree PCFG with binary/ternary rules and the ambiguity knob f.

    Example: scalinglab synth pcfg -v 16 --f 0.375 -L 5 --sequences 20000 --out out/pcfg
    """
    _generate(generate_pcfg, locals())


@synth_app.command("walk")
def walk_cmd(
    out: Path = OUT,
    graph: str = typer.Option(WK["graph"], "--graph", help="er | ba | regular."),
    nodes: int = typer.Option(WK["nodes"], "--nodes"),
    edges: int = typer.Option(WK["edges"], "--edges", help="Edges (er)."),
    attach: int = typer.Option(3, "--attach", help="Edges per new node (ba)."),
    degree: int = typer.Option(3, "--degree", help="Degree (regular)."),
    bias: float = typer.Option(
        WK["bias"], "--bias", help="Degree bias b: P(i->j) ~ degree(j)^b (0 = unbiased)."
    ),
    num_tokens: int = typer.Option(WK["num_tokens"], "--tokens", "-n"),
    segment_length: int = typer.Option(WK["segment_length"], "--segment-length"),
    seed: int = SEED,
) -> None:
    """Random walk on a random graph (tokens = node ids); truth: exact entropy rate.

    Example: scalinglab synth walk --graph er --nodes 8192 --edges 50000 --out out/er
    """
    _generate(generate_walk, locals(), "walking")


@synth_app.command("ladder")
def ladder_cmd(
    corpus: str = typer.Argument(..., help="Source corpus (corpus dir or raw text)."),
    out: Path = OUT,
    orders: str = typer.Option(
        ",".join(map(str, LD["orders"])), "--orders", help="k of each rung (k-gram models)."
    ),
    tokens: int = typer.Option(LD["num_tokens"], "--tokens", "-n", help="Tokens per rung."),
    seed: int = SEED,
) -> None:
    """Language ladder: samples of the corpus's k-gram models into OUT/k{k}, with ladder.json.

    Example: scalinglab synth ladder shared/data/tiny-shakespeare.txt --orders 1,2,3 --out out/ld
    """
    from rich.table import Table

    from .._progress import console, warn
    from .ladder import parse_orders

    claim(out, "ladder")
    ks = parse_orders(orders)
    t0 = time.perf_counter()
    with _progress(tokens * len(ks), "sampling") as adv:
        rungs = generate_ladder(out, corpus, orders=ks, num_tokens=tokens, seed=seed, progress=adv)
    t = Table(title=f"language ladder -> {out} ({time.perf_counter() - t0:.1f} s)", box=None)
    t.add_column("k", justify="right")
    sums = {k: summarize(c) for k, c in rungs.items()}
    for col in next(iter(sums.values())).highlights:
        t.add_column(col, justify="right")
    for k, s in sums.items():
        t.add_row(
            str(k), *(f"{v:,}" if isinstance(v, int) else f"{v:.4f}" for v in s.highlights.values())
        )
    console.print(t)
    for s in sums.values():
        for w in s.warnings:
            warn(w)


@synth_app.command("lcg")
def lcg_cmd(
    out: Path = OUT,
    modulus: int = typer.Option(
        LC["modulus"], "--modulus", "-m", help="m (<= 2^32, or 2^k up to 2^64)."
    ),
    num_pairs: int = typer.Option(
        LC["num_pairs"], "--pairs", help="Random (a, c) pairs (one sequence each)."
    ),
    pairs: list[str] | None = typer.Option(
        None,
        "--pair",
        help="A given (a, c) pair as A,C (repeat for several; replaces the random --pairs).",
    ),
    seq_len: int = typer.Option(LC["seq_len"], "--seq-len", help="Numbers per sequence."),
    base: int | None = typer.Option(
        LC["base"], "--base", "-b", help="Digit base = vocabulary (default: one token per number)."
    ),
    keep_bits: int | None = typer.Option(
        LC["keep_bits"], "--keep-bits", help="Truncated LCG: top bits kept."
    ),
    test_pairs: int = typer.Option(
        LC["test_pairs"], "--test-pairs", help="Held-out (unseen) pairs."
    ),
    full_period: bool = typer.Option(
        LC["full_period"], "--full-period/--any-period", help="Hull-Dobell full-period pairs."
    ),
    seed: int = SEED,
) -> None:
    """LCG sequences x -> (a x + c) mod m for many (a, c) pairs, as base-b digits.

    Example: scalinglab synth lcg -m 65536 --pairs 1024 --seq-len 256 --base 256 --out out/lcg
    """
    _generate(generate_lcg, locals())


@synth_app.command("pcg")
def pcg_cmd(
    out: Path = OUT,
    bits: int = typer.Option(PG["bits"], "--bits", help="State bits: 64 or 128."),
    output: str = typer.Option(
        PG["output"], "--output", help="rs | rr | xsh-rs | xsh-rr | xsl-rr."
    ),
    num_sequences: int = typer.Option(PG["num_sequences"], "--sequences"),
    seq_len: int = typer.Option(PG["seq_len"], "--seq-len"),
    base: int = typer.Option(PG["base"], "--base", "-b", help="Digit base = vocabulary."),
    random_multiplier: bool = typer.Option(
        PG["random_multiplier"],
        "--random-multiplier",
        help="A random full-period multiplier per sequence.",
    ),
    test_sequences: int = typer.Option(PG["test_sequences"], "--test-sequences"),
    seed: int = SEED,
) -> None:
    """PCG outputs (permuted LCG states) for many random states/increments, as base-b digits.

    Example: scalinglab synth pcg --bits 64 --output xsh-rr --sequences 512 --base 256 --out out/pcg
    """
    _generate(generate_pcg, locals())


@synth_app.command("group")
def group_cmd(
    out: Path = OUT,
    kind: str = typer.Option(
        GR["kind"], "--group", "-g", help="cyclic | dihedral | symmetric | alternating."
    ),
    n: int = typer.Option(GR["n"], "--n", help="C_n, D_n (order 2n), S_n or A_n."),
    train_fraction: float = typer.Option(GR["train_fraction"], "--train-fraction"),
    seed: int = SEED,
) -> None:
    """All (x, y, x.y) triples of a group, shuffled and split by a training fraction.

    Example: scalinglab synth group --group symmetric --n 5 --train-fraction 0.4 --out out/s5
    """
    _generate(generate_group, locals())


def register(app: typer.Typer) -> None:
    """Add ``scalinglab synth KIND`` to the scalinglab app."""
    app.add_typer(synth_app, name="synth")
