#!/usr/bin/env bash
# Acceptance check of int8 quantisation: quantise CHECKPOINT, evaluate the float32
# checkpoint (PyTorch) and the int8 file (ONNX Runtime) with tools/test.py on the
# config's test set, print both mIoU values and fail when they differ by more than
# MAX_DROP (default 1.0).
#
#   bash tools/deployment/check_int8_accuracy.sh CONFIG CHECKPOINT [WORK_DIR] [-- CFG_OPTIONS...]
#
# Environment: CALIB (calibration images, default 64), CALIB_SPLIT (the split they come
# from: train (default), val or test; tools/deployment/quantize.py --calib-split),
# MAX_DROP (default 1.0), PYTHON (default python). See docs/deploy.md ("int8 CPU inference").
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG CHECKPOINT [WORK_DIR] [-- CFG_OPTIONS...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
shift 2
WORK_DIR=work_dirs/int8_check
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    WORK_DIR=$1
    shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
CFG_OPTIONS=("$@")
CALIB=${CALIB:-64}
CALIB_SPLIT=${CALIB_SPLIT:-train}
MAX_DROP=${MAX_DROP:-1.0}
PYTHON=${PYTHON:-python}
INT8=$WORK_DIR/$(basename "${CONFIG%.py}")_int8.onnx
mkdir -p "$WORK_DIR"

cfg_args=()
if [ ${#CFG_OPTIONS[@]} -gt 0 ]; then
    cfg_args=(--cfg-options "${CFG_OPTIONS[@]}")
fi

"$PYTHON" tools/deployment/quantize.py "$CONFIG" "$CHECKPOINT" --calib "$CALIB" \
    --calib-split "$CALIB_SPLIT" --out "$INT8" "${cfg_args[@]}"

miou() {  # the mIoU of a tools/test.py log (from the metrics JSON it names)
    local json
    json=$(sed -n 's/^Metrics written to //p' "$1" | tail -n 1)
    "$PYTHON" -c "import json, sys; print(json.load(open(sys.argv[1]))['mIoU'])" "$json"
}

"$PYTHON" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR/float32" \
    "${cfg_args[@]}" | tee "$WORK_DIR/float32.log"
"$PYTHON" tools/test.py "$CONFIG" "$INT8" --backend onnxruntime \
    --work-dir "$WORK_DIR/int8" "${cfg_args[@]}" | tee "$WORK_DIR/int8.log"

FP32=$(miou "$WORK_DIR/float32.log")
Q8=$(miou "$WORK_DIR/int8.log")
"$PYTHON" - "$FP32" "$Q8" "$MAX_DROP" "$CALIB" <<'PY'
import sys
fp32, int8, max_drop, calib = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
drop = fp32 - int8
print(f'mIoU float32 (PyTorch) {fp32:.2f} | int8 (ONNX Runtime, {calib} calibration images) '
      f'{int8:.2f} | difference {drop:+.2f} (allowed: within {max_drop:g})')
sys.exit(0 if abs(drop) <= max_drop else 1)
PY
