#!/usr/bin/env bash
# The rows of docs/validation.md: predicted against measured alpha_D, one `validate` each.
# About 8 minutes a row on 2 CPU cores (BUDGET seconds of grid plus predict); a second run
# reuses every finished step. Usage: examples/validation_table.sh [OUT_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/tiny-shakespeare.txt}"
OUT="${1:-$ROOT/results/validation}"
SL="${SCALINGLAB:-$(command -v scalinglab || echo "$ROOT/.venv/bin/scalinglab")}"
BUDGET="${BUDGET:-420}"
mkdir -p "$OUT"

row() { local name="$1"; shift; echo "== $name"; "$SL" validate "$@" --budget "$BUDGET" --out "$OUT/$name" | tail -3; }

row shakespeare_char "$DATA" --tokenizer char
row shakespeare_bpe1024 "$DATA" --tokenizer bpe:1024
row stdlib_bpe1024 python-stdlib --tokenizer bpe:1024 --p-max 2^18
"$SL" synth facts -K 32 -a 2.5 -c 2.5 --tau0 4 --tokens 2000000 --out "$OUT/corpus_facts_a2.5_c2.5" > /dev/null
row facts_a2.5_c2.5 "$OUT/corpus_facts_a2.5_c2.5"
"$SL" synth facts -K 32 -a 2.5 -c 1.5 --tau0 4 --tokens 2000000 --out "$OUT/corpus_facts_a2.5_c1.5" > /dev/null
row facts_a2.5_c1.5 "$OUT/corpus_facts_a2.5_c1.5"
"$SL" synth rhm -v 16 -m 4 -s 2 -L 6 --train 20000 --test 2000 --out "$OUT/corpus_rhm" > /dev/null
row rhm_v16_m4_s2_L6 "$OUT/corpus_rhm"
