"""Varying-tree probabilistic context-free grammar with an ambiguity knob.

Model (after arXiv 2602.06065)
    ``L`` levels of ``v`` symbols, root one of ``n_c`` classes. Every symbol of
    a level has ``m2 = round(f v)`` binary rules (pairs of symbols of the level
    below) and ``m3 = round(f v^2)`` ternary rules (triples). At every node a
    binary rule is used with probability ``p2`` and a ternary one with
    ``p3 = 1 - p2``, then a rule of that arity uniformly, so trees have varying
    shapes but every leaf sits at depth ``L`` (sequences of 2^L..3^L tokens).
    The rules of a level are drawn without replacement among the ``v^2`` pairs
    and the ``v^3`` triples, so each tuple has at most one parent (``f <= 1``);
    ``f`` is then the fraction of all pairs and of all triples that are
    productions: a random adjacent pair or triple of symbols can be reduced by
    some rule with probability ``f``, which makes parsing locally ambiguous as
    ``f`` grows (the hierarchy knob is ``L``, the ambiguity knob ``f``).

Truth
    The exact distribution of the sequence length (a Galton-Watson tree with 2
    or 3 children whose leaves all lie at depth L), its mean ``mu^L`` with
    ``mu = 2 p2 + 3 p3`` and variance, the expected entropy of a derivation
    (an upper bound on the entropy of a sequence, reached when the grammar is
    unambiguous) and the measured fraction of reducible tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ._common import as_rng, check_float, check_int, entropy, nats_bits, write_synthetic

__all__ = ["VaryingTreePCFG", "generate_pcfg"]

#: Longest sequence length (3^L) for which the exact length distribution is computed.
EXACT_MAX_LEN = 3**10
#: Most rules (binary and ternary, all levels together) a grammar may hold.
MAX_RULES = 1 << 24


@dataclass
class VaryingTreePCFG:
    """A varying-tree PCFG with its drawn rules.

    Attributes
    ----------
    v, L, n_c : int
        Symbols per level, depth, root classes.
    f, p2 : float
        Ambiguity knob and probability of a binary rule.
    binary, ternary : list of arrays
        ``binary[h-1]`` (parents, m2, 2) and ``ternary[h-1]`` (parents, m3, 3) at
        height h = 1..L; parents = n_c at the root.
    """

    v: int
    f: float
    p2: float
    L: int
    n_c: int
    binary: list[np.ndarray]
    ternary: list[np.ndarray]

    @property
    def p3(self) -> float:
        return 1.0 - self.p2

    @property
    def m2(self) -> int:
        return int(self.binary[0].shape[1])

    @property
    def m3(self) -> int:
        return int(self.ternary[0].shape[1])

    @classmethod
    def random(
        cls,
        v: int,
        f: float,
        L: int,
        *,
        p2: float = 0.5,
        p3: float | None = None,
        n_c: int | None = None,
        seed: int | np.random.Generator | None = 0,
    ) -> VaryingTreePCFG:
        """Draw the binary and ternary rules of every level without replacement."""
        v = check_int("v", v, minimum=2, maximum=4096)
        L = check_int("L", L, minimum=1, maximum=20)
        f = check_float("f", f, low=0.0, high=1.0, low_open=True)
        p2 = check_float("p2", p2, low=0.0, high=1.0)
        if p3 is not None and abs(p2 + check_float("p3", p3, low=0.0, high=1.0) - 1) > 1e-9:
            raise UserError(f"p2 + p3 must equal 1, got {p2} + {p3}")
        n_c = v if n_c is None else check_int("n_c", n_c)
        if n_c > v:
            raise UserError(f"n_c = {n_c} classes exceed the v = {v} symbols of a level")
        m2, m3 = round(f * v), round(f * v * v)
        if m2 < 1:
            raise UserError(f"f v = {f * v:g} rounds to no binary rule; need f >= 1/(2v)")
        total = (m2 + m3) * (v * (L - 1) + n_c)
        if total > MAX_RULES:
            raise UserError(
                f"the grammar would hold {total:,} rules (v = {v}, f = {f:g}, L = {L}); "
                f"at most {MAX_RULES:,}: lower v or f"
            )
        rng = as_rng(seed)
        binary: list[np.ndarray] = []
        ternary: list[np.ndarray] = []
        for h in range(1, L + 1):
            parents = n_c if h == L else v
            for arity, m, out in ((2, m2, binary), (3, m3, ternary)):
                flat = rng.choice(v**arity, size=parents * m, replace=False)
                powers = v ** np.arange(arity - 1, -1, -1, dtype=np.int64)
                tup = (flat[:, None] // powers[None, :]) % v
                out.append(tup.reshape(parents, m, arity).astype(np.int64))
        return cls(v, f, p2, L, n_c, binary, ternary)

    def sample(
        self, n: int, *, seed: int | np.random.Generator | None = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` sequences, level by level for all trees at once.

        Returns
        -------
        tokens : 1-D int array, the sequences one after the other
        lengths : (n,) int array of sequence lengths
        """
        n = check_int("n", n)
        rng = as_rng(seed)
        sym = rng.integers(0, self.n_c, size=n)
        owner = np.arange(n)
        for h in range(self.L, 0, -1):
            k = sym.size
            ternary = rng.random(k) >= self.p2
            arity = np.where(ternary, 3, 2)
            rule = np.where(
                ternary, rng.integers(0, self.m3, size=k), rng.integers(0, self.m2, size=k)
            )
            parent = np.repeat(np.arange(k), arity)
            start = np.cumsum(arity) - arity
            pos = np.arange(parent.size) - start[parent]
            s, r, t = sym[parent], rule[parent], ternary[parent]
            bin_child = self.binary[h - 1][s, np.where(t, 0, r), np.minimum(pos, 1)]
            ter_child = self.ternary[h - 1][s, np.where(t, r, 0), pos]
            sym = np.where(t, ter_child, bin_child)
            owner = owner[parent]
        return sym, np.bincount(owner, minlength=n)

    # -- exact statistics ------------------------------------------------------
    def length_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact law of the sequence length: (lengths, probabilities).

        ``P_0 = delta_1``, ``P_h = p2 P_{h-1} * P_{h-1} + p3 P_{h-1} * P_{h-1} * P_{h-1}``
        (``*`` convolution), since the subtrees of a node are independent.
        """
        if 3**self.L > EXACT_MAX_LEN:
            raise UserError(f"exact length law needs 3^L <= {EXACT_MAX_LEN}")
        p = np.array([0.0, 1.0])
        for _ in range(self.L):
            p2c = np.convolve(p, p)
            p3c = np.convolve(p2c, p)
            new = np.zeros(p3c.size)
            new[: p2c.size] += self.p2 * p2c
            new += self.p3 * p3c
            p = new
        support = np.flatnonzero(p > 0)
        return support, p[support]

    def length_moments(self) -> tuple[float, float]:
        """Mean ``mu^L`` and variance ``s2 mu^(L-1) (mu^L - 1)/(mu - 1)`` of the length."""
        mu = 2 * self.p2 + 3 * self.p3
        s2 = self.p2 * self.p3  # variance of the number of children
        var = (
            s2 * self.L * mu ** (self.L - 1)
            if mu == 1
            else (s2 * mu ** (self.L - 1) * (mu**self.L - 1) / (mu - 1))
        )
        return mu**self.L, var

    def derivation_entropy(self) -> float:
        """Expected entropy of a derivation (root, arities, rules) in nats.

        ``ln n_c + sum_{h<L} E[nodes at depth h] (H(p2, p3) + p2 ln m2 + p3 ln m3)``;
        an upper bound on the entropy of the sequence.
        """
        mu = 2 * self.p2 + 3 * self.p3
        nodes = sum(mu**d for d in range(self.L))
        per = float(entropy(np.array([self.p2, self.p3])))
        per += self.p2 * math.log(self.m2) + self.p3 * math.log(self.m3)
        return math.log(self.n_c) + nodes * per

    def truth(self) -> dict[str, Any]:
        mean, var = self.length_moments()
        out: dict[str, Any] = {
            "kind": "pcfg",
            "v": self.v,
            "f": self.f,
            "p2": self.p2,
            "p3": self.p3,
            "L": self.L,
            "n_c": self.n_c,
            "m2": self.m2,
            "m3": self.m3,
            "length_mean": mean,
            "length_var": var,
            "derivation_entropy": nats_bits(self.derivation_entropy()),
            "reducible_fraction": {
                "pairs": self.m2 * self.v / self.v**2,
                "triples": self.m3 * self.v / self.v**3,
                "note": "fraction of all tuples that are a rule's children (below the root level)",
            },
            "separator_token": self.v,
        }
        if 3**self.L <= EXACT_MAX_LEN:
            lengths, prob = self.length_distribution()
            out["length_distribution"] = {"length": lengths.tolist(), "prob": prob.tolist()}
        return out


def generate_pcfg(
    out,
    *,
    v: int = 16,
    f: float = 0.25,
    p2: float = 0.5,
    p3: float | None = None,
    L: int = 5,
    n_c: int | None = None,
    num_sequences: int = 10_000,
    seed: int = 0,
):
    """Sample a varying-tree PCFG into a corpus: sequences separated by token ``v``."""
    rng = as_rng(seed)
    g = VaryingTreePCFG.random(v, f, L, p2=p2, p3=p3, n_c=n_c, seed=rng)
    tokens, lengths = g.sample(num_sequences, seed=rng)
    n = lengths.size
    ends = np.cumsum(lengths + 1)
    stream = np.full(int(ends[-1]), v, dtype=np.int64)
    keep = np.ones(stream.size, dtype=bool)
    keep[ends - 1] = False
    stream[keep] = tokens
    truth = g.truth()
    truth["sampled_length_mean"] = float(lengths.mean())
    params = {"v": v, "f": f, "p2": g.p2, "p3": g.p3, "L": L, "n_c": g.n_c, "num_sequences": int(n)}
    offsets = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return write_synthetic(
        out,
        stream,
        v + 1,
        kind="pcfg",
        name=f"pcfg-v{v}-f{f:g}-L{L}",
        params=params,
        seed=seed,
        truth=truth,
        doc_offsets=offsets,
        eod_token=v,
    )
