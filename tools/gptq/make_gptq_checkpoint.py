#!/usr/bin/python3
"""Writes GPTQ 4-bit symmetric test checkpoints of the tiny Llama (numpy only; safetensors read/written by hand).

From tests/PagedAttention.Tests/Data/models/llama (f32) it writes, under tests/PagedAttention.Tests/Data/gptq/:
  llama-gptq-g128/          GPTQ (AutoGPTQ v1 format, checkpoint_format "gptq"), group_size 128, with g_idx
  llama-gptq-g128-dequant/  the same model as a plain f32 checkpoint: every GPTQ layer dequantized by numpy,
                            embeddings/norms/lm_head the GPTQ checkpoint's f16 values widened to f32
  llama-gptq-g32/           GPTQ v1, group_size 32, no g_idx; golden-dequant.safetensors holds layer 0's seven
                            projections dequantized by numpy (f32, [out, in] like nn.Linear)

Quantization is round-to-nearest (the file format is what is tested, not GPTQ's solver), as AutoGPTQ's symmetric
quantizer: scale = max|w| * 2 / 15 per (group, output), rounded to f16; q = clamp(round(w / scale) + 8, 0, 15);
dequant w = scale * (q - zero) with zero = 8 (stored as 7 in qzeros: v1 keeps zero - 1).
Packing (AutoGPTQ QuantLinear.pack): qweight int32 [in/8, out], nibble i of word r = input 8r+i (low bits first);
qzeros int32 [ceil(in/group), out/8], nibble i of word c = output 8c+i; scales f16 [ceil(in/group), out];
g_idx int32 [in] = i // group.

Usage: /usr/bin/python3 tools/gptq/make_gptq_checkpoint.py   (from the repository root; deterministic)
"""
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "tests", "PagedAttention.Tests", "Data", "models")
SRC = os.path.join(MODELS, "llama")
# Not under Data/models: GpuCheck and the GPU checks run every checkpoint there on CUDA, where GPTQ is refused.
OUT = os.path.join(ROOT, "tests", "PagedAttention.Tests", "Data", "gptq")
PROJ = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
DT = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "BF16": None}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        raw = data[lo:hi]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=DT[t["dtype"]])
        out[name] = a.reshape(t["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    """tensors: name -> numpy array (F32/F16/I32 by its dtype) or (safetensors dtype string, array of the raw elements)."""
    names = sorted(tensors)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in names:
        t = tensors[name]
        dtype, a = t if isinstance(t, tuple) else (None, t)
        a = np.asarray(a)  # a 0-d array keeps shape [] (ascontiguousarray would make it [1])
        dtype = dtype or {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32"}[a.dtype]
        raw = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"))).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def quantize(w, group):
    """w: [out, in] f32 -> (q [in, out] uint 0..15, scales f16 [groups, out])."""
    out_f, in_f = w.shape
    g = in_f if group == -1 else group
    groups = (in_f + g - 1) // g
    wt = w.T.astype(np.float32)  # [in, out]
    scales = np.zeros((groups, out_f), dtype=np.float16)
    q = np.zeros((in_f, out_f), dtype=np.uint32)
    for k in range(groups):
        blk = wt[k * g:(k + 1) * g]
        amax = np.max(np.abs(blk), axis=0)
        s = (amax * 2.0 / 15.0).astype(np.float16)
        s[s == 0] = np.float16(1)
        scales[k] = s
        q[k * g:(k + 1) * g] = np.clip(np.round(blk / s.astype(np.float32)) + 8, 0, 15).astype(np.uint32)
    return q, scales


def dequantize(q, scales, group):
    in_f, out_f = q.shape
    g = in_f if group == -1 else group
    s = scales.astype(np.float32)[np.arange(in_f) // g]  # [in, out]
    return ((q.astype(np.float32) - np.float32(8)) * s).T.copy()  # [out, in]


def pack(q, scales, group, g_idx):
    in_f, out_f = q.shape
    g = in_f if group == -1 else group
    qweight = np.zeros((in_f // 8, out_f), dtype=np.uint32)
    for i in range(8):
        qweight |= q[i::8] << np.uint32(4 * i)
    zeros = np.full((scales.shape[0], out_f), 8 - 1, dtype=np.uint32)  # v1: zero point minus one
    qzeros = np.zeros((scales.shape[0], out_f // 8), dtype=np.uint32)
    for i in range(8):
        qzeros |= zeros[:, i::8] << np.uint32(4 * i)
    t = {"qweight": qweight.view(np.int32), "qzeros": qzeros.view(np.int32), "scales": scales}
    if g_idx:
        t["g_idx"] = (np.arange(in_f) // g).astype(np.int32)
    return t


def write_dir(name, tensors, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copy(os.path.join(SRC, "generation_config.json"), os.path.join(d, "generation_config.json"))
    return d


def main():
    src = read_safetensors(os.path.join(SRC, "model.safetensors"))
    with open(os.path.join(SRC, "config.json")) as f:
        base = json.load(f)
    for group, g_idx in ((128, True), (32, False)):
        gptq, deq, golden = {}, {}, {}
        for name, a in src.items():
            module = name[:-len(".weight")]
            if any(module.endswith(p) for p in PROJ):
                q, s = quantize(a.astype(np.float32), group)
                for k, v in pack(q, s, group, g_idx).items():
                    gptq[module + "." + k] = v
                w = dequantize(q, s, group)
                deq[name] = w
                if module.startswith("model.layers.0."):
                    golden[name] = w
            else:
                h = a.astype(np.float16)  # embeddings, norms, lm_head: f16 as GPTQ checkpoints ship them
                gptq[name] = h
                deq[name] = h.astype(np.float32)
        config = dict(base)
        config["dtype"] = "float16"
        config["quantization_config"] = {
            "quant_method": "gptq", "bits": 4, "group_size": group, "sym": True, "desc_act": False,
            "damp_percent": 0.01, "true_sequential": True, "static_groups": False, "checkpoint_format": "gptq",
            "lm_head": False, "model_name_or_path": None, "model_file_base_name": "model",
        }
        d = write_dir(f"llama-gptq-g{group}", gptq, config)
        if group == 128:
            plain = dict(base)
            plain["dtype"] = "float32"
            write_dir("llama-gptq-g128-dequant", deq, plain)
        else:
            write_safetensors(os.path.join(d, "golden-dequant.safetensors"), golden)
    print("wrote", ", ".join(sorted(n for n in os.listdir(OUT) if n.startswith("llama-gptq"))))


if __name__ == "__main__":
    main()
