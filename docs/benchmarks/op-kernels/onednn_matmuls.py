"""oneDNN's MatMul (TensorFlow 2.21's CPU build, the test-only .venv-test) on the expert dispatch's
shapes, one or two intra-op threads: the side that gathered_gemm.c is compared with.

    .venv-test/bin/python docs/benchmarks/op-kernels/onednn_matmuls.py 1
"""
import sys
import time

import tensorflow as tf

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
CALLS = 20
for rows, k, n in [(205, 412, 76), (205, 76, 412), (410, 412, 76), (1024, 412, 152)]:
    x = tf.random.normal([max(512, rows), k])
    w = tf.random.normal([k, n])
    picked = tf.random.uniform([rows], 0, 512, tf.int32)

    @tf.function
    def gathered(x, w, picked):
        total = tf.zeros([rows, n])
        for i in range(CALLS):  # w + i: CALLS distinct products, none folded away
            total += tf.matmul(tf.gather(x, picked), w + float(i))
        return total

    @tf.function
    def contiguous(x, w):
        total = tf.zeros([rows, n])
        for i in range(CALLS):
            total += tf.matmul(x[:rows] + float(i), w)
        return total

    for name, step in [("GatherV2 + MatMul", lambda: gathered(x, w, picked)), ("MatMul", lambda: contiguous(x, w))]:
        step().numpy()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(20):
                step().numpy()
            best = min(best, (time.perf_counter() - start) / 20 / CALLS)
        print(f"{threads} thread(s), rows {rows}, K {k}, N {n}, {name}: {best * 1e6:.1f} us, {2 * rows * k * n / best / 1e9:.1f} GFLOP/s")
