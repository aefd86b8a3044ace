#!/usr/bin/python3
"""Writes compressed-tensors FP8 test checkpoints of the tiny Llama (numpy only; safetensors read/written by hand).

From tests/PagedAttention.Tests/Data/models/llama (f32) it writes, under tests/PagedAttention.Tests/Data/fp8/:
  llama-fp8-channel/          format float-quantized, weights strategy "channel": every decoder Linear as F8_E4M3
                              codes with an F32 weight_scale [out, 1]; embeddings, norms and lm_head in BF16 (as
                              llm-compressor ships them; lm_head is in "ignore")
  llama-fp8-channel-dequant/  the same model as a plain f32 checkpoint: each FP8 layer dequantized by numpy
                              (E4M3(code) * scale in float32), the BF16 tensors widened to f32
  llama-fp8-tensor/           weights strategy "tensor": one F32 scale per Linear, stored as a scalar (shape [])

Quantization as compressed-tensors' FP8 (minmax observer, symmetric): scale = max|w| / 448 per output row (channel) or
per tensor, q = E4M3(clamp(w / scale, -448, 448)) rounded to nearest, ties to even (torch's float8_e4m3fn cast).
E4M3 "FN": 1 sign, 4 exponent bits (bias 7), 3 mantissa bits, subnormals, NaN = S.1111.111, no infinities; encoded here
from its definition (a table of the 126 positive finite values), not by a library.

Usage: /usr/bin/python3 tools/fp8/make_fp8_checkpoint.py   (from the repository root; deterministic)
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gptq"))
from make_gptq_checkpoint import read_safetensors, write_safetensors  # noqa: E402  (the same hand-written safetensors I/O)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SRC = os.path.join(ROOT, "tests", "PagedAttention.Tests", "Data", "models", "llama")
# Not under Data/models: the GPU checks run every checkpoint there on CUDA, where FP8 checkpoints are refused.
OUT = os.path.join(ROOT, "tests", "PagedAttention.Tests", "Data", "fp8")
PROJ = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def e4m3_decode(code):
    e, m = (code >> 3) & 0xF, code & 7
    if (code & 0x7F) == 0x7F:
        return float("nan")
    v = m / 8.0 * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7)
    return -v if code & 0x80 else v


POS = np.array([e4m3_decode(c) for c in range(0x7F)], dtype=np.float64)  # codes 0..126, increasing


def e4m3_encode(x):
    """float32 array (already clamped to [-448, 448]) -> uint8 codes, round to nearest, ties to even."""
    a = np.abs(x.astype(np.float64)).ravel()
    hi = np.clip(np.searchsorted(POS, a), 0, len(POS) - 1)
    lo = np.clip(hi - 1, 0, len(POS) - 1)
    dlo, dhi = a - POS[lo], POS[hi] - a
    pick = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = pick.astype(np.uint8) | np.where(np.signbit(x.ravel()), 0x80, 0).astype(np.uint8)
    return code.reshape(x.shape)


def to_bf16(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_to_f32(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_dir(name, tensors, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copy(os.path.join(SRC, "generation_config.json"), os.path.join(d, "generation_config.json"))


def quant_config(strategy):
    scheme = {"num_bits": 8, "type": "float", "symmetric": True, "group_size": None, "strategy": strategy,
              "block_structure": None, "dynamic": False, "actorder": None, "observer": "minmax", "observer_kwargs": {}}
    acts = {"num_bits": 8, "type": "float", "symmetric": True, "group_size": None, "strategy": "token",
            "block_structure": None, "dynamic": True, "actorder": None, "observer": None, "observer_kwargs": {}}
    return {"quant_method": "compressed-tensors", "format": "float-quantized", "quantization_status": "compressed",
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": scheme, "input_activations": acts,
                                          "output_activations": None}},
            "ignore": ["lm_head"], "kv_cache_scheme": None, "global_compression_ratio": None}


def main():
    src = read_safetensors(os.path.join(SRC, "model.safetensors"))
    with open(os.path.join(SRC, "config.json")) as f:
        base = json.load(f)
    for strategy in ("channel", "tensor"):
        fp8, deq = {}, {}
        for name, w in src.items():
            module = name[:-len(".weight")] if name.endswith(".weight") else name
            if any(module.endswith(p) for p in PROJ):
                amax = np.max(np.abs(w), axis=1, keepdims=True) if strategy == "channel" else np.max(np.abs(w)).reshape(1, 1)
                scale = (amax / np.float32(448.0)).astype(np.float32)
                scale[scale == 0] = np.float32(1)
                q = e4m3_encode(np.clip(w / scale, -448, 448).astype(np.float32))
                fp8[name] = ("F8_E4M3", q)
                fp8[module + ".weight_scale"] = ("F32", scale if strategy == "channel" else scale.reshape(()))
                values = np.array([e4m3_decode(c) for c in range(256)], dtype=np.float32)[q]
                deq[name] = ("F32", (values * scale).astype(np.float32))
            else:
                b = to_bf16(w)
                fp8[name] = ("BF16", b)
                deq[name] = ("F32", bf16_to_f32(b))
        config = dict(base)
        config["dtype"] = "bfloat16"
        config["quantization_config"] = quant_config(strategy)
        write_dir(f"llama-fp8-{strategy}", fp8, config)
        if strategy == "channel":
            plain = dict(base)
            plain["dtype"] = "float32"
            write_dir("llama-fp8-channel-dequant", deq, plain)
    print("wrote", ", ".join(sorted(os.listdir(OUT))))


if __name__ == "__main__":
    main()
