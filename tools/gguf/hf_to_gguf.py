#!/usr/bin/env python3
"""Convert a Hugging Face Llama checkpoint (config.json + *.safetensors, F32/F16/BF16) to GGUF for llama.cpp.

Written from the GGUF format (gguf-py/gguf/constants.py, gguf_writer.py in ggml-org/llama.cpp), the tensor names and
Q/K row permutation of convert_hf_to_gguf.py's LlamaModel, and the Q8_0 / Q4_0 block layouts of ggml-common.h
(quantize_row_q8_0_ref / quantize_row_q4_0_ref in ggml-quants.c). Needs numpy only (apt-get install python3-numpy).

  python3 tools/gguf/hf_to_gguf.py MODEL_DIR OUT.gguf --type bf16|q8_0|q4_0 [--tokenizer DIR]

--type: BF16 keeps every matrix in bf16; Q8_0 / Q4_0 quantize the decoder layers' matrices and the LM head (Q4_0 files
get a Q8_0 LM head, like the engine's Int4 bench setting); the token embedding stays BF16 and the norms F32 in all three.
--tokenizer: where tokenizer.json comes from (default MODEL_DIR); a vocabulary shorter than the model's is padded with
unused tokens (the bench's random checkpoints reuse the default model's tokenizer). Token ids are what the benchmark
feeds, so the tokenizer only has to load.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

GGUF_MAGIC = 0x46554747
GGUF_VERSION = 3
ALIGNMENT = 32

# gguf value types
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
# ggml tensor types
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_BF16 = 0, 1, 2, 8, 30
# llama_ftype
FTYPE = {"bf16": 32, "q8_0": 7, "q4_0": 2}
QK = 32


def read_safetensors(model_dir):
    files = sorted(f for f in os.listdir(model_dir) if f.endswith(".safetensors"))
    if not files:
        sys.exit(f"no .safetensors in {model_dir}")
    tensors = {}
    for name in files:
        path = os.path.join(model_dir, name)
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
        for key, info in header.items():
            if key == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = data[begin:end]
            dt = info["dtype"]
            if dt == "F32":
                arr = raw.view(np.float32)
            elif dt == "F16":
                arr = raw.view(np.float16).astype(np.float32)
            elif dt == "BF16":
                arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                sys.exit(f"{key}: dtype {dt} not supported (F32, F16, BF16 only)")
            tensors[key] = arr.reshape(info["shape"])
    return tensors


def to_bf16(x):
    # round to nearest even, as torch does
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + 0x7FFF + ((u >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def quantize_q8_0(x):
    rows, cols = x.shape
    b = x.reshape(rows, cols // QK, QK).astype(np.float32)
    amax = np.abs(b).max(axis=2, keepdims=True)
    d = amax / 127.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0)
    q = b * inv
    q = np.trunc(q + np.copysign(0.5, q)).clip(-127, 127).astype(np.int8)  # roundf: half away from zero
    out = np.empty((rows, cols // QK, 2 + QK), dtype=np.uint8)
    out[:, :, 0:2] = d.astype(np.float16).view(np.uint8).reshape(rows, cols // QK, 2)
    out[:, :, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def quantize_q4_0(x):
    rows, cols = x.shape
    b = x.reshape(rows, cols // QK, QK).astype(np.float32)
    idx = np.abs(b).argmax(axis=2)[..., None]
    mx = np.take_along_axis(b, idx, axis=2)  # the value of largest magnitude, with its sign
    d = mx / -8.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0)
    q = np.minimum(15, (b * inv + 8.5).astype(np.int8)).astype(np.uint8)
    packed = q[:, :, : QK // 2] | (q[:, :, QK // 2:] << 4)
    out = np.empty((rows, cols // QK, 2 + QK // 2), dtype=np.uint8)
    out[:, :, 0:2] = d.astype(np.float16).view(np.uint8).reshape(rows, cols // QK, 2)
    out[:, :, 2:] = packed
    return out.reshape(-1)


def permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py LlamaModel.permute: HF's rotate-half row order -> llama.cpp's interleaved pairs
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class Writer:
    def __init__(self):
        self.kv = []
        self.tensors = []

    def add(self, key, vtype, value, etype=None):
        self.kv.append((key, vtype, value, etype))

    def tensor(self, name, shape_hf, ggml_type, data):
        self.tensors.append((name, shape_hf, ggml_type, np.ascontiguousarray(data)))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, v, etype):
        if vtype == T_UINT32:
            return struct.pack("<I", v)
        if vtype == T_INT32:
            return struct.pack("<i", v)
        if vtype == T_FLOAT32:
            return struct.pack("<f", v)
        if vtype == T_BOOL:
            return struct.pack("<?", v)
        if vtype == T_STRING:
            return self._str(v)
        if vtype == T_ARRAY:
            head = struct.pack("<IQ", etype, len(v))
            if etype == T_STRING:
                return head + b"".join(self._str(s) for s in v)
            if etype == T_INT32:
                return head + np.asarray(v, dtype="<i4").tobytes()
            if etype == T_FLOAT32:
                return head + np.asarray(v, dtype="<f4").tobytes()
        raise ValueError(vtype)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IIQQ", GGUF_MAGIC, GGUF_VERSION, len(self.tensors), len(self.kv)))
            for key, vtype, value, etype in self.kv:
                f.write(self._str(key) + struct.pack("<I", vtype) + self._value(vtype, value, etype))
            offset = 0
            offsets = []
            for name, shape, gtype, data in self.tensors:
                dims = list(reversed(shape))  # ggml ne[0] is the innermost (column) dimension
                f.write(self._str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims))
                f.write(struct.pack("<IQ", gtype, offset))
                offsets.append(offset)
                offset += data.nbytes
                offset = (offset + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
            pad = (-f.tell()) % ALIGNMENT
            f.write(b"\0" * pad)
            start = f.tell()
            for (name, shape, gtype, data), off in zip(self.tensors, offsets):
                f.write(b"\0" * (start + off - f.tell()))
                f.write(data.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--type", choices=["bf16", "q8_0", "q4_0"], default="bf16")
    ap.add_argument("--tokenizer", default=None)
    a = ap.parse_args()

    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    if cfg.get("architectures", ["LlamaForCausalLM"])[0] != "LlamaForCausalLM":
        sys.exit("only LlamaForCausalLM is converted")
    if "quantization_config" in cfg:
        sys.exit("pre-quantized checkpoints are not converted")
    h = cfg["hidden_size"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    head_dim = cfg.get("head_dim") or h // n_head
    n_layer = cfg["num_hidden_layers"]
    vocab = cfg["vocab_size"]
    rope = cfg.get("rope_parameters") or {}
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    if (cfg.get("rope_scaling") or {}).get("rope_type", rope.get("rope_type", "default")) not in ("default", None):
        sys.exit("rope scaling is not converted")

    t = read_safetensors(a.model_dir)
    w = Writer()
    w.add("general.architecture", T_STRING, "llama")
    w.add("general.name", T_STRING, os.path.basename(os.path.abspath(a.model_dir)))
    w.add("general.file_type", T_UINT32, FTYPE[a.type])
    w.add("general.quantization_version", T_UINT32, 2)
    w.add("general.alignment", T_UINT32, ALIGNMENT)
    w.add("llama.vocab_size", T_UINT32, vocab)
    w.add("llama.context_length", T_UINT32, cfg.get("max_position_embeddings", 2048))
    w.add("llama.embedding_length", T_UINT32, h)
    w.add("llama.block_count", T_UINT32, n_layer)
    w.add("llama.feed_forward_length", T_UINT32, cfg["intermediate_size"])
    w.add("llama.rope.dimension_count", T_UINT32, head_dim)
    w.add("llama.rope.freq_base", T_FLOAT32, float(theta))
    w.add("llama.attention.head_count", T_UINT32, n_head)
    w.add("llama.attention.head_count_kv", T_UINT32, n_kv)
    w.add("llama.attention.key_length", T_UINT32, head_dim)
    w.add("llama.attention.value_length", T_UINT32, head_dim)
    w.add("llama.attention.layer_norm_rms_epsilon", T_FLOAT32, float(cfg.get("rms_norm_eps", 1e-5)))

    tok = json.load(open(os.path.join(a.tokenizer or a.model_dir, "tokenizer.json"), encoding="utf-8"))
    if tok["model"]["type"] != "BPE":
        sys.exit("only byte-level BPE tokenizers are converted")
    tokens = [None] * vocab
    types = [1] * vocab
    for s, i in tok["model"]["vocab"].items():
        if i < vocab:
            tokens[i] = s
    for added in tok.get("added_tokens", []):
        if added["id"] < vocab:
            tokens[added["id"]] = added["content"]
            types[added["id"]] = 3 if added.get("special") else 4
    for i in range(vocab):
        if tokens[i] is None:
            tokens[i] = f"[PAD{i}]"
            types[i] = 5  # unused
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
    w.add("tokenizer.ggml.model", T_STRING, "gpt2")
    w.add("tokenizer.ggml.pre", T_STRING, "gpt-2")
    w.add("tokenizer.ggml.tokens", T_ARRAY, tokens, T_STRING)
    w.add("tokenizer.ggml.token_type", T_ARRAY, types, T_INT32)
    w.add("tokenizer.ggml.merges", T_ARRAY, merges, T_STRING)
    for key, name in (("bos_token_id", "bos"), ("eos_token_id", "eos"), ("pad_token_id", "padding")):
        v = cfg.get(key)
        if isinstance(v, list):
            v = v[0]
        if isinstance(v, int) and 0 <= v < vocab:
            w.add(f"tokenizer.ggml.{name}_token_id", T_UINT32, v)
    w.add("tokenizer.ggml.add_bos_token", T_BOOL, False)

    def matrix(name, arr, quant):
        rows, cols = arr.shape
        if quant == "q8_0" and cols % QK == 0:
            w.tensor(name, [rows, cols], GGML_Q8_0, quantize_q8_0(arr))
        elif quant == "q4_0" and cols % QK == 0:
            w.tensor(name, [rows, cols], GGML_Q4_0, quantize_q4_0(arr))
        else:
            w.tensor(name, [rows, cols], GGML_BF16, to_bf16(arr))

    def vector(name, arr):
        w.tensor(name, [arr.shape[0]], GGML_F32, arr.astype(np.float32))

    layer_q = a.type if a.type != "bf16" else None
    head_q = {"bf16": None, "q8_0": "q8_0", "q4_0": "q8_0"}[a.type]
    matrix("token_embd.weight", t["model.embed_tokens.weight"], None)
    for i in range(n_layer):
        p = f"model.layers.{i}."
        vector(f"blk.{i}.attn_norm.weight", t[p + "input_layernorm.weight"])
        matrix(f"blk.{i}.attn_q.weight", permute(t[p + "self_attn.q_proj.weight"], n_head, n_head), layer_q)
        matrix(f"blk.{i}.attn_k.weight", permute(t[p + "self_attn.k_proj.weight"], n_head, n_kv), layer_q)
        matrix(f"blk.{i}.attn_v.weight", t[p + "self_attn.v_proj.weight"], layer_q)
        matrix(f"blk.{i}.attn_output.weight", t[p + "self_attn.o_proj.weight"], layer_q)
        vector(f"blk.{i}.ffn_norm.weight", t[p + "post_attention_layernorm.weight"])
        matrix(f"blk.{i}.ffn_gate.weight", t[p + "mlp.gate_proj.weight"], layer_q)
        matrix(f"blk.{i}.ffn_up.weight", t[p + "mlp.up_proj.weight"], layer_q)
        matrix(f"blk.{i}.ffn_down.weight", t[p + "mlp.down_proj.weight"], layer_q)
    vector("output_norm.weight", t["model.norm.weight"])
    if "lm_head.weight" in t:
        matrix("output.weight", t["lm_head.weight"], head_q)
    w.write(a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB, {len(w.tensors)} tensors, {a.type})")


if __name__ == "__main__":
    main()
