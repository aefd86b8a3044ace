#!/usr/bin/env python3
"""Beam-search goldens from transformers for the engine's beam search (issue 21, item 6).

  python3 beam_goldens.py MODELS_DIR

MODELS_DIR is tests/PagedAttention.Tests/Data/models (the tiny checkpoints of make_tiny_models.py). For each tiny
model, loads the checkpoint in float32 with eager attention on the CPU (the plain reference math, as
make_tiny_models.py computes its goldens; bf16/f16 checkpoints are upcast, as the engine's CPU path does) and runs
generate(do_sample=False, num_beams=4 or 8, num_return_sequences=num_beams, output_scores=True,
return_dict_in_generate=True) over a grid of length_penalty / early_stopping (True, False, "never") / eos sets /
min_new_tokens. Writes MODELS_DIR/<name>/beam_golden.json: per case the prompt, the parameters and every returned
beam's generated tokens (eos included when it ended one; the generated length is read from beam_indices) and its
sequences_scores (length-penalized, as transformers ranks them).
"""
import json, os, sys

import torch
import transformers
from transformers import AutoModelForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
MODELS = ["llama", "llama-bf16", "mistral", "qwen2", "qwen3"]
# (num_beams, length_penalty, early_stopping, max_new_tokens, min_new_tokens, extra end token from the greedy path?)
GRID = [
    (4, 1.0, False, 12, 0, False),
    (4, 1.0, True, 12, 0, True),
    (4, 0.5, "never", 10, 0, True),
    (4, 2.0, False, 10, 2, True),
    (8, 1.0, False, 12, 0, False),
    (8, 1.0, True, 10, 0, True),
    (8, -0.5, "never", 10, 0, True),
    (8, 0.0, False, 10, 3, True),
]
PROMPT_CASES = [2, 5, 7]  # indices into golden.json's cases: prompts of 5, 16 and 48 tokens


def run(model, prompt, num_beams, length_penalty, early_stopping, max_new, min_new, eos):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=num_beams,
            num_return_sequences=num_beams, length_penalty=length_penalty, early_stopping=early_stopping,
            max_new_tokens=max_new, min_new_tokens=min_new if min_new else None, eos_token_id=eos,
            pad_token_id=eos[0], output_scores=True, return_dict_in_generate=True,
            temperature=None, top_k=None, top_p=None)
    beams = []
    for i in range(num_beams):
        n = int((out.beam_indices[i] >= 0).sum())
        beams.append({"tokens": out.sequences[i, len(prompt):len(prompt) + n].tolist(),
                      "score": float(out.sequences_scores[i])})
    return beams


def main(models_dir):
    for name in MODELS:
        d = os.path.join(models_dir, name)
        golden = json.load(open(os.path.join(d, "golden.json")))
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        model_eos = model.generation_config.eos_token_id
        model_eos = [model_eos] if isinstance(model_eos, int) else list(model_eos)
        cases = []
        for pc in PROMPT_CASES:
            case = golden["cases"][pc]
            prompt = case["prompt"]
            for num_beams, lp, es, max_new, min_new, extra in GRID:
                # A second end token from the greedy path, so that beams actually end early (random tiny models
                # rarely choose eos): two end tokens also widen the candidate pool to 3 * num_beams.
                eos = list(model_eos)
                if extra:
                    t = case["greedy"][2]
                    if t not in eos:
                        eos.append(t)
                beams = run(model, prompt, num_beams, lp, es, max_new, min_new, eos)
                cases.append({"prompt": prompt, "num_beams": num_beams, "length_penalty": lp, "early_stopping": es,
                              "max_new_tokens": max_new, "min_new_tokens": min_new, "eos_token_ids": eos, "beams": beams})
                ended = sum(1 for b in beams if b["tokens"] and b["tokens"][-1] in eos)
                print(f"RESULT {name} prompt {len(prompt)} beams {num_beams} lp {lp} es {es}: best {beams[0]['score']:.5f} "
                      f"len {len(beams[0]['tokens'])}; {ended}/{num_beams} ended by an end token", flush=True)
        with open(os.path.join(d, "beam_golden.json"), "w") as f:
            json.dump({"model": name, "transformers": transformers.__version__, "torch": torch.__version__,
                       "dtype": "float32", "cases": cases}, f)
        del model


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1])
