"""A local Hugging Face causal-LM checkpoint as a source of per-position losses ``L_n``.

The checkpoint's model scores blocks of the corpus's held-out split, each of
T + 1 tokens ``x_0 .. x_T``; the position that sees n tokens predicts ``x_n``,

    L_n = - (1/B) sum_b log p_theta(x_n^(b) | x_0^(b) .. x_{n-1}^(b))    (nats),

for n = 1 .. T over B blocks, with the standard error ``s_n / sqrt(B)`` (s_n the
sample standard deviation over blocks). Held-out cross-entropy is an upper
bound on the conditional entropy ``H_{n-1}`` of the corpus (REFERENCE 1.2-1.3),
as tight as the model is good. The corpus is tokenized with the checkpoint's
own tokenizer.json, so the ids are those the model was trained on; blocks are
cut from the raw stream, with no beginning-of-sequence token added.

Needs torch and transformers (the ``train`` and ``hf-model`` extras); both are
imported on first use, so :func:`is_checkpoint` works without them.

>>> from scalinglab.train.hf import score_checkpoint             # doctest: +SKIP
>>> losses = score_checkpoint("my-gpt2/", "corpus.txt", context=256)  # doctest: +SKIP
>>> losses.loss[:4]                                               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import info, make_progress
from ..corpus.core import TokenCorpus, is_corpus_dir, load
from ..corpus.sources import DEFAULT_CORPUS
from ..errors import UserError
from ..stats.model_losses import ModelLosses

__all__ = ["MAX_CONTEXT", "WEIGHT_FILES", "is_checkpoint", "score_checkpoint", "tokenizer_digest"]

#: Largest context scored when ``context`` is not given (the model's own limit when smaller).
MAX_CONTEXT = 1024

#: Files that hold a checkpoint's weights (single file or the index of a sharded one).
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

#: Configuration attributes that give a model's largest number of positions, first found wins.
_POSITION_KEYS = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length")

#: Logits held in memory per batch at most (bytes, float32); larger batches are split.
_LOGIT_BYTES = 1 << 30

_EXTRA = "install the hf-model extra: pip install 'scalinglab[hf-model]'"


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding a ``config.json`` (a model checkpoint).

    Parameters
    ----------
    path : str or path-like
        Any argument a user may give for the source of model losses.

    Returns
    -------
    bool
        Whether ``path`` looks like a Hugging Face checkpoint directory. A token
        corpus directory (meta.json, tokens.bin) has no config.json.
    """
    try:
        p = Path(path).expanduser()
        return p.is_dir() and (p / "config.json").is_file()
    except (OSError, TypeError, ValueError):
        return False


def score_checkpoint(
    checkpoint: str | os.PathLike[str],
    corpus: str | os.PathLike[str] | TokenCorpus | None,
    *,
    context: int | None = None,
    max_blocks: int = 4096,
    batch_size: int = 16,
    device: str = "auto",
    progress: bool = True,
) -> ModelLosses:
    """Per-position held-out losses ``L_n`` of a local Hugging Face causal LM.

    Parameters
    ----------
    checkpoint : str or path-like
        A directory with ``config.json``, the weights (``model.safetensors`` or
        ``pytorch_model.bin``, or a sharded index of either) and ``tokenizer.json``.
        Nothing is downloaded: the model is loaded with ``local_files_only=True``.
    corpus : str, path-like, TokenCorpus or None
        A raw source (a .txt file, a directory, .jsonl, ...; None for the built-in
        python-stdlib corpus), tokenized with the checkpoint's tokenizer.json
        through the corpus cache; or a TokenCorpus / corpus directory. A corpus
        tokenized with another tokenizer is re-tokenized from its recorded source
        when that still exists. A pre-tokenized corpus (ids with no tokenizer
        recorded) is taken as tokenized with the checkpoint's tokenizer.
    context : int, optional
        T, the positions scored per block (blocks hold T + 1 tokens). Default: the
        model's largest number of positions, at most :data:`MAX_CONTEXT`.
    max_blocks : int
        Blocks scored at most. The held-out split is cut into consecutive,
        non-overlapping blocks; when there are more, ``max_blocks`` of them evenly
        spread over the split are scored.
    batch_size : int
        Blocks per forward pass (fewer when a batch's logits would exceed 1 GiB).
    device : {"auto", "cpu", "cuda", "mps"} or "cuda:K"
        ``auto`` picks CUDA, then MPS, then CPU. The model runs in float32.
    progress : bool
        Show a progress bar while scoring.

    Returns
    -------
    ModelLosses
        ``n = 1..T``, ``loss[n - 1] = L_n`` (nats per token) and its standard
        error over blocks; ``source="hf-checkpoint"``; ``model`` describes the
        checkpoint (path, model_type, params, n_positions, vocab_size, tokenizer
        hash); ``eval_tokens`` is the number of blocks scored (targets per position).

    Raises
    ------
    UserError
        A path that is not a directory; no config.json, weights or tokenizer.json;
        torch or transformers missing; a config or weights transformers cannot
        load; a context outside 1..n_positions; corpus ids outside the model's
        vocabulary; a held-out split shorter than one block.
    """
    ckpt = _check_files(checkpoint)
    if max_blocks < 1:
        raise UserError(f"max_blocks must be >= 1, got {max_blocks}")
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    torch, transformers = _import_backends()
    from ._device import resolve_device
    from ._eval import _summarise, drop_stderr

    dev = resolve_device(device)
    config = _load_config(transformers, ckpt)
    text_cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    vocab = int(getattr(text_cfg, "vocab_size", 0) or 0)
    if vocab < 1:
        raise UserError(f"{ckpt}/config.json gives no vocab_size")
    n_positions = _max_positions(text_cfg)
    T = _context(context, n_positions, ckpt)

    tok_path = ckpt / "tokenizer.json"
    digest = tokenizer_digest(tok_path)
    tc = _corpus_for(corpus, str(tok_path), digest)
    heldout = tc.heldout
    starts = _block_starts(int(heldout.size), T, max_blocks)
    _check_vocab(tc, heldout, vocab, ckpt)

    model = _load_model(transformers, ckpt, config).float().to(dev)
    model.eval()
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    params = int(sum(p.numel() for p in model.parameters()))
    out_vocab = _output_vocab(model, vocab)
    if out_vocab < vocab:  # an output layer narrower than config.json says
        _check_vocab(tc, heldout, out_vocab, ckpt)
    # Bound the logits held at once: B x T x V float32 values, plus log-softmax's copy.
    per_block = T * out_vocab * 4
    batch = max(1, min(batch_size, _LOGIT_BYTES // max(1, per_block)))

    losses = np.empty((starts.size, T), dtype=np.float64)
    offsets = np.arange(T + 1, dtype=np.int64)
    prog = make_progress() if progress else None
    task = None
    if prog is not None:
        prog.start()
        task = prog.add_task(f"scoring {ckpt.name} (T={T})", total=int(starts.size))
    try:
        with torch.no_grad():
            for i in range(0, starts.size, batch):
                rows = starts[i : i + batch, None] + offsets
                xy = torch.from_numpy(np.asarray(heldout[rows], dtype=np.int64)).to(dev)
                out = model(input_ids=xy[:, :-1])
                logits = out.logits if hasattr(out, "logits") else out[0]
                logp = torch.log_softmax(logits.float(), dim=-1)
                nll = -logp.gather(-1, xy[:, 1:, None]).squeeze(-1)
                losses[i : i + xy.shape[0]] = nll.double().cpu().numpy()
                if prog is not None and task is not None:
                    prog.advance(task, xy.shape[0])
    finally:
        if prog is not None:
            prog.stop()

    _mean, _err, pos, pos_err = _summarise(losses, int(heldout.size), T)
    return ModelLosses(
        n=np.arange(1, T + 1),
        loss=pos,
        stderr=pos_err,
        source="hf-checkpoint",
        model={
            "path": str(ckpt),
            "model_type": str(getattr(config, "model_type", "") or "unknown"),
            "architecture": (getattr(config, "architectures", None) or [None])[0],
            "params": params,
            "n_positions": n_positions,
            "vocab_size": vocab,
            "tokenizer": digest,
            "device": str(dev),
            "dtype": "float32",
        },
        training={},
        drop_stderr=np.r_[np.nan, drop_stderr(losses)],
        eval_tokens=int(starts.size),
        corpus=tc.describe(),
    )


# -- checks and loading ---------------------------------------------------------------------


def _check_files(checkpoint: str | os.PathLike[str]) -> Path:
    """The checkpoint directory, resolved, once its config, weights and tokenizer are present."""
    p = Path(checkpoint).expanduser()
    if not p.exists():
        raise UserError(f"checkpoint not found: {p}")
    if not p.is_dir():
        raise UserError(f"checkpoint {p} is not a directory (expected config.json, weights, ...)")
    if not (p / "config.json").is_file():
        raise UserError(f"no config.json in checkpoint directory {p}")
    if not any((p / f).is_file() for f in WEIGHT_FILES):
        raise UserError(
            f"no weights in checkpoint {p}: expected model.safetensors or pytorch_model.bin"
        )
    if not (p / "tokenizer.json").is_file():
        raise UserError(f"no tokenizer.json in checkpoint {p} (save the fast tokenizer with it)")
    return p.resolve()


def _import_backends() -> tuple[Any, Any]:
    """torch and transformers, or a :class:`UserError` naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise UserError(
            "scoring a checkpoint needs torch: pip install 'scalinglab[train,hf-model]'"
        ) from None
    try:
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM  # noqa: F401
    except ImportError:
        raise UserError(f"transformers is not installed; {_EXTRA}") from None
    return torch, transformers


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _load_config(transformers: Any, ckpt: Path) -> Any:
    try:
        with _quiet(transformers):
            config = transformers.AutoConfig.from_pretrained(str(ckpt), local_files_only=True)
    except Exception as e:  # unknown model_type, malformed JSON, remote code, ...
        raise UserError(f"cannot load {ckpt}/config.json: {_first_line(e)}") from None
    try:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    except ImportError:  # pragma: no cover - a layout of transformers without the table
        return config
    model_type = getattr(config, "model_type", None)
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not getattr(
        config, "auto_map", None
    ):
        raise UserError(
            f"{ckpt}/config.json: model type {model_type!r} is not a causal language model"
        )
    return config


@contextmanager
def _quiet(transformers: Any) -> Iterator[None]:
    """transformers' own progress bars and warnings off while loading (restored after)."""
    log = transformers.utils.logging
    bars, level = log.is_progress_bar_enabled(), log.get_verbosity()
    log.disable_progress_bar()
    log.set_verbosity_error()
    try:
        yield
    finally:
        log.set_verbosity(level)
        if bars:
            log.enable_progress_bar()


def _load_model(transformers: Any, ckpt: Path, config: Any) -> Any:
    try:
        with _quiet(transformers):
            return transformers.AutoModelForCausalLM.from_pretrained(
                str(ckpt), config=config, local_files_only=True
            )
    except Exception as e:  # not a causal LM, corrupt or mismatched weights, ...
        raise UserError(f"cannot load the causal LM in {ckpt}: {_first_line(e)}") from None


def _max_positions(cfg: Any) -> int | None:
    for key in _POSITION_KEYS:
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def _context(context: int | None, n_positions: int | None, ckpt: Path) -> int:
    if context is None:
        if n_positions is None:
            raise UserError(f"{ckpt}/config.json gives no number of positions: give a context")
        return min(n_positions, MAX_CONTEXT)
    if context < 1:
        raise UserError(f"context must be >= 1, got {context}")
    if n_positions is not None and context > n_positions:
        raise UserError(f"context {context} exceeds the model's {n_positions} positions")
    return int(context)


def _output_vocab(model: Any, vocab: int) -> int:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if weight is not None else vocab


# -- the corpus, in the checkpoint's tokens ------------------------------------------------------


def tokenizer_digest(path: str | os.PathLike[str]) -> str:
    """Hash of a tokenizer.json's canonical serialisation (equal for equal tokenizers)."""
    from ..corpus.tokenizers import HFTokenizer

    canon = HFTokenizer.from_file(path).tok.to_str()
    return "blake2b:" + hashlib.blake2b(canon.encode(), digest_size=16).hexdigest()


def _corpus_digest(tc: TokenCorpus) -> str | None:
    """Digest of the tokenizer.json a corpus was written with, None when it has none."""
    name = tc.meta.get("tokenizer", {}).get("tokenizer_json")
    if not name or tc.path is None or not (Path(tc.path) / name).is_file():
        return None
    try:
        return tokenizer_digest(Path(tc.path) / name)
    except UserError:
        return None


def _fits(tc: TokenCorpus, digest: str) -> bool:
    return tc.tokenizer_spec == "pretokenized" or _corpus_digest(tc) == digest


def _corpus_for(
    corpus: str | os.PathLike[str] | TokenCorpus | None, spec: str, digest: str
) -> TokenCorpus:
    """The corpus in the ids of the tokenizer ``spec`` (a tokenizer.json of hash ``digest``)."""
    given: TokenCorpus | None = None
    if isinstance(corpus, TokenCorpus):
        given = corpus
    elif corpus is not None and str(corpus) != DEFAULT_CORPUS and is_corpus_dir(corpus):
        given = load(corpus)
    if given is None:
        assert not isinstance(corpus, TokenCorpus)  # a TokenCorpus is always `given`
        return _tokenized(corpus, spec, digest, {})
    if _fits(given, digest):
        if given.tokenizer_spec == "pretokenized":
            info(f"{given.name}: pre-tokenized ids, taken as the checkpoint tokenizer's")
        return given
    src = given.meta.get("source", {})
    kind, path = src.get("kind"), src.get("path")
    if kind == "stdlib":
        source: str = DEFAULT_CORPUS
    elif kind in ("txt", "dir", "jsonl", "parquet", "hf") and path and Path(path).exists():
        source = str(path)
    else:
        raise UserError(
            f"corpus {given.name} was tokenized with {given.tokenizer_spec!r}, not the "
            f"checkpoint's tokenizer.json, and its source ({path or kind}) is not available "
            "to re-tokenize; give the raw source instead"
        )
    info(
        f"re-tokenizing {source} with the checkpoint's tokenizer "
        f"(the corpus used {given.tokenizer_spec})"
    )
    options = {"text_field": src["text_field"]} if src.get("text_field") else {}
    return _tokenized(source, spec, digest, options)


def _tokenized(
    source: str | os.PathLike[str] | None, spec: str, digest: str, options: dict[str, Any]
) -> TokenCorpus:
    """``corpus.resolve(source, tokenizer=spec)``, checked to hold this tokenizer's ids.

    The corpus cache is keyed by the tokenizer's path; when the file at that path
    has changed since, the source is tokenized again into an entry keyed by the
    tokenizer's content.
    """
    from ..corpus.build import cache_dir, resolve, tokenize
    from ..corpus.sources import open_source

    tc = resolve(source, tokenizer=spec, **options)
    if _fits(tc, digest):
        return tc
    name = DEFAULT_CORPUS if source is None else str(source)
    src = open_source(name, **options)
    ident = src.fingerprint() if name == DEFAULT_CORPUS else src.content_digest()
    h = hashlib.blake2b(f"{ident}|{digest}|{sorted(options.items())}".encode(), digest_size=8)
    stem = DEFAULT_CORPUS if name == DEFAULT_CORPUS else Path(name).name
    target = cache_dir() / f"{stem}-hf-{h.hexdigest()}"
    if is_corpus_dir(target):
        cached = load(target)
        if _fits(cached, digest):
            return cached
    return tokenize(name, spec, target, **options)


def _block_starts(n_heldout: int, T: int, max_blocks: int) -> np.ndarray:
    """Starts of up to ``max_blocks`` non-overlapping blocks of T + 1 tokens, evenly spread."""
    block = T + 1
    available = n_heldout // block
    if available < 1:
        raise UserError(
            f"the held-out split has {n_heldout} tokens, fewer than one block of {block} "
            f"(context {T}); use a longer corpus or a smaller context"
        )
    if available <= max_blocks:
        idx = np.arange(available, dtype=np.int64)
    else:
        idx = np.unique(np.round(np.linspace(0, available - 1, max_blocks)).astype(np.int64))
    return idx * block


def _check_vocab(tc: TokenCorpus, heldout: np.ndarray, vocab: int, ckpt: Path) -> None:
    """Every held-out id must index the model's vocabulary."""
    top = int(np.max(heldout)) if heldout.size else -1
    if top < vocab:
        return
    hint = ""
    t = tc.meta.get("tokenizer", {})
    if t.get("appended_eod") and top == t.get("eod_token"):
        hint = (
            " (an end-of-document id was appended because the tokenizer has no "
            "end-of-text token; use a single-document source such as a .txt file)"
        )
    raise UserError(
        f"corpus {tc.name} holds token id {top}, outside the vocabulary of {vocab} of the "
        f"model in {ckpt}{hint}"
    )
