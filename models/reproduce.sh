#!/usr/bin/env bash
# Make the shipped keypoint model again from the training data, step by step: three teachers,
# their mean keypoints as labels, a student trained on them, then the student fine-tuned on the
# MTFL faces labelled by the teachers (models/README.md, "How it was made"). About four and a
# half hours on 2 CPU cores.
#
#     models/reproduce.sh [MAIN_TRAINING_FILE [MTFL_TRAINING_FILE]]
#
# Every step writes under runs/ and is skipped when its output is there already, so the script
# can be stopped and started again. The result is runs/keypoints.keras and its two ONNX twins;
# models/ is left alone (copy them there to use them).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/kaggle-format/training.zip}
MTFL=${2:-../shared/data/kaggle-format-mtfl/training.zip}

step() {  # step OUTPUT COMMAND...: run COMMAND unless OUTPUT exists
    local output=$1; shift
    if [ -e "$output" ]; then echo "have $output"; else echo "+ $*"; "$@"; fi
}
train="python -m facial_keypoints train --epochs 90 --ema 0.999"
teachers="runs/heatmap90.int8.onnx runs/wide90.int8.onnx runs/residual90.int8.onnx"

# 1. Three teachers: the recipe with three architectures (about 50 minutes each).
step runs/heatmap90.keras $train --data "$DATA" --arch heatmap --out runs/heatmap90.keras
step runs/wide90.keras $train --data "$DATA" --arch heatmap-wide --out runs/wide90.keras
step runs/residual90.keras $train --data "$DATA" --arch heatmap-residual --out runs/residual90.keras
# 2. Each training face's labels moved halfway to the teachers' mean keypoints.
step runs/distill/training.csv python benchmarks/distill.py $teachers --data "$DATA" \
    --out runs/distill/training.csv
# 3. The student, on those labels (about 45 minutes).
step runs/distill90.keras $train --data runs/distill/training.csv --out runs/distill90.keras
# 4. The MTFL faces, all 15 keypoints from the teachers; faces they disagree on left out.
step runs/pseudo-mtfl/training.csv python benchmarks/distill.py $teachers --data "$MTFL" --extra \
    --out runs/pseudo-mtfl/training.csv
# 5. The student fine-tuned on both (about 30 minutes).
step runs/keypoints.keras python -m facial_keypoints train \
    --data runs/distill/training.csv runs/pseudo-mtfl/training.csv --init runs/distill90.keras \
    --epochs 16 --learning-rate 5e-4 --ema 0.999 --out runs/keypoints.keras
