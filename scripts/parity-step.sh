#!/usr/bin/env bash
# The CI parity step: convert MODEL to TARGET, then validate it against MODEL.
# Fails (exit 1) on a parity mismatch, 2 on bad input, 3 on unsupported ops.
#
#   scripts/parity-step.sh MODEL [TARGET] [OUTDIR]
#   scripts/parity-step.sh examples/tiny_cnn.onnx pytorch build/parity
#
# Reports land in OUTDIR: NAME.parity.json, NAME.junit.xml, NAME.parity.html (a rerun replaces
# the artifact and reports it wrote before: --force).
set -euo pipefail
model=${1:?usage: parity-step.sh MODEL [TARGET] [OUTDIR]}
target=${2:-pytorch}
out=${3:-build/parity}
mmconvert=${MMCONVERT:-mmconvert}
name=$(basename "$model")
name=${name%.*}
mkdir -p "$out"
if [ "$target" = onnx ]; then artifact="$out/$name.onnx"; else artifact="$out/${name}_$target"; fi
"$mmconvert" convert "$model" --to "$target" -o "$artifact" --no-validate --force
"$mmconvert" validate "$model" "$artifact" --per-layer --force \
  --report "$out/$name.parity.json" --junit "$out/$name.junit.xml" --html "$out/$name.parity.html"
