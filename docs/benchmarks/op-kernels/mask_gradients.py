"""Three ways to pass a gradient through a boolean mask (dropout's, ReLU's) on TensorFlow 2.21's CPU
kernels (the test-only .venv-test), for a [512, 2080] feed-forward activation, 20 in a row:
the select against a ZerosLike that Dropout and Relu used, a select against a scalar 0, and the
product dy * (cast(mask) * scale) that ops/MaskGradient now builds (compare.md, eighth pass).

    .venv-test/bin/python docs/benchmarks/op-kernels/mask_gradients.py
"""
import time

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
rng = np.random.default_rng(0)
dy0 = tf.constant(rng.standard_normal((512, 2080), dtype=np.float32))
keep = tf.constant(rng.random((512, 2080)) > 0.1)
scale = tf.constant(1 / 0.9)
CHAIN = 20
variants = {
    "select, zerosLike": lambda dy: tf.where(keep, dy * scale, tf.zeros_like(dy)),
    "select, scalar 0": lambda dy: tf.where(keep, dy * scale, 0.0),
    "dy * (cast(mask) * scale)": lambda dy: dy * (tf.cast(keep, tf.float32) * scale),
}
for name, gradient in variants.items():

    @tf.function
    def chain(dy):
        for _ in range(CHAIN):
            dy = gradient(dy)
        return dy

    chain(dy0).numpy()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            chain(dy0).numpy()
        best = min(best, (time.perf_counter() - start) / 10 / CHAIN)
    print(f"{name:28s} {best * 1e6:7.1f} us each")
