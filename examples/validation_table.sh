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

# The table of docs/validation.md, from the rows' validation.json.
PY="$(dirname "$SL")/python"; [ -x "$PY" ] || PY=python3
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
print("| row | tokens, V | predicted alpha_D [95%] | measured alpha_D [95%] (converged P) | "
      "agree (z) | max level error | extrapolation to P_max: measured fit / predicted curve |")
print("|---|---|---|---|---|---|---|")
for d in sorted(p for p in out.iterdir() if (p / "validation.json").is_file()):
    v = json.loads((d / "validation.json").read_text())
    c = v["corpus"]
    ap, am = v["predicted"]["alpha_D"], v["measured"]["alpha_D"]
    def f(a):
        if a.get("value") is None:
            return "undefined"
        lo, hi = a["ci95"]
        return f"{a['value']:.3f} ± {a['stderr']:.3f} [{lo:.3f}, {hi:.3f}]"
    conv = [p for p, ok in zip(v["measured"]["curve"]["P"], v["measured"]["curve"]["converged"]) if ok]
    ag = v["agreement"]
    agree = "n/a" if ag.get("agree") is None else f"{'yes' if ag['agree'] else 'no'} ({ag['z']:+.1f})"
    lvl = v["levels"].get("max_abs_relative_error")
    ex = v["extrapolation"]
    exs = (f"{ex['measured_fit_error_percent']:+.1f}% / {ex.get('predicted_curve_error_percent', float('nan')):+.1f}%"
           if ex else "n/a")
    win = f"{min(conv):,}..{max(conv):,}, {len(conv)}" if conv else "none"
    print(f"| {d.name} | {c['tokens']:,}, {c['vocab_size']} | {f(ap)} | {f(am)} ({win}) | {agree} | "
          f"{'n/a' if lvl is None else f'{100 * lvl:.0f}%'} | {exs} |")
PYEOF
