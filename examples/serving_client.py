"""Call an svg_tf SavedModel served by TF Serving, over REST or gRPC.

    # serve (see the export's README.md):
    docker run -p 8501:8501 -p 8500:8500 \
      --mount type=bind,source=$(realpath serving/svg),target=/models/svg \
      -e MODEL_NAME=svg tensorflow/serving
    # then:
    python examples/serving_client.py --rest=http://localhost:8501 --context=video.npy
    python examples/serving_client.py --grpc=localhost:8500 --context=video.npy

The request builders need only numpy (REST) or tensorflow + tensorflow-serving-api (gRPC);
svg_tf need not be installed. What the tests check: both builders produce requests whose
tensors decode back to the inputs. No server runs in the tests (none is available offline).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def rest_body(context, n_future, num_samples, seed):
    """JSON body for POST {host}/v1/models/svg:predict (columnar "inputs" format)."""
    return {"signature_name": "serving_default",
            "inputs": {"context": np.asarray(context, np.float32).tolist(),
                       "n_future": int(n_future), "num_samples": int(num_samples),
                       "seed": [int(s) for s in seed]}}


def grpc_request(context, n_future, num_samples, seed, model_name="svg"):
    """A tensorflow_serving PredictRequest for the sampling signature."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = "serving_default"
    request.inputs["context"].CopyFrom(tf.make_tensor_proto(np.asarray(context, np.float32)))
    request.inputs["n_future"].CopyFrom(tf.make_tensor_proto(np.int32(n_future)))
    request.inputs["num_samples"].CopyFrom(tf.make_tensor_proto(np.int32(num_samples)))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.asarray(seed, np.int64)))
    return request


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--context", required=True,
                        help=".npy file, float32 [batch, n_past, H, W, C] in [0, 1]")
    parser.add_argument("--n_future", type=int, default=10)
    parser.add_argument("--num_samples", type=int, default=10)
    parser.add_argument("--seed", type=int, nargs=2, default=[0, 0])
    parser.add_argument("--rest", help="REST endpoint, e.g. http://localhost:8501")
    parser.add_argument("--grpc", help="gRPC endpoint, e.g. localhost:8500")
    parser.add_argument("--out", default="frames.npy")
    args = parser.parse_args()
    context = np.load(args.context)
    if args.rest:
        import urllib.request

        body = json.dumps(rest_body(context, args.n_future, args.num_samples, args.seed))
        req = urllib.request.Request(f"{args.rest}/v1/models/svg:predict", body.encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as response:
            frames = np.asarray(json.load(response)["outputs"]["frames"], np.float32)
    elif args.grpc:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(args.grpc))
        result = stub.Predict(grpc_request(context, args.n_future, args.num_samples,
                                           args.seed), 60.0)
        frames = tf.make_ndarray(result.outputs["frames"])
    else:
        parser.error("give --rest or --grpc")
    np.save(args.out, frames)
    print(f"frames {frames.shape} -> {args.out}")


if __name__ == "__main__":
    main()
