"""Composition tables of finite groups: all ``|G|^2`` triples ``(x, y, x.y)``.

Groups
    ``cyclic`` C_n (order n, ``x.y = x + y mod n``), ``dihedral`` D_n (the 2n
    symmetries of a regular n-gon), ``symmetric`` S_n (n!) and ``alternating``
    A_n (n!/2). Dihedral, symmetric and alternating elements are permutations
    of ``{0..n-1}``; the product is composition, ``(x.y)(i) = x(y(i))`` (apply
    y first). Elements are numbered in lexicographic order of their
    permutation arrays, so the identity is element 0; for C_n element k is k.

Corpus
    Each triple is one document ``x y z EOT`` with token ids ``0..|G|-1`` for
    the elements and ``|G|`` for the end-of-text token. The triples are shuffled
    with the seed; the first ``round(train_fraction * |G|^2)`` form the training
    split and the rest the held-out split (``corpus.train`` / ``corpus.heldout``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserError
from ._common import as_rng, check_float, check_int, npy_bytes, write_synthetic

__all__ = ["GROUPS", "Group", "generate_group", "group", "triples"]

GROUPS = ("cyclic", "dihedral", "symmetric", "alternating")
#: Largest group order accepted (|G|^2 triples must fit comfortably in memory).
MAX_ORDER = 8192


@dataclass
class Group:
    """A finite group given by its Cayley table.

    Attributes
    ----------
    name : str
        E.g. ``"D_5"``.
    table : (|G|, |G|) int array
        ``table[x, y]`` is the index of ``x.y``.
    elements : (|G|, n) int array or None
        The permutation of each element (None for cyclic groups).
    """

    name: str
    table: np.ndarray
    elements: np.ndarray | None

    @property
    def order(self) -> int:
        return int(self.table.shape[0])

    @property
    def is_abelian(self) -> bool:
        return bool(np.array_equal(self.table, self.table.T))

    @property
    def identity(self) -> int:
        e = np.flatnonzero((self.table == np.arange(self.order)[None, :]).all(axis=1))
        return int(e[0])

    def inverse(self) -> np.ndarray:
        """Index of each element's inverse."""
        return np.argmax(self.table == self.identity, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "order": self.order,
            "abelian": self.is_abelian,
            "identity": self.identity,
        }


def _permutation_group(name: str, perms: np.ndarray) -> Group:
    """Cayley table of a set of permutations closed under composition."""
    perms = perms[np.lexsort(perms.T[::-1])]
    g, n = perms.shape
    # comp[x, y, i] = perms[x, perms[y, i]]
    comp = perms[np.arange(g)[:, None, None], perms[None, :, :]]
    codes = perms.astype(np.int64) @ (n ** np.arange(n - 1, -1, -1, dtype=np.int64))
    ccodes = comp.astype(np.int64) @ (n ** np.arange(n - 1, -1, -1, dtype=np.int64))
    table = np.searchsorted(codes, ccodes)
    if table.max() >= g or not np.array_equal(codes[np.minimum(table, g - 1)], ccodes):
        raise AssertionError("permutation set is not closed under composition")
    return Group(name, table.astype(np.int32), perms.astype(np.int16))


def _parity(perms: np.ndarray) -> np.ndarray:
    """Parity of each permutation (0 even, 1 odd), by counting inversions."""
    n = perms.shape[1]
    i, j = np.triu_indices(n, k=1)
    return ((perms[:, i] > perms[:, j]).sum(axis=1) % 2).astype(np.int8)


def group(kind: str, n: int) -> Group:
    """Build C_n, D_n, S_n or A_n (``kind`` one of :data:`GROUPS`)."""
    if kind not in GROUPS:
        raise UserError(f"unknown group {kind!r}; choose from {', '.join(GROUPS)}")
    if kind == "cyclic":
        n = check_int("n", n, minimum=1, maximum=MAX_ORDER)
        k = np.arange(n)
        return Group(f"C_{n}", ((k[:, None] + k[None, :]) % n).astype(np.int32), None)
    if kind == "dihedral":
        n = check_int("n", n, minimum=3, maximum=MAX_ORDER // 2)
        i = np.arange(n)
        rot = (i[None, :] + i[:, None]) % n  # i -> i + k
        ref = (i[:, None] - i[None, :]) % n  # i -> k - i
        return _permutation_group(f"D_{n}", np.concatenate([rot, ref]))
    n = check_int("n", n, minimum=1, maximum=7)  # 7! = 5040 elements
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)
    if kind == "symmetric":
        return _permutation_group(f"S_{n}", perms)
    if n < 2:
        raise UserError("the alternating group needs n >= 2")
    return _permutation_group(f"A_{n}", perms[_parity(perms) == 0])


def triples(grp: Group, *, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """All ``(x, y, x.y)`` triples in a seeded random order: (|G|^2, 3) int array."""
    g = grp.order
    x, y = np.divmod(np.arange(g * g, dtype=np.int64), g)
    out = np.stack([x, y, grp.table[x, y]], axis=1)
    return out[as_rng(seed).permutation(out.shape[0])]


def generate_group(
    out, *, kind: str = "cyclic", n: int = 97, train_fraction: float = 0.5, seed: int = 0
):
    """Write the shuffled composition triples of a group as a corpus, split for training.

    ``truth.json`` holds the group's order, identity, whether it is abelian, the
    split sizes and (for permutation groups) each element's permutation; the full
    Cayley table is ``table.npy``.
    """
    grp = group(kind, n)
    frac = check_float(
        "train_fraction", train_fraction, low=0.0, high=1.0, low_open=True, high_open=True
    )
    tri = triples(grp, seed=seed)
    total = tri.shape[0]
    n_train = int(round(frac * total))
    if not 0 < n_train < total:
        raise UserError(f"train_fraction {frac} leaves an empty split of {total} triples")
    eot = grp.order
    tokens = np.concatenate([tri, np.full((total, 1), eot)], axis=1).ravel()
    truth: dict[str, Any] = {
        "kind": "group",
        **grp.to_dict(),
        "product": "(x.y)(i) = x(y(i))" if grp.elements is not None else "x + y mod n",
        "triples": total,
        "train_triples": n_train,
        "test_triples": total - n_train,
        "document": "x y x.y EOT",
        "eot_token": eot,
        "elements": grp.elements.tolist() if grp.elements is not None else None,
    }
    params = {"kind": kind, "n": int(n), "train_fraction": frac}
    return write_synthetic(
        out,
        tokens,
        grp.order + 1,
        kind="group",
        name=grp.name,
        params=params,
        seed=seed,
        truth=truth,
        doc_offsets=np.arange(total, dtype=np.int64) * 4,
        eod_token=eot,
        train_tokens=n_train * 4,
        side_files={"table.npy": npy_bytes(grp.table)},
    )
