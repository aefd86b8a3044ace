#!/usr/bin/env python3
"""How far transformers itself gets in bf16 on the tiny checkpoints' fp32 goldens (issue 6, GPU machine).

  python3 tiny_bf16_greedy.py MODELS_DIR [OUT.json]

For each tiny model (tests/PagedAttention.Tests/Data/models/<name>/golden.json, made in fp32 on the CPU by
make_tiny_models.py), loads the same checkpoint in bf16 on the GPU (transformers' own bf16 path: sdpa attention, bf16
residual) and decodes each golden prompt greedily for the golden's number of tokens, one token at a time without a
KV cache (as make_tiny_models.py does). Prints, per model, how many prompts give tokens identical to the fp32 golden
and the mean agreeing prefix: the same numbers GpuCheck --models prints for this engine's CUDA backend, so the two bf16
implementations can be compared against one fp32 reference.
"""
import json, os, sys

import torch
from transformers import AutoModelForCausalLM


def greedy(model, ids, n):
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids], device="cuda")).logits[0, -1]
            t = int(torch.argmax(logits))
            out.append(t)
            ids.append(t)
    return out


def main(models_dir, out_path=None):
    result = {}
    for name in ["llama", "llama-bf16", "mistral", "qwen2", "qwen3"]:
        d = os.path.join(models_dir, name)
        golden = json.load(open(os.path.join(d, "golden.json")))
        n = golden["new_tokens"]
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16).cuda().eval()
        same, prefixes, seqs = 0, [], []
        for case in golden["cases"]:
            got = greedy(model, case["prompt"], n)
            seqs.append(got)
            same += got == case["greedy"]
            p = 0
            while p < n and got[p] == case["greedy"][p]:
                p += 1
            prefixes.append(p)
        k = len(golden["cases"])
        mean = sum(prefixes) / k
        ge16 = sum(p >= 16 for p in prefixes)
        print(f"RESULT {name} transformers bf16 greedy vs fp32 golden: {same}/{k} identical over {n} tokens; "
              f"{ge16}/{k} agree for >= 16 tokens; mean agreeing prefix {mean:.1f} tokens "
              f"(attn {model.config._attn_implementation})", flush=True)
        result[name] = {"identical": same, "prompts": k, "agree_16": ge16, "mean_prefix": mean, "prefixes": prefixes, "greedy": seqs}
        del model
    if out_path:
        json.dump(result, open(out_path, "w"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:3])
