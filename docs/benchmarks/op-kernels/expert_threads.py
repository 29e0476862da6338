"""How TensorFlow's oneDNN MatMul (TensorFlow 2.21's CPU build, the test-only .venv-test) uses two
cores on the 47M model's expert matmuls and feed-forward matmuls, under each intra-op and inter-op
thread count; and whether a new row count each run (an expert segment's size changes every step)
costs oneDNN a primitive build.

    .venv-test/bin/python docs/benchmarks/op-kernels/expert_threads.py

Each thread setting runs in a child process: a process's CPU device keeps the thread pools of its
first session, so one process cannot compare them. A run is 10 independent matmuls of one kind (the
10 experts of a layer), summed so that none is pruned; GFLOP/s is the best of 15 runs.
"""
import os
import subprocess
import sys
import time

import numpy as np

KINDS = {  # name: (a shape, b shape, transpose_a, transpose_b)
    "value forward": ((410, 412), (412, 76), False, False),
    "output forward": ((205, 76), (76, 412), False, False),
    "value weight grad": ((410, 412), (410, 76), True, False),
    "output weight grad": ((205, 76), (205, 412), True, False),
    "output input grad": ((205, 412), (76, 412), False, True),
    "ff forward": ((512, 412), (412, 2080), False, False),
    "ff input grad": ((512, 412), (2080, 412), False, True),
}
SETTINGS = [(1, 1), (2, 1), (1, 2), (2, 2)]  # (intra-op, inter-op) threads
EXPERTS = 10
RUNS = 15


def dims(a, b, ta, tb):
    m, k = (a[1], a[0]) if ta else a
    n = b[0] if tb else b[1]
    return m, k, n


def l2_bytes():
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index2/size") as f:
            text = f.read().strip()
        return int(text[:-1]) * 1024 if text.endswith("K") else int(text)
    except OSError:
        return None


def child(intra, inter):
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    rng = np.random.default_rng(0)
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter)
    row = []
    for a, b, ta, tb in KINDS.values():
        graph = tf.Graph()
        with graph.as_default():
            def var(shape):
                return tf.Variable(rng.standard_normal(shape).astype(np.float32))
            total = tf.add_n([tf.reduce_sum(tf.matmul(var(a), var(b), transpose_a=ta, transpose_b=tb)) for _ in range(EXPERTS)])
            session = tf.compat.v1.Session(graph=graph, config=config)
            session.run(tf.compat.v1.global_variables_initializer())
            for _ in range(5):
                session.run(total)
            best = float("inf")
            for _ in range(RUNS):
                start = time.perf_counter()
                session.run(total)
                best = min(best, time.perf_counter() - start)
        m, k, n = dims(a, b, ta, tb)
        row.append(2 * m * k * n * EXPERTS / best / 1e9)
    print(" ".join(f"{g:.1f}" for g in row))


def fresh_rows():
    """Ten value-forward matmuls a run, their row counts the same every run, or new every run (never seen before)."""
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((EXPERTS * 1500, 412)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((412, 76)).astype(np.float32))
    rows = tf.compat.v1.placeholder(tf.int32, [EXPERTS])
    sums, previous = [], None
    for i in range(EXPERTS):  # one after the other, each with its own row count
        with tf.control_dependencies([previous] if previous is not None else []):
            previous = tf.matmul(tf.slice(x, [i * 1500, 0], tf.stack([rows[i], 412])), w)
        sums.append(tf.reduce_sum(previous))
    total = tf.add_n(sums)
    session = tf.compat.v1.Session(config=tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1))
    session.run(tf.compat.v1.global_variables_initializer())

    def run(counts):
        start = time.perf_counter()
        for c in counts:
            session.run(total, {rows: c})
        return 2 * 412 * 76 * int(np.sum(counts)) / (time.perf_counter() - start) / 1e9

    for trial in range(3):
        counts = np.arange(300, 700) + 400 * trial  # a range no trial before used
        fixed = counts[::40]  # 10 of them
        run([fixed] * 5)
        unseen = rng.permutation(counts).reshape(-1, EXPERTS)  # 40 runs, 400 counts, none repeated
        new = run(list(unseen))
        same = run([fixed] * len(unseen))
        print(f"value forward, rows {counts[0]} to {counts[-1]}, 10 a run: the same row counts every run {same:.1f} GFLOP/s, new row counts every run {new:.1f} GFLOP/s")


def main():
    if len(sys.argv) == 3:
        child(int(sys.argv[1]), int(sys.argv[2]))
        return
    if sys.argv[1:] == ["fresh"]:
        fresh_rows()
        return
    l2 = l2_bytes()
    print(f"L2 per core: {l2} bytes; TensorFlow runs a MatMul on one thread when 4 (m n + k (m + n)) bytes are below it")
    for name, (a, b, ta, tb) in KINDS.items():
        m, k, n = dims(a, b, ta, tb)
        size = 4 * (m * n + k * (m + n))
        print(f"  {name}: [{m} x {k}] x [{k} x {n}], {size} bytes{'' if l2 is None else ', one thread' if size < l2 else ', all threads'}")
    print()
    print("| intra-op, inter-op threads | " + " | ".join(KINDS) + " |")
    print("|---" * (len(KINDS) + 1) + "|")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for intra, inter in SETTINGS:
        out = subprocess.run([sys.executable, __file__, str(intra), str(inter)], env=env, capture_output=True, text=True, check=True)
        print(f"| {intra}, {inter} | " + " | ".join(out.stdout.split()) + " |")
    print()
    out = subprocess.run([sys.executable, __file__, "fresh"], env=env, capture_output=True, text=True, check=True)
    print(out.stdout, end="")


if __name__ == "__main__":
    main()
