"""Video datasets as tf.data pipelines (float32 `[T, H, W, C]` in [0, 1])."""
