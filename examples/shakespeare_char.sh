#!/usr/bin/env bash
# Predict, then measure, the data-limited scaling law of tiny-shakespeare at the character level.
#
#   1. predict:  beta from token correlations, gamma from count-based conditional entropies,
#                alpha_D = gamma / (2 beta) with its interval;
#   2. sweep:    2-layer GPT-2-style models trained on exactly P = 2^12 .. 2^20 characters
#                (context T = 64, two learning rates, best held-out loss with early stopping);
#   3. predict:  again, with the per-position losses of the largest-P model as upper bounds
#                on H_n (--entropy-from) and the measured curve overlaid (--compare-measured);
#   4. collapse: L_n n^gamma against P / n^(2 beta), and predicted against measured alpha_D,
#                with the exponents of step 3 and of step 1.
#
# About 15 minutes on 2 CPU cores (30+ when the cores are shared) (two single-threaded workers; 18 runs). Running it
# again reuses every finished training run. Usage: examples/shakespeare_char.sh [OUT_DIR]
# A quick check of the pipeline (about a minute):  P=2^10:2^12 MAX_STEPS=30 examples/shakespeare_char.sh /tmp/sc
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data/tiny-shakespeare.txt}"
OUT="${1:-$ROOT/results/shakespeare_char}"
SL="${SCALINGLAB:-$(command -v scalinglab || echo "$ROOT/.venv/bin/scalinglab")}"
WORKERS="${WORKERS:-2}"
P="${P:-2^12:2^20}"
MAX_STEPS="${MAX_STEPS:-5000}"

[ -f "$DATA" ] || { echo "tiny-shakespeare not found at $DATA (set DATA=...)" >&2; exit 2; }
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1. predict alpha_D from corpus statistics (counts only)"
"$SL" predict "$DATA" --tokenizer char --context 64 --out "$OUT/predict"

echo "== 2. sweep P = $P at T = 64"
"$SL" sweep "$DATA" --tokenizer char --P "$P" --context 64 --lr 3e-3,1e-2 \
  --layers 2 --width 64 --heads 2 --batch-size 32 --max-steps "$MAX_STEPS" --max-epochs 200 \
  --final-eval-blocks 16384 --workers "$WORKERS" --out "$OUT/sweep"

echo "== 3. predict again: model-based entropies, measured curve overlaid"
"$SL" predict "$DATA" --tokenizer char --context 64 \
  --entropy-from "$OUT/sweep/model_entropy.json" --compare-measured "$OUT/sweep/sweep.json" \
  --out "$OUT/predict_model"

echo "== 4. collapse, and predicted against measured alpha_D (model-based, then count-based gamma)"
"$SL" report collapse "$OUT/sweep" --prediction "$OUT/predict_model/prediction.json" \
  --out "$OUT/collapse"
"$SL" report collapse "$OUT/sweep" --prediction "$OUT/predict/prediction.json" \
  --out "$OUT/collapse_counts"

echo "done in $(( $(date +%s) - start )) s; results in $OUT"
