"""Compiles and times the training steps `switchhead bench hlo OUT_DIR` wrote, with JAX's XLA.

    .venv-test/bin/python tools/src/main/python/hlo_bench.py OUT_DIR [--steps 5] [--module all]

Runs on whatever backend JAX finds (CPU here, a GPU where jaxlib has one): for each model of
OUT_DIR/manifest.json it compiles the step's module, feeds it arguments of the manifest's shapes (the
`--values` arguments when `bench hlo` wrote them, else random ones) and prints the backend, the
compile seconds and the median step milliseconds. With the written values it also prints the loss
beside TensorFlow Java's on the same arguments, which says that the module computes what
TensorFlow's XLA computed. `--profile` also traces the timed steps with jax.profiler and says where a step's time goes: its
thunks' time by what each does (dot, gather, scatter, elementwise fusion, ...). `--module all` only tries to load and compile every dumped form of each
module (text and proto, before and after TensorFlow's optimizations) and says which load.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

try:
    import jax
    from jax.extend import backend as jax_backend
    from jax.extend import mlir as jax_mlir
    from jaxlib import xla_client
except ImportError as e:
    sys.exit(f"hlo_bench: {e}: this needs jax==0.10.2 and jaxlib, which .ci/python-env installs into .venv-test")

# The step's seed is an int64 pair; without x64, device_put would narrow it to int32.
jax.config.update("jax_enable_x64", True)

# The module XLA optimizes for the backend at hand: TensorFlow's optimized module is its CPU
# backend's, and this newer XLA rejects it (its layouts), so the default is the portable one.
DEFAULT_STAGE = "before_optimizations"

# Text and proto load alike here (bench hlo dumps the text with its large constants in full).
FORMATS = ("txt", "hlo.pb")


def varint(data, i):
    """A protobuf varint at data[i:]: its value and the index after it."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def hlo_module_proto(dumped):
    """The HloModuleProto inside XLA's dumped `.hlo.pb`, which is an HloProto (module, buffer assignment).

    HloProto's field 1 is the module; reading the wire format here spares a protobuf dependency.
    """
    i = 0
    while i < len(dumped):
        key, i = varint(dumped, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            size, i = varint(dumped, i)
            if field == 1:
                return dumped[i:i + size]
            i += size
        elif wire == 0:
            _, i = varint(dumped, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"not an HloProto: wire type {wire} at byte {i}")
    raise ValueError("not an HloProto: no module (field 1)")


def load(path):
    """StableHLO bytecode of a dumped module, from its text or its proto."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".txt"):
        proto = xla_client.hlo.hlo_module_from_text(data.decode("utf-8")).as_serialized_hlo_module_proto()
    else:
        proto = hlo_module_proto(data)
    return jax_mlir.hlo_to_stablehlo(proto)


def compile_module(path):
    """The module compiled for the first device, and the seconds loading and compiling took."""
    start = time.perf_counter()
    client = jax_backend.get_backend()
    executable = client.compile_and_load(load(path), client.local_devices()[:1], xla_client.CompileOptions())
    return executable, time.perf_counter() - start


def arguments(out_dir, model, use_values, rng):
    """One array per module parameter, in the manifest's order."""
    values = model.get("values") if use_values else None
    args = []
    for a in model["arguments"]:
        shape, dtype = tuple(a["shape"]), np.dtype(a["dtype"])
        if values:
            array = np.load(os.path.join(out_dir, values, a["name"] + ".npy"))
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(f"{model['name']}: {a['name']}.npy is {array.dtype}{list(array.shape)}, the module takes {dtype}{list(shape)}")
        elif a["what"] in ("inputs", "targets"):
            array = rng.integers(0, model["vocabSize"], shape, dtype=dtype)
        elif a["what"] == "seed":
            array = np.array([1, 0], dtype=dtype)
        elif a["what"] == "memory":
            array = np.zeros(shape, dtype)
        else:
            # Timing only: small weights keep the activations finite and the routing spread.
            array = (rng.standard_normal(shape) * 0.02).astype(dtype)
        args.append(array)
    return args


# Thunk events that are not an HLO instruction's work: the runtime's own bookkeeping.
PROFILE_NOISE = ("ThreadpoolListener::", "end: ")

# Instructions whose events contain their body's events: counted through those, not themselves.
CONTAINERS = ("while", "conditional", "call")

# What a fusion is called by the heaviest op it contains, in this order.
HEAVY_OPS = ("dot", "convolution", "scatter", "gather", "sort", "dynamic-update-slice", "dynamic-slice", "reduce", "transpose",
             "concatenate", "copy")


def parse_instructions(module_text):
    """Instruction name -> (opcode, called computation or None), and computation -> its opcodes."""
    instructions, computations = {}, {}
    current = None
    for line in module_text.splitlines():
        stripped = line.strip()
        if stripped.endswith("{") and "=" not in stripped.split("(")[0]:
            header = stripped[len("ENTRY "):] if stripped.startswith("ENTRY ") else stripped
            current = header.split(" ")[0].lstrip("%")
            computations[current] = []
            continue
        if stripped == "}":
            current = None
            continue
        if current is None or " = " not in stripped:
            continue
        name, rest = stripped.removeprefix("ROOT ").split(" = ", 1)
        # "f32[2,3]{1,0} opcode(operands), attrs": the opcode is the word before the first "(" after the
        # type, which may itself be a tuple "(f32[2], s32[]) opcode(...)".
        if rest.startswith("("):
            depth, end = 0, 0
            for end, ch in enumerate(rest):
                depth += {"(": 1, ")": -1}.get(ch, 0)
                if depth == 0:
                    break
            rest_after = rest[end + 1:]
        else:
            rest_after = rest
        words = rest_after.split("(", 1)[0].split()
        opcode = words[-1] if words else "?"
        called = None
        for key in ("calls=", "body="):
            if key in rest:
                called = rest.split(key, 1)[1].split(",")[0].split(" ")[0].strip("%{}")
                break
        instructions[name.lstrip("%")] = (opcode, called)
        computations[current].append((opcode, called))
    return instructions, computations


def category(name, instructions, computations):
    """What an instruction does, by its opcode or, for a fusion, by the heaviest op inside it."""
    opcode, called = instructions.get(name, ("?", None))
    if opcode != "fusion" or called is None:
        return opcode
    inside, pending, seen = set(), [called], set()
    while pending:
        c = pending.pop()
        if c in seen or c not in computations:
            continue
        seen.add(c)
        for op, sub in computations[c]:
            inside.add(op)
            if sub:
                pending.append(sub)
    for heavy in HEAVY_OPS:
        if heavy in inside:
            return heavy + " fusion"
    return "elementwise fusion"


def profile_model(executable, args, steps):
    """Where a step's time goes in this XLA: its thunks' time per step by what they do, and the longest."""
    import collections
    import glob
    import tempfile

    module_text = "\n".join(m.to_string() for m in executable.hlo_modules())
    instructions, computations = parse_instructions(module_text)
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(steps):
                jax.block_until_ready(executable.execute(args))
        planes = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
        if not planes:
            raise RuntimeError("jax.profiler wrote no trace")
        data = jax.profiler.ProfileData.from_file(planes[0])
    by_instruction = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            for event in line.events:
                if event.name.startswith(PROFILE_NOISE) or event.name not in instructions:
                    continue
                if instructions[event.name][0] in CONTAINERS:
                    continue
                by_instruction[event.name] += event.duration_ns
    by_category = collections.Counter()
    for name, ns in by_instruction.items():
        by_category[category(name, instructions, computations)] += ns
    total = sum(by_category.values())
    if total == 0:
        raise RuntimeError("the trace has no event of the module's instructions (is this XLA's thunk runtime?)")
    return {
        "thunkMsPerStep": total / 1e6 / steps,
        "byCategory": [{"what": c, "msPerStep": ns / 1e6 / steps, "share": ns / total} for c, ns in by_category.most_common()],
        "longest": [{"instruction": n, "what": category(n, instructions, computations), "msPerStep": ns / 1e6 / steps}
                    for n, ns in by_instruction.most_common(10)],
    }


def time_model(out_dir, model, stage, fmt, steps, use_values, rng, profile=False):
    """Compiles one model's step and runs it; a dict of what was measured."""
    path = os.path.join(out_dir, model["files"][stage + "." + fmt])
    executable, compile_seconds = compile_module(path)
    device = executable.local_devices()[0]
    args = [jax.device_put(a, device) for a in arguments(out_dir, model, use_values, rng)]
    outputs = executable.execute(args)  # warm-up; also the outputs the loss is read from
    jax.block_until_ready(outputs)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        jax.block_until_ready(executable.execute(args))
        times.append((time.perf_counter() - start) * 1000)
    names = [o["what"] for o in model["outputs"]]
    if len(outputs) != len(names):
        raise ValueError(f"{model['name']}: the module returned {len(outputs)} outputs, the manifest names {len(names)}")
    loss = float(np.asarray(outputs[names.index("loss")]))
    lm_loss = float(np.asarray(outputs[names.index("lm_loss")]))
    result = {
        "name": model["name"],
        "backend": device.platform,
        "device": device.device_kind,
        "module": os.path.relpath(path, out_dir),
        "compileSeconds": compile_seconds,
        "medianStepMs": statistics.median(times),
        "stepMs": times,
        "loss": loss,
        "lmLoss": lm_loss,
        "lnVocab": math.log(model["vocabSize"]),
        "valuesUsed": bool(use_values and model.get("values")),
        "tensorflowLoss": model["tensorflow"]["loss"],
        "tensorflowStepMs": model["tensorflow"]["stepMs"],
    }
    if profile:
        result["profile"] = profile_model(executable, args, steps)
    return result


def try_loads(out_dir, model):
    """Whether each dumped form of the model's module loads and compiles here: file -> 'ok' or the error."""
    loads = {}
    for key, file in model["files"].items():
        try:
            _, seconds = compile_module(os.path.join(out_dir, file))
            loads[key] = f"ok ({seconds:.1f} s)"
        except Exception as e:  # each form's failure is a finding, not the end of the run
            loads[key] = f"fails: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
    return loads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="the OUT_DIR of `switchhead bench hlo`")
    parser.add_argument("--models", help="comma-separated names of the manifest's models (default: all)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up (default: 5)")
    parser.add_argument("--stage", default=DEFAULT_STAGE,
                        help=f"which dumped stage to compile: {DEFAULT_STAGE} or the optimized one, e.g. cpu_after_optimizations")
    parser.add_argument("--format", choices=FORMATS, default="txt", help="the module's text or its proto (default: txt)")
    parser.add_argument("--module", choices=["step", "all"], default="step",
                        help="step: compile and time the step; all: only say which dumped forms load")
    parser.add_argument("--random", action="store_true", help="random arguments even where bench hlo wrote --values")
    parser.add_argument("--profile", action="store_true",
                        help="also trace the timed steps with jax.profiler: the step's thunk time by what each does (dot, gather, "
                             "scatter, elementwise fusion, ...) and its longest instructions")
    parser.add_argument("--json", help="also write the results to this file")
    opts = parser.parse_args()

    manifest_path = os.path.join(opts.out_dir, "manifest.json")
    if not os.path.isfile(manifest_path):
        sys.exit(f"hlo_bench: no manifest.json in {opts.out_dir}: run `./switchhead bench hlo {opts.out_dir}` first")
    with open(manifest_path) as f:
        manifest = json.load(f)
    models = manifest["models"]
    if opts.models:
        wanted = opts.models.split(",")
        unknown = [w for w in wanted if w not in [m["name"] for m in models]]
        if unknown:
            sys.exit(f"hlo_bench: {unknown} not in the manifest (it has {[m['name'] for m in models]})")
        models = [m for m in models if m["name"] in wanted]

    print(f"jax {jax.__version__}, backend {jax_backend.get_backend().platform} ({jax.devices()[0].device_kind}); "
          f"modules from TensorFlow {manifest['tensorflow']} on {manifest['cpu']}")
    rng = np.random.default_rng(7)
    results = []
    for model in models:
        if opts.module == "all":
            loads = try_loads(opts.out_dir, model)
            for key, outcome in loads.items():
                print(f"{model['name']}: {key}: {outcome}")
            results.append({"name": model["name"], "loads": loads})
            continue
        if opts.stage + "." + opts.format not in model["files"]:
            sys.exit(f"hlo_bench: {model['name']} has no {opts.stage}.{opts.format} module (it has {sorted(model['files'])})")
        r = time_model(opts.out_dir, model, opts.stage, opts.format, opts.steps, not opts.random, rng, opts.profile)
        results.append(r)
        tf_loss = f", TensorFlow's {r['tensorflowLoss']:.6f}" if r["valuesUsed"] else " (random arguments)"
        print(f"{r['name']}: {r['backend']}, compile {r['compileSeconds']:.1f} s, median step {r['medianStepMs']:.1f} ms "
              f"(TensorFlow Java, XLA: {r['tensorflowStepMs']:.1f} ms); loss {r['loss']:.6f}{tf_loss}, ln(vocab) {r['lnVocab']:.3f}")
        if "profile" in r:
            p = r["profile"]
            print(f"  thunks: {p['thunkMsPerStep']:.1f} ms per step (summed over threads), by what they do:")
            for c in p["byCategory"]:
                print(f"    {c['what']:<28} {c['msPerStep']:9.2f} ms  {100 * c['share']:5.1f}%")
            print("  longest instructions: " + ", ".join(f"{x['instruction']} ({x['what']}) {x['msPerStep']:.2f} ms" for x in p["longest"][:5]))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"jax": jax.__version__, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
