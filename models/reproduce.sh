#!/usr/bin/env bash
# Make the shipped keypoint model again from the training data, step by step: three teachers,
# their mean keypoints as labels, a student trained on them, then the student fine-tuned on the
# MTFL faces labelled by the teachers (models/README.md, "How it was made"). 3.6 hours of
# training on 2 CPU cores, plus the labelling (about 1.5 minutes a file) and each model's export.
#
#     models/reproduce.sh [MAIN_TRAINING_FILE [MTFL_TRAINING_FILE]]
#
# Every step writes under runs/. A step is skipped when its last output is there (a model's
# 8-bit twin, written after its training), and a training that was stopped goes on from the
# model and history it saved (--resume), so the script can be stopped and started again. The result is
# runs/keypoints.keras and its two ONNX twins; models/ is left alone (copy them there to use
# them).
set -euo pipefail
DATA=$(realpath "${1:-$(dirname "$0")/../../shared/data/kaggle-format/training.zip}")
MTFL=$(realpath "${2:-$(dirname "$0")/../../shared/data/kaggle-format-mtfl/training.zip}")
for file in "$DATA" "$MTFL"; do
    [ -f "$file" ] || { echo "reproduce.sh: training file not found: $file" >&2; exit 2; }
done
cd "$(dirname "$0")/.."

step() {  # step OUTPUT COMMAND...: run COMMAND unless OUTPUT exists
    local output=$1; shift
    if [ -e "$output" ]; then echo "have $output"; else echo "+ $*"; "$@"; fi
}
train="python -m facial_keypoints train --resume --epochs 90 --ema 0.999"
teachers="runs/heatmap90.int8.onnx runs/wide90.int8.onnx runs/residual90.int8.onnx"
labels() {  # labels OUT_CSV DISTILL_ARGS...: a fresh folder for the labelled file
    local out=$1; shift
    rm -rf "$(dirname "$out")"
    python benchmarks/distill.py $teachers --out "$out" "$@"
}

# 1. Three teachers: the recipe with three architectures (37-51 minutes each).
step runs/heatmap90.int8.onnx $train --data "$DATA" --arch heatmap --out runs/heatmap90.keras
step runs/wide90.int8.onnx $train --data "$DATA" --arch heatmap-wide --out runs/wide90.keras
step runs/residual90.int8.onnx $train --data "$DATA" --arch heatmap-residual --out runs/residual90.keras
# 2. Each training face's labels moved halfway to the teachers' mean keypoints.
step runs/distill/training.csv labels runs/distill/training.csv --data "$DATA"
# 3. The student, on those labels (about 45 minutes).
step runs/distill90.int8.onnx $train --data runs/distill/training.csv --out runs/distill90.keras
# 4. The MTFL faces, all 15 keypoints from the teachers; faces they disagree on left out.
step runs/pseudo-mtfl/training.csv labels runs/pseudo-mtfl/training.csv --data "$MTFL" --extra
# 5. The student fine-tuned on both (about 30 minutes).
step runs/keypoints.int8.onnx python -m facial_keypoints train --resume \
    --data runs/distill/training.csv runs/pseudo-mtfl/training.csv --init runs/distill90.keras \
    --epochs 16 --learning-rate 5e-4 --ema 0.999 --out runs/keypoints.keras
