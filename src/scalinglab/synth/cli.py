"""Command-line verbs of scalinglab.synth: ``scalinglab synth KIND [options] --out DIR``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

synth_app = typer.Typer(
    name="synth",
    help="Generate synthetic corpora with known structure (truth.json beside the tokens).",
    no_args_is_help=True,
    add_completion=False,
)

OUT = typer.Option(..., "--out", "-o", help="Output corpus directory.")
SEED = typer.Option(0, "--seed", help="Random seed (recorded in meta.json).")


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[int], None]]:
    from .._progress import make_progress

    with make_progress(transient=True) as prog:
        task = prog.add_task(what, total=total)
        yield lambda k: prog.advance(task, k)


def _summary(corpus, started: float, highlights: dict[str, Any]) -> None:
    """Print a short table: corpus size and the truth's headline numbers."""
    from rich.table import Table

    from .._progress import console

    dt = time.perf_counter() - started
    t = Table(title=f"synth {corpus.meta['generator']['kind']} -> {corpus.path}", box=None)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("tokens", f"{corpus.num_tokens:,}")
    t.add_row("vocabulary", f"{corpus.vocab_size:,}")
    t.add_row("documents", f"{corpus.num_documents:,}")
    for k, v in highlights.items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    t.add_row("seconds (sampling, truth, writing)", f"{dt:.2f}")
    console.print(t)
    console.print(f"truth: {Path(corpus.path) / 'truth.json'}", highlight=False)


def _truth(corpus) -> dict[str, Any]:
    from .._io import read_json

    return read_json(Path(corpus.path) / "truth.json")


@synth_app.command("markov")
def markov_cmd(
    out: Path = OUT,
    vocab: int = typer.Option(1024, "--vocab", "-V", help="Vocabulary size V."),
    order: int = typer.Option(1, "--order", "-k", help="Order k of the chain."),
    alpha: float = typer.Option(1.0, "--alpha", help="Dirichlet concentration of each row."),
    tokens: int = typer.Option(1_000_000, "--tokens", "-n", help="Tokens to generate."),
    segment_length: int = typer.Option(
        8192, "--segment-length", help="Tokens per independent stationary segment."
    ),
    transition: Path | None = typer.Option(
        None, "--transition", help=".npy (V^k, V) transition table to use."
    ),
    max_lag: int = typer.Option(64, "--max-lag", help="Exact C(n) norms for lags 1..max-lag."),
    seed: int = SEED,
) -> None:
    """Markov chain of order k (Dirichlet-random or given); exact H_n and C(n) in truth.json.

    Example: scalinglab synth markov --vocab 1024 --order 1 --tokens 10000000 --out out/mk
    """
    import numpy as np

    from ..errors import UserError
    from .markov import generate_markov

    t0 = time.perf_counter()
    table = None
    if transition is not None:
        if not transition.is_file():
            raise UserError(f"transition file not found: {transition}")
        try:
            table = np.load(transition, allow_pickle=False)
        except ValueError as e:
            raise UserError(f"{transition}: not a .npy array ({e})") from None
    with _progress(tokens, "sampling") as adv:
        c = generate_markov(
            out,
            vocab_size=vocab,
            order=order,
            alpha=alpha,
            num_tokens=tokens,
            seed=seed,
            segment_length=segment_length,
            transition=table,
            max_lag=max_lag,
            progress=adv,
        )
    tr = _truth(c)
    hl = {"entropy rate (nats)": tr["entropy_rate"]["nats"], "H_0 (nats)": tr["H_n"]["nats"][0]}
    if "correlations" in tr:
        hl["||C(1)||_op"] = tr["correlations"]["operator_norm"][0]
    _summary(c, t0, hl)


@synth_app.command("powerlaw")
def powerlaw_cmd(
    out: Path = OUT,
    vocab: int = typer.Option(64, "--vocab", "-V", help="Vocabulary size V."),
    beta: float = typer.Option(0.5, "--beta", help="Exponent of ||C(n)|| ~ n^-beta."),
    tau_min: float = typer.Option(1.0, "--tau-min", help="Shortest relaxation time."),
    tau_max: float = typer.Option(1e4, "--tau-max", help="Longest relaxation time."),
    modes_per_octave: float = typer.Option(2.0, "--modes-per-octave"),
    tokens: int = typer.Option(1_000_000, "--tokens", "-n"),
    seed: int = SEED,
) -> None:
    """Source with exactly known power-law correlations C(n) (reference for beta estimators).

    Example: scalinglab synth powerlaw --beta 0.8 --tau-max 1e5 --tokens 10000000 --out out/pl
    """
    from .markov import generate_powerlaw

    t0 = time.perf_counter()
    with _progress(tokens, "sampling") as adv:
        c = generate_powerlaw(
            out,
            vocab_size=vocab,
            beta=beta,
            tau_min=tau_min,
            tau_max=tau_max,
            modes_per_octave=modes_per_octave,
            num_tokens=tokens,
            seed=seed,
            progress=adv,
        )
    tr = _truth(c)
    _summary(
        c,
        t0,
        {
            "beta": tr["beta"],
            "power-law window": tr["power_law_window"],
            "||C(1)||_op": tr["correlations"]["operator_norm"][0],
        },
    )


@synth_app.command("facts")
def facts_cmd(
    out: Path = OUT,
    facts: int = typer.Option(32, "--facts", "-K", help="Facts K (vocabulary 2K), 1..4096."),
    a: float = typer.Option(2.5, "--zipf", "-a", help="Zipf exponent a of P(k) ~ k^-a, 0..8."),
    tau0: float = typer.Option(4.0, "--tau0", help="Timescale of fact 1 (tokens), > 0."),
    c: float = typer.Option(
        2.5, "--tau-exponent", "-c", help="Timescales tau_k = tau0 k^c, c in 0..8."
    ),
    tokens: int = typer.Option(1_000_000, "--tokens", "-n", help="Tokens to generate."),
    max_n: int = typer.Option(1024, "--max-n", help="Exact H_n for n = 0..max-n."),
    max_lag: int = typer.Option(131072, "--max-lag", help="Exact C(n) norms up to this lag."),
    seed: int = SEED,
) -> None:
    """Facts with slowly flipping bits (Santa Fe process): exact H_n, C(n), gamma, beta, alpha_D.

    Example: scalinglab synth facts -K 32 -a 2.5 -c 2.5 --tau0 4 --tokens 10000000 --out out/facts
    """
    from ..errors import UserError
    from .facts import generate_facts

    if tokens < 1:
        raise UserError(f"--tokens must be >= 1, got {tokens}")
    t0 = time.perf_counter()
    with _progress(tokens, "sampling") as adv:
        corpus = generate_facts(
            out,
            num_facts=facts,
            a=a,
            tau0=tau0,
            c=c,
            num_tokens=tokens,
            seed=seed,
            max_n=max_n,
            max_lag=max_lag,
            progress=adv,
        )
    tr = _truth(corpus)
    ex = tr["exponents"]
    hn = tr["H_n"]["nats"]
    hl: dict[str, Any] = {
        "H_0, H_1 (nats)": f"{hn[0]:.4f}, {hn[1]:.4f}",
        "H_inf (nats)": tr["H_inf"]["nats"],
        "gamma, beta_op, beta_F (asymptotic)": ", ".join(
            "-" if ex[k] is None else f"{ex[k]:.4g}"
            for k in ("gamma", "beta_operator", "beta_frobenius")
        ),
        "alpha_D = gamma / (2 beta_op)": ex["alpha_D_operator"]
        if ex["alpha_D_operator"] is not None
        else "-",
        "power-law windows (gamma; beta_op)": (
            f"{tr['power_law_window']['gamma']}; {tr['power_law_window']['beta_operator']}"
        ),
    }
    _summary(corpus, t0, hl)


@synth_app.command("rhm")
def rhm_cmd(
    out: Path = OUT,
    v: int = typer.Option(16, "--vocab", "-v", help="Symbols per level v."),
    m: int = typer.Option(4, "--rules", "-m", help="Rules per symbol m."),
    s: int = typer.Option(2, "--arity", "-s", help="Symbols per rule s."),
    levels: int = typer.Option(6, "--levels", "-L", help="Depth L (sequences of s^L tokens)."),
    classes: int | None = typer.Option(None, "--classes", help="Root classes n_c (default v)."),
    train: int = typer.Option(10_000, "--train", help="Training sequences."),
    test: int = typer.Option(0, "--test", help="Held-out sequences (disjoint from training)."),
    replace: bool = typer.Option(
        False, "--replace/--no-replace", help="Sample with replacement (sequences may repeat)."
    ),
    balanced: bool = typer.Option(
        False, "--balanced", help="Balanced rules: every position uniform."
    ),
    seed: int = SEED,
) -> None:
    """Random Hierarchy Model; truth: number of sequences, entropy, beta = ln m / ln s, exact C(n).

    Example: scalinglab synth rhm -v 16 -m 4 -s 2 -L 6 --train 20000 --test 2000 --out out/rhm
    """
    from .rhm import generate_rhm

    t0 = time.perf_counter()
    c = generate_rhm(
        out,
        v=v,
        m=m,
        s=s,
        L=levels,
        n_c=classes,
        num_train=train,
        num_test=test,
        replace=replace,
        balanced=balanced,
        seed=seed,
    )
    tr = _truth(c)
    hl: dict[str, Any] = {
        "distinct sequences": f"10^{tr['log10_num_sequences']:.1f}",
        "beta = ln m / ln s": tr["beta"],
    }
    if "beta_fit" in tr:
        hl["beta of exact stream C(n)"] = tr["beta_fit"]["stream"]
    hl["entropy rate (nats)"] = tr["entropy_rate"]["nats"]
    _summary(c, t0, hl)


@synth_app.command("pcfg")
def pcfg_cmd(
    out: Path = OUT,
    v: int = typer.Option(16, "--vocab", "-v", help="Symbols per level v."),
    f: float = typer.Option(
        0.25, "--f", help="Ambiguity knob f (fraction of tuples that are rules)."
    ),
    p2: float = typer.Option(0.5, "--p2", help="Probability of a binary rule."),
    p3: float | None = typer.Option(None, "--p3", help="Probability of a ternary rule (1 - p2)."),
    levels: int = typer.Option(5, "--levels", "-L", help="Depth L."),
    classes: int | None = typer.Option(None, "--classes", help="Root classes (default v)."),
    sequences: int = typer.Option(10_000, "--sequences", help="Sequences to generate."),
    seed: int = SEED,
) -> None:
    """Varying-tree PCFG with binary/ternary rules and the ambiguity knob f.

    Example: scalinglab synth pcfg -v 16 --f 0.375 -L 5 --sequences 20000 --out out/pcfg
    """
    from .pcfg import generate_pcfg

    t0 = time.perf_counter()
    c = generate_pcfg(
        out, v=v, f=f, p2=p2, p3=p3, L=levels, n_c=classes, num_sequences=sequences, seed=seed
    )
    tr = _truth(c)
    _summary(
        c,
        t0,
        {
            "mean length": tr["length_mean"],
            "m2, m3": f"{tr['m2']}, {tr['m3']}",
            "derivation entropy (nats)": tr["derivation_entropy"]["nats"],
        },
    )


@synth_app.command("walk")
def walk_cmd(
    out: Path = OUT,
    graph: str = typer.Option("er", "--graph", help="er | ba | regular."),
    nodes: int = typer.Option(8192, "--nodes"),
    edges: int = typer.Option(50_000, "--edges", help="Edges (er)."),
    attach: int = typer.Option(3, "--attach", help="Edges per new node (ba)."),
    degree: int = typer.Option(3, "--degree", help="Degree (regular)."),
    bias: float = typer.Option(
        0.0, "--bias", help="Degree bias b: P(i->j) ~ degree(j)^b (0 = unbiased)."
    ),
    tokens: int = typer.Option(1_000_000, "--tokens", "-n"),
    segment_length: int = typer.Option(8192, "--segment-length"),
    seed: int = SEED,
) -> None:
    """Random walk on a random graph (tokens = node ids); truth: exact entropy rate.

    Example: scalinglab synth walk --graph er --nodes 8192 --edges 50000 --out out/er
    """
    from .walks import generate_walk

    t0 = time.perf_counter()
    with _progress(tokens, "walking") as adv:
        c = generate_walk(
            out,
            graph=graph,
            nodes=nodes,
            edges=edges,
            attach=attach,
            degree=degree,
            bias=bias,
            num_tokens=tokens,
            segment_length=segment_length,
            seed=seed,
            progress=adv,
        )
    tr = _truth(c)
    _summary(
        c,
        t0,
        {
            "entropy rate (nats)": tr["entropy_rate"]["nats"],
            "H_0 (nats)": tr["H_n"]["nats"][0],
            "component nodes": tr["component_nodes"],
        },
    )


@synth_app.command("ladder")
def ladder_cmd(
    corpus: str = typer.Argument(..., help="Source corpus (corpus dir or raw text)."),
    out: Path = OUT,
    orders: str = typer.Option("1,2,3,4", "--orders", help="k of each rung (k-gram models)."),
    tokens: int = typer.Option(1_000_000, "--tokens", "-n", help="Tokens per rung."),
    seed: int = SEED,
) -> None:
    """Language ladder: samples of the corpus's k-gram models into OUT/k{k}, with ladder.json.

    Example: scalinglab synth ladder shared/data/tiny-shakespeare.txt --orders 1,2,3 --out out/ld
    """
    from rich.table import Table

    from .._progress import console
    from ..errors import UserError
    from .ladder import generate_ladder

    try:
        ks = [int(x) for x in orders.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--orders must be integers separated by commas, got {orders!r}") from None
    if not ks:
        raise UserError("--orders is empty")
    t0 = time.perf_counter()
    with _progress(tokens * len(ks), "sampling") as adv:
        rungs = generate_ladder(out, corpus, orders=ks, num_tokens=tokens, seed=seed, progress=adv)
    t = Table(title=f"language ladder -> {out} ({time.perf_counter() - t0:.1f} s)", box=None)
    for col in ("k", "contexts", "entropy rate (nats)", "plug-in H_{k-1} (nats)"):
        t.add_column(col, justify="right")
    for k, c in rungs.items():
        tr = _truth(c)
        t.add_row(
            str(k),
            f"{tr['contexts']:,}",
            f"{tr['entropy_rate']['nats']:.4f}",
            f"{tr['plugin_conditional_entropy']['nats']:.4f}",
        )
    console.print(t)


@synth_app.command("lcg")
def lcg_cmd(
    out: Path = OUT,
    modulus: int = typer.Option(2048, "--modulus", "-m", help="m (<= 2^32, or 2^k up to 2^64)."),
    pairs: int = typer.Option(256, "--pairs", help="Random (a, c) pairs (one sequence each)."),
    pair: list[str] | None = typer.Option(
        None,
        "--pair",
        help="A given (a, c) pair as A,C (repeat for several; replaces the random --pairs).",
    ),
    seq_len: int = typer.Option(512, "--seq-len", help="Numbers per sequence."),
    base: int | None = typer.Option(
        None, "--base", "-b", help="Digit base = vocabulary (default: one token per number)."
    ),
    keep_bits: int | None = typer.Option(None, "--keep-bits", help="Truncated LCG: top bits kept."),
    test_pairs: int = typer.Option(0, "--test-pairs", help="Held-out (unseen) pairs."),
    full_period: bool = typer.Option(
        True, "--full-period/--any-period", help="Hull-Dobell full-period pairs."
    ),
    seed: int = SEED,
) -> None:
    """LCG sequences x -> (a x + c) mod m for many (a, c) pairs, as base-b digits.

    Example: scalinglab synth lcg -m 65536 --pairs 1024 --seq-len 256 --base 256 --out out/lcg
    """
    from ..errors import UserError
    from .prng import generate_lcg

    given = None
    if pair:
        given = []
        for text in pair:
            parts = text.replace(" ", "").split(",")
            try:
                a_val, c_val = (int(v, 0) for v in parts)
            except ValueError:
                raise UserError(f"--pair takes two integers A,C, got {text!r}") from None
            given.append((a_val, c_val))
    t0 = time.perf_counter()
    c = generate_lcg(
        out,
        modulus=modulus,
        num_pairs=pairs,
        pairs=given,
        seq_len=seq_len,
        base=base,
        keep_bits=keep_bits,
        test_pairs=test_pairs,
        full_period=full_period,
        seed=seed,
    )
    tr = _truth(c)
    _summary(
        c,
        t0,
        {
            "modulus": tr["modulus"],
            "digits per number": tr["digits_per_number"],
            "full-period pairs": sum(tr["full_period"]),
        },
    )


@synth_app.command("pcg")
def pcg_cmd(
    out: Path = OUT,
    bits: int = typer.Option(64, "--bits", help="State bits: 64 or 128."),
    output: str = typer.Option("xsh-rr", "--output", help="rs | rr | xsh-rs | xsh-rr | xsl-rr."),
    sequences: int = typer.Option(256, "--sequences"),
    seq_len: int = typer.Option(256, "--seq-len"),
    base: int = typer.Option(65536, "--base", "-b", help="Digit base = vocabulary."),
    random_multiplier: bool = typer.Option(
        False, "--random-multiplier", help="A random full-period multiplier per sequence."
    ),
    test_sequences: int = typer.Option(0, "--test-sequences"),
    seed: int = SEED,
) -> None:
    """PCG outputs (permuted LCG states) for many random states/increments, as base-b digits.

    Example: scalinglab synth pcg --bits 64 --output xsh-rr --sequences 512 --base 256 --out out/pcg
    """
    from .prng import generate_pcg

    t0 = time.perf_counter()
    c = generate_pcg(
        out,
        bits=bits,
        output=output,
        num_sequences=sequences,
        seq_len=seq_len,
        base=base,
        random_multiplier=random_multiplier,
        test_sequences=test_sequences,
        seed=seed,
    )
    tr = _truth(c)
    _summary(c, t0, {"output": tr["output"], "digits per number": tr["digits_per_number"]})


@synth_app.command("group")
def group_cmd(
    out: Path = OUT,
    kind: str = typer.Option(
        "cyclic", "--group", "-g", help="cyclic | dihedral | symmetric | alternating."
    ),
    n: int = typer.Option(97, "--n", help="C_n, D_n (order 2n), S_n or A_n."),
    train_fraction: float = typer.Option(0.5, "--train-fraction"),
    seed: int = SEED,
) -> None:
    """All (x, y, x.y) triples of a group, shuffled and split by a training fraction.

    Example: scalinglab synth group --group symmetric --n 5 --train-fraction 0.4 --out out/s5
    """
    from .groups import generate_group

    t0 = time.perf_counter()
    c = generate_group(out, kind=kind, n=n, train_fraction=train_fraction, seed=seed)
    tr = _truth(c)
    _summary(
        c,
        t0,
        {
            "group": tr["name"],
            "order": tr["order"],
            "abelian": tr["abelian"],
            "train / test triples": f"{tr['train_triples']} / {tr['test_triples']}",
        },
    )


def register(app: typer.Typer) -> None:
    """Add ``scalinglab synth KIND`` to the scalinglab app."""
    app.add_typer(synth_app, name="synth")
