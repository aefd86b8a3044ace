#!/usr/bin/env python3
"""Teacher-forced top-1 agreement between the CUDA backend and transformers bf16 on the same GPU (issue 6).

  python3 teacher_forced.py prepare MODEL_DIR tokens.json ref.json [--seqs 4 --len 80 --seed 0] [--text FILE]
      random token sequences (seeded), or with --text consecutive windows of FILE tokenized by the model's own
      tokenizer (for a trained model, whose predictions on real text are confident) -> tokens.json; transformers bf16 logits -> argmax and top-1/top-2 margin -> ref.json
  dotnet GpuFidelity.dll --model MODEL_DIR --tokens tokens.json --out engine.json
  python3 teacher_forced.py compare ref.json engine.json [result.json]
      top-1 agreement over all positions, and over positions where transformers' own margin exceeds 0.1

prepare also runs the same bf16 weights in fp32 (transformers, eager upcast), the precision floor: compare reports how
often transformers bf16 itself agrees with that fp32 reference next to how often the engine does. On random weights
the top-1/top-2 logit gaps are tiny, so bf16 rounding alone flips a few percent of positions in either system.
"""
import json, sys


def prepare(model_dir, tokens_path, ref_path, seqs=4, length=80, seed=0, text=None):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).cuda().eval()
    vocab = model.config.vocab_size
    if text:
        from transformers import AutoTokenizer
        ids = AutoTokenizer.from_pretrained(model_dir)(open(text).read())["input_ids"]
        if len(ids) < seqs * length:
            sys.exit(f"{text} has {len(ids)} tokens; {seqs} x {length} are needed")
        tokens = torch.tensor(ids[:seqs * length]).view(seqs, length)
    else:
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, vocab, (seqs, length), generator=g)
    with torch.no_grad():
        logits = model(tokens.cuda()).logits.float()
    top2 = torch.topk(logits, 2, dim=-1)
    ref = {"top1": top2.indices[..., 0].tolist(), "margin": (top2.values[..., 0] - top2.values[..., 1]).tolist(),
           "dtype": "bfloat16", "attn": model.config._attn_implementation}
    model = model.float()  # the same (bf16-valued) weights, computed in fp32
    with torch.no_grad():
        logits32 = model(tokens.cuda()).logits.float()
    top2 = torch.topk(logits32, 2, dim=-1)
    ref["fp32_top1"] = top2.indices[..., 0].tolist()
    ref["fp32_margin"] = (top2.values[..., 0] - top2.values[..., 1]).tolist()
    json.dump({"sequences": tokens.tolist()}, open(tokens_path, "w"))
    json.dump(ref, open(ref_path, "w"))
    print(f"prepared {seqs} x {length} positions; mean transformers top-1 margin {sum(map(sum, ref['margin'])) / (seqs * length):.3f}")


def compare(ref_path, engine_path, out_path=None):
    ref, eng = json.load(open(ref_path)), json.load(open(engine_path))
    total = agree = clear = clear_agree = 0
    for rs, es, ms in zip(ref["top1"], eng["top1"], ref["margin"]):
        for r, e, m in zip(rs, es, ms):
            total += 1
            agree += r == e
            if m > 0.1:
                clear += 1
                clear_agree += r == e
    res = {"positions": total, "top1_agreement": agree / total, "clear_positions": clear,
           "clear_top1_agreement": clear_agree / max(clear, 1)}
    if "fp32_top1" in ref:
        def rate(a, b):
            pairs = [(x, y) for xs, ys in zip(a, b) for x, y in zip(xs, ys)]
            return sum(x == y for x, y in pairs) / len(pairs)
        res["engine_vs_fp32_top1_agreement"] = rate(eng["top1"], ref["fp32_top1"])
        res["transformers_bf16_vs_fp32_top1_agreement"] = rate(ref["top1"], ref["fp32_top1"])
    print(json.dumps(res))
    if out_path:
        json.dump(res, open(out_path, "w"))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "prepare":
        a = sys.argv[2:]
        kw = {}
        for i in range(3, len(a), 2):
            key = {"--seqs": "seqs", "--len": "length", "--seed": "seed", "--text": "text"}[a[i]]
            kw[key] = a[i + 1] if key == "text" else int(a[i + 1])
        prepare(a[0], a[1], a[2], **kw)
    elif cmd == "compare":
        compare(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
