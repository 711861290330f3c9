"""How long one 96x96 face crop takes through the keypoint model, eight ways.

    python benchmarks/inference.py                    # models/keypoints.keras, else 'original'
    python benchmarks/inference.py --model resnet     # an architecture name, with random weights
    python benchmarks/inference.py --json             # one JSON line instead of the table

Rows: Keras ``model.predict``, a plain ``model(x)`` call, a ``tf.function``-compiled call, and the
exported ONNX model in ONNX Runtime with 1 and 2 threads, float and 8-bit
(:func:`facial_keypoints.export.quantize_int8`), and the 8-bit one looking at the crop and its
mirror image in one call, the mirror look photos get on request
(``predict(crop, flip_average=True)``). Times are
per call, in milliseconds (median and 90th percentile over ``--calls`` calls after a warm-up).
Weights do not change the time, so an untrained model measures just as well as a trained one,
and the 8-bit twin is calibrated on random crops here: its ranges do not change the time either.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facial_keypoints.predictor import DEFAULT_MODEL, OnnxPredictor  # noqa: E402


def time_calls(call, calls, warmup=10):
    """``call()`` ``calls`` times after ``warmup`` -> (median ms, 90th percentile ms)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3), float(np.percentile(times, 90) * 1e3)


def load_keras(model):
    """A ``.keras`` path, or an architecture name built with random weights."""
    from facial_keypoints.architectures import get_model, load_model

    if Path(model).suffix == ".keras":
        return load_model(model)
    return get_model(model)


def benchmark(model_name, calls):
    """``{way: {"median_ms": ..., "p90_ms": ...}}`` for one crop per call."""
    import tensorflow as tf

    from facial_keypoints.export import export_onnx, quantize_int8

    model = load_keras(model_name)
    crop = np.random.default_rng(0).random((1, 96, 96, 1), dtype=np.float32)
    compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = export_onnx(model, Path(folder) / "model.onnx")
        random_crops = np.random.default_rng(1).random((64, 96, 96, 1), dtype=np.float32)
        int8_path, _ = quantize_int8(onnx_path, Path(folder) / "model.int8.onnx", random_crops,
                                     check=False)
        ways = {
            "keras model.predict": lambda: model.predict(crop, verbose=0),
            "keras model(x)": lambda: model(crop, training=False),
            "keras tf.function": lambda: compiled(crop),
            "onnxruntime 1 thread": OnnxPredictor(onnx_path, threads=1).predict,
            "onnxruntime 2 threads": OnnxPredictor(onnx_path, threads=2).predict,
            "onnxruntime 8-bit 1 thread": OnnxPredictor(int8_path, threads=1).predict,
            "onnxruntime 8-bit 2 threads": OnnxPredictor(int8_path, threads=2).predict,
            "onnxruntime 8-bit 2 threads, mirror look": mirror_look(int8_path),
        }
        results = {}
        for way, call in ways.items():
            run = (lambda c=call: c(crop)) if "onnx" in way else call
            # model.predict is slow: fewer calls keep the whole run under a minute.
            median, p90 = time_calls(run, calls // 4 if "predict" in way else calls)
            results[way] = {"median_ms": round(median, 3), "p90_ms": round(p90, 3)}
    return results


def mirror_look(path):
    """The mirror look (photos, on request): the crop and its mirror image in one call,
    averaged. The mirror bias is set to zero here: its value does not change the time."""
    predictor = OnnxPredictor(path, threads=2)
    predictor.flip_offset = np.zeros((15, 2), np.float32)
    return lambda crop: predictor.predict(crop, flip_average=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL) if DEFAULT_MODEL.exists()
                        else "original", help=".keras file or architecture name")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per way")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)

    results = benchmark(args.model, args.calls)
    if args.json:
        print(json.dumps({"model": args.model, "per_call": results}))
        return
    fastest = min(r["median_ms"] for r in results.values())
    print(f"one 96x96 crop per call, model {args.model}\n")
    print(f"{'way':<42}{'median ms':>11}{'p90 ms':>9}{'calls/s':>9}{'x slower':>10}")
    for way, r in results.items():
        print(f"{way:<42}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}"
              f"{1e3 / r['median_ms']:>9.0f}{r['median_ms'] / fastest:>10.1f}")


if __name__ == "__main__":
    main()
