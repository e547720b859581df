"""The ``tokenize`` verb."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``scalinglab tokenize`` to the app."""

    @app.command("tokenize")
    def tokenize_cmd(
        source: Annotated[
            str,
            typer.Argument(
                help="python-stdlib, a .txt file, a directory, .jsonl(.gz), .parquet, a saved "
                "Hugging Face dataset, a nanoGPT .bin (with --vocab-size) or a .npy of ids."
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output corpus directory.")],
        tokenizer: Annotated[
            str, typer.Option(help="char, byte, bpe:N or the path of a tokenizer.json.")
        ] = "bpe:8192",
        glob: Annotated[str | None, typer.Option(help="Files to take from a directory.")] = None,
        text_field: Annotated[str, typer.Option(help="Text field of .jsonl/.parquet/HF.")] = "text",
        vocab_size: Annotated[
            int | None, typer.Option(help="Vocabulary size of a pre-tokenized .bin/.npy.")
        ] = None,
        errors: Annotated[
            str, typer.Option(help="Undecodable UTF-8: strict (error), replace or ignore.")
        ] = "strict",
    ) -> None:
        """Tokenize a text source into a TokenCorpus directory (tokens.bin + meta.json).

        Example: scalinglab tokenize ../shared/data/tiny-shakespeare.txt --tokenizer char --out ts
        """
        from .._progress import console
        from ..outdir import claim
        from .build import tokenize

        claim(out, "corpus", create=False)
        c = tokenize(
            source,
            tokenizer,
            out,
            glob=glob,
            text_field=text_field,
            vocab_size=vocab_size,
            errors=errors,
        )
        console.print(
            f"wrote {c.path}: {c.num_tokens:,} tokens, vocabulary {c.vocab_size:,} "
            f"({c.meta['dtype']}), {c.num_documents:,} documents, "
            f"held out: {c.meta['split']['rule']}",
            highlight=False,
        )
