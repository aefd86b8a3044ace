#!/usr/bin/env python3
"""Writes tiny random-weight Hugging Face checkpoints and transformers goldens for the fidelity tests.

Runs on the GPU machine (torch + transformers); computes on the CPU in float32 with eager attention so
the goldens are the plain reference math. Usage: python3 make_tiny_models.py <out_dir>
Each model lands in <out_dir>/<name>/ with config.json, safetensors, generation_config.json and golden.json:
  prompts (lengths 1..130), greedy continuations (24 tokens, eos ignored), first-step logits.
"""
import json, os, sys
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

torch.manual_seed(0)
torch.backends.cuda.matmul.allow_tf32 = False
out_root = sys.argv[1]
VOCAB = 384
PROMPT_LENS = [1, 2, 5, 15, 16, 17, 31, 48, 64, 97, 130]
NEW_TOKENS = 24

common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
              rms_norm_eps=1e-5, initializer_range=0.25, bos_token_id=1, eos_token_id=2)

MODELS = {
    # GQA, llama3 rope scaling (small original context so prompts cross the scaled band), untied head
    "llama": ("llama", dict(common, rope_theta=10000.0, tie_word_embeddings=False,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64}), "f32", None),
    # the same shape stored as bf16 (goldens computed from the bf16 weights upcast to f32)
    "llama-bf16": ("llama", dict(common, rope_theta=500000.0, tie_word_embeddings=True), "bf16", None),
    # Mistral: GQA, linear rope scaling, stored f16
    "mistral": ("mistral", dict(common, rope_theta=10000.0, sliding_window=None, tie_word_embeddings=False,
                               rope_scaling={"rope_type": "linear", "factor": 2.0}), "f16", None),
    # Qwen2: q/k/v bias, tied embeddings, sharded safetensors
    "qwen2": ("qwen2", dict(common, rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False,
                           num_key_value_heads=1), "f32", "100KB"),
    # Qwen3: q_norm/k_norm, explicit head_dim != hidden/heads, tied embeddings
    "qwen3": ("qwen3", dict(common, rope_theta=1000000.0, head_dim=32, tie_word_embeddings=True,
                           use_sliding_window=False), "f32", None),
}

def greedy(model, ids, n):
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            t = int(torch.argmax(logits))
            out.append(t)
            ids.append(t)
    return out

for name, (mtype, kw, dtype, shard) in MODELS.items():
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    cfg = AutoConfig.for_model(mtype, **kw)
    cfg._attn_implementation = "eager"
    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    with torch.no_grad():  # non-trivial norm weights and biases so those code paths are exercised
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.3 * torch.randn_like(p))
    torch_dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype]
    model.to(torch_dtype)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(d, safe_serialization=True, **kwargs)
    # reload exactly what was saved, computing in float32, as the engine does
    ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(99)
    cases = []
    for L in PROMPT_LENS:
        prompt = torch.randint(3, VOCAB, (L,), generator=g).tolist()
        with torch.no_grad():
            logits = ref(torch.tensor([prompt])).logits[0, -1].tolist()
        cases.append({"prompt": prompt, "greedy": greedy(ref, prompt, NEW_TOKENS), "logits": logits})
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump({"model": name, "transformers": transformers.__version__, "torch": torch.__version__,
                   "dtype": dtype, "new_tokens": NEW_TOKENS, "cases": cases}, f)
    top = sorted(cases[-1]["logits"], reverse=True)[:3]
    print(name, "saved", sorted(os.listdir(d)), "top3 logits of last case", top, flush=True)
print(open(os.path.join(out_root, "llama", "config.json")).read())
print(open(os.path.join(out_root, "qwen3", "config.json")).read())
