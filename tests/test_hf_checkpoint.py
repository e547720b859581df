"""A local Hugging Face checkpoint as the source of per-position losses L_n.

Tiny GPT-2 checkpoints are built here (random weights, a BPE tokenizer trained
on a few KB of text) and saved with ``save_pretrained``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

import scalinglab as sl  # noqa: E402
from scalinglab.errors import UserError  # noqa: E402
from scalinglab.stats.model_losses import ModelLosses  # noqa: E402
from scalinglab.train.hf import is_checkpoint, score_checkpoint, tokenizer_digest  # noqa: E402

EOD = "<|endoftext|>"
V_BPE = 320
N_POS = 64


def _sample_text() -> str:
    """About 40 KB of English (tiny-shakespeare), or of Python source when it is absent."""
    here = Path(__file__).resolve()
    for root in (here.parents[2], here.parents[1].parent):
        p = root / "shared" / "data" / "tiny-shakespeare.txt"
        if p.is_file():
            return p.read_text(encoding="utf-8")[:40_000]
    return Path(argparse.__file__).read_text(encoding="utf-8")[:40_000]


TEXT = _sample_text()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _bpe(text: str, vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def _chars(text: str) -> Tokenizer:
    """A BPE with no merges: one token per character (plus the end-of-text token)."""
    tok = Tokenizer(models.BPE())
    tok.train_from_iterator(
        [text], trainer=trainers.BpeTrainer(vocab_size=1, special_tokens=[EOD], show_progress=False)
    )
    return tok


def _save(directory: Path, tok: Tokenizer, model: GPT2LMHeadModel | None = None, **config) -> Path:
    """A checkpoint directory: config.json, model.safetensors, tokenizer.json."""
    if model is None:
        eod = tok.token_to_id(EOD)
        cfg = {
            "n_layer": 1,
            "n_head": 2,
            "n_embd": 32,
            "n_positions": N_POS,
            "vocab_size": tok.get_vocab_size(),
            "bos_token_id": eod,
            "eos_token_id": eod,
        }
        cfg.update(config)
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(**cfg))
    model.save_pretrained(directory)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOD).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    return _bpe(TEXT[:16_000], V_BPE)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory, bpe: Tokenizer) -> Path:
    return _save(tmp_path_factory.mktemp("ckpt") / "gpt2-tiny", bpe)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten 3 KB text files: the held-out split is the last one."""
    d = tmp_path_factory.mktemp("docs") / "plays"
    d.mkdir()
    for i in range(10):
        (d / f"part{i:02d}.txt").write_text(TEXT[3000 * i + 4000 : 3000 * i + 7000])
    return d


def _copy(ckpt: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ckpt, tmp_path / "ckpt"))


def _by_hand(ckpt: Path, heldout: np.ndarray, T: int) -> np.ndarray:
    """NLL of every non-overlapping block of T + 1 held-out tokens, one block at a time."""
    model = GPT2LMHeadModel.from_pretrained(ckpt, local_files_only=True).float().eval()
    rows = []
    with torch.no_grad():
        for b in range(heldout.size // (T + 1)):
            x = torch.as_tensor(np.asarray(heldout[b * (T + 1) : (b + 1) * (T + 1)], np.int64))
            logp = torch.log_softmax(model(x[None, :-1]).logits[0].double(), dim=-1)
            rows.append(-logp[torch.arange(T), x[1:]].numpy())
    return np.array(rows)


# -- detection ------------------------------------------------------------------------------


def test_is_checkpoint(ckpt: Path, docs: Path, tmp_path: Path):
    assert is_checkpoint(ckpt) and is_checkpoint(str(ckpt))
    assert not is_checkpoint(docs)
    assert not is_checkpoint(ckpt / "config.json")
    assert not is_checkpoint(tmp_path / "missing")
    corpus_dir = sl.corpus.tokenize(docs / "part00.txt", "byte", tmp_path / "c")
    assert not is_checkpoint(corpus_dir.path)


# -- numbers --------------------------------------------------------------------------------


def test_losses_match_an_independent_computation(ckpt: Path, docs: Path, bpe: Tokenizer):
    res = score_checkpoint(ckpt, docs, device="cpu", batch_size=4)
    T = N_POS
    corpus = sl.corpus.load(res.corpus["path"])
    heldout = np.asarray(corpus.heldout, dtype=np.int64)
    # the corpus is in the checkpoint's own ids: the last document, then end-of-text
    expected_ids = bpe.encode((docs / "part09.txt").read_text()).ids + [bpe.token_to_id(EOD)]
    np.testing.assert_array_equal(heldout, expected_ids)

    nll = _by_hand(ckpt, heldout, T)
    B = nll.shape[0]
    assert B >= 10
    np.testing.assert_array_equal(res.n, np.arange(1, T + 1))
    np.testing.assert_allclose(res.loss, nll.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        res.stderr, nll.std(axis=0, ddof=1) / math.sqrt(B), rtol=0, atol=1e-6
    )
    assert res.eval_tokens == B
    assert res.source == "hf-checkpoint" and res.training == {}
    m = res.model
    assert m["path"] == str(ckpt.resolve()) and m["model_type"] == "gpt2"
    assert m["n_positions"] == N_POS and m["vocab_size"] == V_BPE
    assert m["params"] == sum(p.numel() for p in GPT2LMHeadModel.from_pretrained(ckpt).parameters())
    assert m["tokenizer"] == tokenizer_digest(ckpt / "tokenizer.json")
    assert res.corpus["content_hash"] == corpus.content_hash

    # a shorter context, and at most 5 blocks evenly spread over the split
    T2 = 16
    sub = score_checkpoint(ckpt, corpus, context=T2, max_blocks=5, device="cpu", progress=False)
    nll2 = _by_hand(ckpt, heldout, T2)
    pick = np.round(np.linspace(0, nll2.shape[0] - 1, 5)).astype(int)
    np.testing.assert_allclose(sub.loss, nll2[pick].mean(axis=0), rtol=0, atol=1e-6)
    assert sub.eval_tokens == 5 and sub.context == T2
    # the result survives its JSON form
    again = ModelLosses.from_dict(json.loads(json.dumps(res.to_dict())))
    np.testing.assert_allclose(again.loss, res.loss)


def test_untrained_model_scores_about_log_V(ckpt: Path, docs: Path):
    res = score_checkpoint(ckpt, docs, device="cpu")
    assert abs(res.loss.mean() - math.log(V_BPE)) < 0.05
    assert np.all(np.abs(res.loss - math.log(V_BPE)) < 0.2)


def test_trained_model_losses_fall_with_context(tmp_path: Path):
    """On 'abac' repeated, the token after 'a' needs two tokens of context: L_1 ~ ln2 / 2."""
    text = "abac" * 20_000
    tok = _chars(text)
    V = tok.get_vocab_size()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=N_POS, vocab_size=V)
    )
    ids = torch.tensor(tok.encode(text[:8000]).ids)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    T, g = 16, torch.Generator().manual_seed(0)
    for _ in range(300):
        s = torch.randint(0, ids.numel() - T - 1, (16,), generator=g)
        xy = ids[s[:, None] + torch.arange(T + 1)]
        logits = model(input_ids=xy[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), xy[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    d = _save(tmp_path / "abac-model", tok, model)
    (tmp_path / "abac.txt").write_text(text)
    res = score_checkpoint(d, tmp_path / "abac.txt", context=T, device="cpu")
    assert res.eval_tokens >= 40
    assert 0.2 < res.loss[0] < 0.6  # ideal: ln 2 on half of the positions
    assert res.loss[1:].max() < 0.1
    assert res.loss[0] - res.loss[1:].mean() > 5 * res.stderr[0]


# -- corpora ----------------------------------------------------------------------------------


def test_corpus_of_another_tokenizer_is_retokenized(ckpt: Path, docs: Path, tmp_path: Path):
    direct = score_checkpoint(ckpt, docs, device="cpu")
    other = sl.corpus.tokenize(docs, "byte", tmp_path / "byte-corpus")
    for given in (other, other.path):
        res = score_checkpoint(ckpt, given, device="cpu")
        np.testing.assert_allclose(res.loss, direct.loss, rtol=0, atol=1e-9)
        assert res.corpus["content_hash"] == direct.corpus["content_hash"]


def test_corpus_of_another_tokenizer_without_its_source_fails(ckpt: Path, tmp_path: Path):
    src = tmp_path / "gone.txt"
    src.write_text(TEXT)
    other = sl.corpus.tokenize(src, "byte", tmp_path / "byte-corpus")
    src.unlink()
    with pytest.raises(UserError, match="not available to re-tokenize"):
        score_checkpoint(ckpt, other, device="cpu")


def test_pretokenized_ids_are_taken_as_they_are(ckpt: Path, bpe: Tokenizer):
    ids = np.asarray(bpe.encode(TEXT).ids)
    res = score_checkpoint(ckpt, sl.corpus.TokenCorpus.from_array(ids), context=32, device="cpu")
    assert res.eval_tokens == (ids.size - round(ids.size * 0.99)) // 33


def test_changed_tokenizer_at_the_same_path_is_not_served_from_the_cache(
    ckpt: Path, docs: Path, tmp_path: Path
):
    d = _copy(ckpt, tmp_path)
    first = score_checkpoint(d, docs, device="cpu")
    new = _bpe(TEXT[:16_000], 300)  # a smaller vocabulary: other ids, all below 320
    new.save(str(d / "tokenizer.json"))
    res = score_checkpoint(d, docs, device="cpu")
    assert res.model["tokenizer"] == tokenizer_digest(d / "tokenizer.json")
    assert res.model["tokenizer"] != first.model["tokenizer"]
    heldout = np.asarray(sl.corpus.load(res.corpus["path"]).heldout)
    expected = new.encode((docs / "part09.txt").read_text()).ids + [new.token_to_id(EOD)]
    np.testing.assert_array_equal(heldout, expected)


# -- errors a user can cause ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "checkpoint not found"),
        ("file", "not a directory"),
        ("no-config", "no config.json"),
        ("no-weights", "no weights"),
        ("no-tokenizer", "no tokenizer.json"),
        ("unknown-model-type", "cannot load .*config.json"),
        ("malformed-config", "cannot load .*config.json"),
        ("not-causal", "'vit' is not a causal language model"),
        ("corrupt-weights", "cannot load the causal LM"),
    ],
)
def test_bad_checkpoints_are_user_errors(
    ckpt: Path, docs: Path, tmp_path: Path, breakage: str, message: str
):
    d = _copy(ckpt, tmp_path)
    if breakage == "missing":
        d = tmp_path / "nowhere"
    elif breakage == "file":
        d = d / "config.json"
    elif breakage == "no-config":
        (d / "config.json").unlink()
    elif breakage == "no-weights":
        (d / "model.safetensors").unlink()
    elif breakage == "no-tokenizer":
        (d / "tokenizer.json").unlink()
    elif breakage == "unknown-model-type":
        (d / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    elif breakage == "not-causal":
        (d / "config.json").write_text(json.dumps({"model_type": "vit"}))
    elif breakage == "malformed-config":
        (d / "config.json").write_text("{ not json")
    elif breakage == "corrupt-weights":
        (d / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match=message) as err:
        score_checkpoint(d, docs, device="cpu")
    assert "\n" not in str(err.value)


def test_missing_transformers_names_the_extra(
    ckpt: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(UserError, match=r"pip install 'scalinglab\[hf-model\]'"):
        score_checkpoint(ckpt, docs, device="cpu")


def test_missing_torch_names_the_extras(ckpt: Path, docs: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UserError, match=r"needs torch: pip install 'scalinglab\[train,hf-model\]'"):
        score_checkpoint(ckpt, docs, device="cpu")


def test_module_imports_without_torch_or_transformers():
    code = (
        "import sys, scalinglab.train.hf as h; h.is_checkpoint('.'); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ids_beyond_the_model_vocabulary(bpe: Tokenizer, docs: Path, tmp_path: Path):
    d = _save(tmp_path / "small-vocab", bpe, vocab_size=100)
    with pytest.raises(UserError, match="outside the vocabulary of 100"):
        score_checkpoint(d, docs, device="cpu")


def test_heldout_shorter_than_one_block(ckpt: Path, tmp_path: Path):
    (tmp_path / "short.txt").write_text(TEXT[:3000])  # 1% of ~1000 tokens
    with pytest.raises(UserError, match="fewer than one block of 65"):
        score_checkpoint(ckpt, tmp_path / "short.txt", device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context": N_POS + 1}, "exceeds the model's 64 positions"),
        ({"context": 0}, "context must be >= 1"),
        ({"max_blocks": 0}, "max_blocks"),
        ({"batch_size": 0}, "batch_size"),
        ({"device": "tpu"}, "unknown device"),
    ],
)
def test_bad_settings(ckpt: Path, docs: Path, kwargs: dict, message: str):
    with pytest.raises(UserError, match=message):
        score_checkpoint(ckpt, docs, **kwargs)


def test_pytorch_model_bin_weights(ckpt: Path, docs: Path, tmp_path: Path):
    d = _copy(ckpt, tmp_path)
    model = GPT2LMHeadModel.from_pretrained(d, local_files_only=True)
    torch.save(model.state_dict(), d / "pytorch_model.bin")
    (d / "model.safetensors").unlink()
    a = score_checkpoint(ckpt, docs, context=16, device="cpu")
    b = score_checkpoint(d, docs, context=16, device="cpu")
    np.testing.assert_allclose(b.loss, a.loss, rtol=0, atol=1e-9)


def test_predict_takes_a_checkpoint_as_its_entropy_source(ckpt: Path, docs: Path, tmp_path: Path):
    """predict --entropy-from DIR: statistics and losses on the checkpoint's own tokens."""
    out = tmp_path / "pred"
    pred = sl.theory.predict(
        docs,
        out=out,
        entropy_from=ckpt,
        max_n=4,
        lags=list(range(1, 9)),
        n_boot=50,
        progress=False,
    )
    assert pred.entropy_model is not None and pred.entropy_model["source"] == "hf-checkpoint"
    assert pred.corpus["tokenizer"].endswith("tokenizer.json")
    doc = json.loads((out / "entropy.json").read_text())
    rec = doc["model_losses"]
    assert rec["settings"]["source"] == "hf-checkpoint"
    assert rec["losses"]["model"]["n_positions"] == N_POS
    assert len(rec["losses"]["loss"]) == N_POS
    # the random model's losses are near log V: looser than the counts at every n, so the
    # combined upper bound is the n-gram one where both exist
    assert min(rec["losses"]["loss"]) > 0.9 * math.log(V_BPE)


def test_predict_refuses_a_tokenizer_other_than_the_checkpoints(
    ckpt: Path, docs: Path, tmp_path: Path
):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalinglab.cli",
            "predict",
            str(docs),
            "--tokenizer",
            "char",
            "--entropy-from",
            str(ckpt),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env={
            "SCALINGLAB_NO_PROGRESS": "1",
            "PATH": "/usr/bin:/bin",
            "SCALINGLAB_CACHE": str(tmp_path / "cache"),
            "HF_HUB_OFFLINE": "1",
        },
    )
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "differs from the checkpoint's tokenizer" in errors[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()
