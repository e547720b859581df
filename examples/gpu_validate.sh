#!/usr/bin/env bash
# validate at paper-like settings on one GPU: 6-layer GPT-2 models of width 256 (validate's
# CUDA default; --budget sizes the grid), T = 256, P = 2^12 .. 2^26 on the flipping-facts
# source (exact beta and gamma, 1.5e8 tokens so that P = 2^26 is a small slice), then
# python-stdlib at bpe:8192 up to its 3.2M tokens. Sized to finish in under 8 minutes on
# one H200-class GPU (420 s of grid for the first, the rest of the time for the second);
# on a CPU it stops with "raise --budget". Usage: examples/gpu_validate.sh [OUT_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/results/gpu_validate}"
SL="${SCALINGLAB:-$(command -v scalinglab || echo "$ROOT/.venv/bin/scalinglab")}"
mkdir -p "$OUT"
"$SL" synth facts -K 64 -a 2.5 -c 2.5 --tau0 4 --tokens 150000000 --out "$OUT/corpus_facts" > /dev/null
"$SL" validate "$OUT/corpus_facts" --device cuda --budget 300 --p-max 2^26 --workers 1 \
    --max-n 16 --out "$OUT/facts" | tail -4
"$SL" validate python-stdlib --device cuda --budget 120 --workers 1 --out "$OUT/stdlib" | tail -4
