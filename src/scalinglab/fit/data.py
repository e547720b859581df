"""Reading fit inputs: CSV / Parquet tables, columns by name or expression, validation."""

from __future__ import annotations

import ast
import operator
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

Table = Mapping[str, np.ndarray]


def read_table(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a CSV or Parquet file into ``{column: array}`` (with pyarrow).

    Numeric columns become float arrays; other columns are kept as object arrays.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a directory; give a .csv or .parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)
    except Exception as e:  # pyarrow raises its own error types for malformed files
        raise UserError(f"cannot read {path}: {str(e).splitlines()[0]}") from e
    return _columns(table.to_pydict())


def _columns(raw: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, values in raw.items():
        arr = np.asarray(values)
        if arr.dtype == object:
            try:
                arr = np.array([np.nan if v is None else v for v in values], dtype=float)
            except (TypeError, ValueError):
                arr = np.asarray(values, dtype=object)
        elif np.issubdtype(arr.dtype, np.number) or arr.dtype == bool:
            arr = arr.astype(float)
        out[str(name)] = arr
    return out


def as_table(data: Any) -> dict[str, np.ndarray]:
    """Accept a path, a mapping of columns, a pyarrow Table or a DataFrame-like object."""
    if isinstance(data, str | os.PathLike):
        return read_table(data)
    if hasattr(data, "to_pydict"):  # pyarrow.Table
        return _columns(data.to_pydict())
    if isinstance(data, Mapping):
        return _columns({k: np.asarray(v) for k, v in data.items()})
    if hasattr(data, "columns") and hasattr(data, "__getitem__"):  # pandas / polars DataFrame
        return _columns({str(c): np.asarray(data[c]) for c in data.columns})
    raise UserError(f"cannot read columns from a {type(data).__name__}")


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def column(table: Table, expr: str) -> np.ndarray:
    """A column by name, or an arithmetic expression over columns.

    Expressions may use column names (spaces allowed), numbers, ``+ - * / **``
    and parentheses, e.g. ``"Training FLOP / (6 * Model Size)"``.
    """
    expr = str(expr).strip()
    if expr in table:
        return _numeric(table, expr)
    # One pass over the text, longest names first, each name standing alone
    # (not part of a longer identifier), replaced by a placeholder identifier.
    names = sorted((n for n in table if n), key=len, reverse=True)
    env: dict[str, str] = {}
    pattern = (
        re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w.])")
        if names
        else None
    )

    def substitute(match: re.Match[str]) -> str:
        token = f"_c{len(env)}"
        env[token] = match.group(1)
        return token

    text = pattern.sub(substitute, expr) if pattern is not None else expr
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise UserError(f"no column {expr!r} (columns: {', '.join(map(repr, table))})") from None

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in env:
            return _numeric(table, env[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise UserError(f"no column {expr!r} (columns: {', '.join(map(repr, table))})")

    with np.errstate(all="ignore"):
        value = ev(tree)
    n = len(next(iter(table.values()))) if table else 0
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _numeric(table: Table, name: str) -> np.ndarray:
    arr = np.asarray(table[name])
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise UserError(f"column {name!r} is not numeric")
    return arr.astype(float)


@dataclass
class FitData:
    """Validated inputs of a fit: ``X`` is (k, n), ``y`` is (n,), all finite and positive.

    ``rows`` are the 1-based data-row numbers of the points in the source table,
    ``dropped`` describes points removed on request.
    """

    X: np.ndarray
    y: np.ndarray
    x_names: list[str]
    y_name: str
    rows: np.ndarray
    dropped: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.y.size

    def subset(self, mask: np.ndarray) -> FitData:
        return FitData(self.X[:, mask], self.y[mask], self.x_names, self.y_name, self.rows[mask])

    def window(self) -> dict[str, list[float]]:
        """Range [min, max] of every input column."""
        return {
            name: [float(self.X[j].min()), float(self.X[j].max())]
            for j, name in enumerate(self.x_names)
        }


def _format_rows(rows: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (f" and {rows.size - limit} more" if rows.size > limit else "")


def prepare(
    data: Any,
    y: Any,
    x: str | Sequence[str] | None = None,
    *,
    drop_invalid: bool = False,
    drop_highest: int = 0,
) -> FitData:
    """Turn the many accepted input shapes into validated :class:`FitData`.

    ``prepare(table_or_path, "loss", x=["N", "D"])`` picks columns by name (or
    expression); ``prepare(x_array, y_array)`` takes arrays: x of shape (n,),
    (n, k) or a list of k arrays of length n.

    Points with a NaN, an infinity or a value <= 0 in any column are an error
    that names their rows, unless ``drop_invalid`` removes them. ``drop_highest``
    removes the points with the largest y (Epoch AI's Chinchilla replication
    drops five).
    """
    if isinstance(y, str):
        if x is None:
            raise UserError("name the input column(s) with x=")
        table = as_table(data)
        if not table:
            raise UserError("the table has no columns")
        x_names = [x] if isinstance(x, str) else list(x)
        if not x_names:
            raise UserError("name at least one input column with x=")
        X = np.vstack([column(table, c) for c in x_names])
        yv = column(table, y)
        y_name = y
    else:
        if data is None or y is None:
            raise UserError("give x and y arrays, or a table with column names")
        if isinstance(data, Sequence) and len(data) and np.ndim(data[0]) == 1:
            X = np.vstack([np.asarray(c, dtype=float) for c in data])
        else:
            arr = np.asarray(data, dtype=float)
            X = arr[None, :] if arr.ndim == 1 else arr.T
        yv = np.asarray(y, dtype=float).ravel()
        x_names = (
            list(x)
            if isinstance(x, Sequence) and not isinstance(x, str)
            else (
                [x]
                if isinstance(x, str)
                else [f"x{j + 1}" if X.shape[0] > 1 else "x" for j in range(X.shape[0])]
            )
        )
        y_name = "y"
        if len(x_names) != X.shape[0]:
            raise UserError(f"{len(x_names)} x names for {X.shape[0]} input columns")
    if X.ndim != 2 or X.shape[1] != yv.size:
        raise UserError(f"x has {X.shape[-1]} points but y has {yv.size}")
    if yv.size == 0:
        raise UserError("no data points")
    rows = np.arange(1, yv.size + 1)
    dropped: list[str] = []
    bad_cols = []
    bad = np.zeros(yv.size, dtype=bool)
    for name, col in zip([*x_names, y_name], [*X, yv], strict=True):
        b = ~np.isfinite(col) | ~(col > 0)
        if b.any():
            bad_cols.append(f"{name!r} at row(s) {_format_rows(rows[b])}")
            bad |= b
    if bad.any():
        message = "non-finite or non-positive values in " + "; ".join(bad_cols)
        if not drop_invalid:
            raise UserError(
                message + " (rows count data lines from 1; remove them or drop invalid rows)"
            )
        dropped.append("dropped " + message)
        X, yv, rows = X[:, ~bad], yv[~bad], rows[~bad]
    if drop_highest:
        k = int(drop_highest)
        if k < 0 or k >= yv.size:
            raise UserError(f"cannot drop the {k} highest points of {yv.size}")
        order = np.argsort(yv, kind="stable")
        top = np.sort(order[yv.size - k :])
        dropped.append(
            f"dropped the {k} highest-{y_name} point(s): row(s) {_format_rows(rows[top])}"
        )
        keep = np.ones(yv.size, dtype=bool)
        keep[top] = False
        X, yv, rows = X[:, keep], yv[keep], rows[keep]
    return FitData(X, yv, x_names, y_name, rows, dropped)
