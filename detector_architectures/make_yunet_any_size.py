"""Make ``face_detection_yunet_2023mar_any_size.onnx`` from the published YuNet file.

    python detector_architectures/make_yunet_any_size.py PATH/face_detection_yunet_2023mar.onnx

The published file (``opencv/opencv_zoo``, ``models/face_detection_yunet/``; sha256 8f2383e4...
2552fa4) declares a fixed 1x3x640x640 input. OpenCV's ``cv2.FaceDetectorYN`` resizes the network
itself, but ONNX Runtime, which runs it faster on a CPU, takes the declared sizes literally.
This script only renames those sizes: the input becomes batch x 3 x height x width and each
output 1 x anchors x values, and the stored shapes of intermediate tensors (which
ONNX Runtime infers anyway) are dropped. Nodes and weights are untouched, so the network computes
exactly what the published one does (``tests/test_detectors.py`` compares it with OpenCV's own
detector). Needs the ``onnx`` package (``pip install ".[train]"``).
"""

import argparse
from pathlib import Path

import onnx

OUT = Path(__file__).resolve().parent / "face_detection_yunet_2023mar_any_size.onnx"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("published", type=Path, help="the published face_detection_yunet_2023mar.onnx")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    model = onnx.load(args.published)
    batch, channels, height, width = model.graph.input[0].type.tensor_type.shape.dim
    batch.dim_param, height.dim_param, width.dim_param = "batch", "height", "width"
    for output in model.graph.output:  # cls_8, obj_8, bbox_8, kps_8, ... (stride after "_")
        one, anchors, _ = output.type.tensor_type.shape.dim
        one.dim_param, anchors.dim_param = "one", "anchors_" + output.name.split("_")[1]
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
