"""Where ``predict`` gets its entropies: counts, a trained model, or both.

``--entropy counts|model|auto`` and ``--entropy-from``:

* ``counts``: the suffix-array n-gram engine alone;
* ``model``: per-position losses ``L_n`` of a trained model as upper bounds on
  ``H_n`` (REFERENCE 1.2): a user's model when ``--entropy-from`` names one (a
  file of per-position losses, or a Hugging Face checkpoint directory), else
  the reference model ``predict`` trains on the corpus within ``--budget``
  seconds (:mod:`scalinglab.train.reference`);
* ``auto`` (default): ``model`` when ``--entropy-from`` is given, or when the
  count-based reliable window holds fewer than 5 context lengths and PyTorch
  is installed; ``counts`` otherwise.

Model losses are cached in ``entropy.json`` (key ``model_losses``) under the
settings that produced them, so a second run reuses them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import info
from ..errors import UserError
from ..stats.model_losses import ModelLosses
from ..train.hf import is_checkpoint
from ..warns import coded
from ._inputs import EntropyInputs

ENTROPY_MODES = ("auto", "counts", "model")
#: The count-based reliable window must hold this many context lengths for ``auto``
#: to keep the counts.
MIN_RELIABLE_POINTS = 5
_DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def torch_available() -> bool:
    """PyTorch importable (the ``train`` extra)."""
    return importlib.util.find_spec("torch") is not None


def check_entropy_options(
    entropy: str, entropy_from: str | os.PathLike[str] | None, device: str
) -> None:
    """Reject bad entropy options before any work."""
    from ..stats.entropy import load_external_losses

    if entropy not in ENTROPY_MODES:
        raise UserError(f"--entropy must be one of {', '.join(ENTROPY_MODES)}, got {entropy!r}")
    base = str(device).strip().lower().split(":", 1)[0]
    if base not in _DEVICE_NAMES:
        raise UserError(f"unknown device {device!r}; choose auto, cpu, cuda, cuda:K or mps")
    if entropy_from is not None:
        if entropy == "counts":
            raise UserError("--entropy counts and --entropy-from contradict each other")
        p = Path(entropy_from)
        if p.is_dir():
            if not is_checkpoint(p):
                raise UserError(
                    f"--entropy-from {p}: a directory must be a Hugging Face checkpoint "
                    "(config.json, weights, tokenizer.json)"
                )
            if not (p / "tokenizer.json").is_file():
                raise UserError(f"--entropy-from {p}: the checkpoint has no tokenizer.json")
        else:
            load_external_losses(p)
    if entropy == "model" and entropy_from is None and not torch_available():
        raise UserError(
            "--entropy model trains a reference model and needs PyTorch: "
            "pip install torch==2.13.0 'scalinglab[train]'"
        )


def wants_model(entropy: str, entropy_from: Any, ent: EntropyInputs, warnings: list[str]) -> bool:
    """Whether the model path runs (see the module docstring); ``auto`` explains itself."""
    if entropy == "counts":
        return False
    if entropy == "model" or entropy_from is not None:
        return True
    pts = ent.reliable_points
    if pts >= MIN_RELIABLE_POINTS:
        return False
    if not torch_available():
        warnings.append(
            coded(
                "predict-no-torch",
                f"the count-based reliable window holds {pts} context lengths (< "
                f"{MIN_RELIABLE_POINTS}) and PyTorch is not installed, so no reference model "
                "was trained: install the train extra (pip install torch==2.13.0 "
                "'scalinglab[train]') for model-based entropies",
            )
        )
        return False
    return True


def digest(path: str | os.PathLike[str]) -> str:
    """Content hash of an --entropy-from file, or of a checkpoint's files (name, size, bytes)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:  # files of a checkpoint, not tokens
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return f"{p.name}:{h.hexdigest()[:16]}"


def _from_file(path: str | os.PathLike[str], corpus: Any) -> ModelLosses:
    from ..stats.entropy import load_external_losses

    d = load_external_losses(path)
    n = np.array(sorted(k for k in d if k >= 1), dtype=np.int64)
    if n.size < 2:
        raise UserError(f"{path}: per-position losses for at least two context lengths n >= 1")
    return ModelLosses(
        n=n,
        loss=np.array([d[int(k)] for k in n]),
        stderr=np.full(n.size, np.nan),
        source="file",
        model={"path": str(path)},
        corpus=corpus.describe(),
    )


def model_losses(
    corpus: Any,
    *,
    entropy_from: str | os.PathLike[str] | None,
    budget: float,
    device: str,
    seed: int,
    cached: dict[str, Any] | None,
    progress: bool,
) -> tuple[ModelLosses, dict[str, Any]]:
    """The model losses for ``corpus`` and the settings they were produced under.

    ``cached`` is a previous ``{"settings", "losses"}`` block; it is reused when
    its settings equal this call's.
    """
    if entropy_from is None:
        settings: dict[str, Any] = {
            "source": "reference",
            "budget_s": float(budget),
            "device": device,
            "seed": seed,
        }
    else:
        kind = "hf-checkpoint" if Path(entropy_from).is_dir() else "file"
        settings = {"source": kind, "entropy_from": digest(entropy_from)}
    if cached and cached.get("settings") == settings and cached.get("losses"):
        info("reusing the model losses in entropy.json (same corpus and settings)")
        return ModelLosses.from_dict(cached["losses"]), settings
    if entropy_from is None:
        from ..train.reference import ReferenceConfig, train_reference

        info(f"training the reference model for per-position losses ({budget:g} s budget)")
        ml = train_reference(
            corpus, ReferenceConfig(budget_s=budget, device=device, seed=seed), progress=progress
        )
    elif Path(entropy_from).is_dir():
        from ..train.hf import score_checkpoint

        ml = score_checkpoint(entropy_from, corpus, device=device, progress=progress)
        if ml.corpus.get("content_hash") != corpus.content_hash:
            raise UserError(
                f"the corpus is tokenized with {corpus.describe().get('tokenizer')}, not with the "
                f"checkpoint's tokenizer.json: pass the raw source so that the statistics and "
                "the checkpoint's losses are measured on the same tokens"
            )
    else:
        ml = _from_file(entropy_from, corpus)
    return ml, settings
