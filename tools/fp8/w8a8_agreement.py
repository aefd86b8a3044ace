# The reference for GpuCheck --fp8-models (issue 18, item 7): how often does W8A8 FP8 (E4M3 weights with a scale per
# output row, activations quantized per token, fp32 accumulation) keep a model's bf16 top-1, in plain torch?
# Each decoder Linear is replaced by  y = (Q(x) * s_x) @ (Q(W) * s_w)^T  with Q = E4M3 of x / (max|row| / 448), the
# rule of the engine's kernels and Fp8Quantizer; embedding, norms, attention and the LM head stay bf16. Teacher-forced
# like GpuCheck: prompt + the bf16 model's greedy continuation, top-1 compared at every position, over all positions
# and where bf16's top-2 margin > 0.1. Prompts: the checkpoint's golden.json cases, else seeded random tokens.
# Usage (GPU machine): python3 tools/fp8/w8a8_agreement.py MODEL_DIR [MODEL_DIR ...] [--continuation 48] [--prompts-json F]
# --kv: the reference for GpuCheck --kv-fp8-models instead (the FP8 KV cache): the weights stay bf16, and every key
# after RoPE and every value is rounded to E4M3 with the scale 1.0 the engine uses for checkpoints without k_scale /
# v_scale (apply_rotary_pos_emb and v_proj wrapped; Llama-family models); random prompts are then 4 x 256 tokens, as
# GpuCheck's, and the default continuation 32.
import json, os, sys, torch
from transformers import AutoModelForCausalLM

def q_rows(t):  # E4M3 per row, dequantized to fp32
    t = t.float()
    s = t.abs().amax(dim=-1, keepdim=True) / 448.0
    s = torch.where(s > 0, s, torch.ones_like(s))
    return (t / s).to(torch.float8_e4m3fn).float() * s

class W8A8(torch.nn.Module):
    def __init__(self, lin):
        super().__init__()
        self.w = q_rows(lin.weight.data)  # [out, in] fp32 of the FP8 values
        self.b = None if lin.bias is None else lin.bias.data.float()
    def forward(self, x):
        shp = x.shape
        y = q_rows(x.reshape(-1, shp[-1])) @ self.w.t()
        if self.b is not None:
            y = y + self.b
        return y.reshape(*shp[:-1], -1).to(x.dtype)

def e4m3(t):  # round to E4M3 (saturating at +-448, as the engine's cache writer), back in t's dtype
    return t.float().clamp(-448.0, 448.0).to(torch.float8_e4m3fn).to(t.dtype)

class RoundOutput(torch.nn.Module):
    def __init__(self, lin):
        super().__init__()
        self.lin = lin
    def forward(self, x):
        return e4m3(self.lin(x))

def fp8_kv(m):
    import transformers.models.llama.modeling_llama as ml
    rope = ml.apply_rotary_pos_emb
    def rope_then_round(q, k, *a, **kw):
        q, k = rope(q, k, *a, **kw)
        return q, e4m3(k)
    ml.apply_rotary_pos_emb = rope_then_round
    for layer in m.model.layers:
        layer.self_attn.v_proj = RoundOutput(layer.self_attn.v_proj)
    return lambda: setattr(ml, "apply_rotary_pos_emb", rope)  # undo, before the next model's bf16 reference

def prompts_for(d, vocab, texts, kv=False):
    if texts:  # e.g. tests/PagedAttention.Tests/Data/accuracy-prompts.json, as the CPU accuracy test encodes them
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(d)
        return [tok(t)["input_ids"] for t in json.load(open(texts))["prompts"]]
    g = os.path.join(d, "golden.json")
    if os.path.exists(g):
        return [c["prompt"] for c in json.load(open(g))["cases"]]
    gen = torch.Generator().manual_seed(18)
    if kv:
        return [torch.randint(0, vocab, (256,), generator=gen).tolist() for _ in range(4)]
    return [torch.randint(0, vocab, (16,), generator=gen).tolist() for _ in range(8)]

def main():
    args = sys.argv[1:]
    kv = "--kv" in args
    if kv:
        args.remove("--kv")
    cont, texts = (32 if kv else 48), None
    if "--prompts-json" in args:
        i = args.index("--prompts-json"); texts = args[i + 1]; del args[i:i + 2]
    if "--continuation" in args:
        i = args.index("--continuation"); cont = int(args[i + 1]); del args[i:i + 2]
    for d in args:
        m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.bfloat16).cuda().eval()
        vocab = m.config.vocab_size
        seqs = []
        with torch.no_grad():
            for p in prompts_for(d, vocab, texts, kv):
                ids = torch.tensor([p], device="cuda")
                out = m.generate(ids, max_new_tokens=cont, do_sample=False, min_new_tokens=cont,
                                 pad_token_id=0, eos_token_id=None)
                seqs.append(out[0])
            ref = [m(s[None]).logits[0].float() for s in seqs]
            if kv:
                undo = fp8_kv(m)
            else:
                undo = lambda: None
                for layer in m.model.layers:
                    for parent, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")), (layer.mlp, ("gate_proj", "up_proj", "down_proj"))):
                        for n in names:
                            setattr(parent, n, W8A8(getattr(parent, n)))
            got = [m(s[None]).logits[0].float() for s in seqs]
            undo()
        pos = agree = conf = conf_agree = 0
        for r, g in zip(ref, got):
            r, g = r[:-1], g[:-1]  # the last position predicts past the sequence
            top2 = r.topk(2, dim=-1).values
            margin = top2[:, 0] - top2[:, 1]
            same = r.argmax(-1) == g.argmax(-1)
            pos += len(same); agree += int(same.sum())
            c = margin > 0.1
            conf += int(c.sum()); conf_agree += int((same & c).sum())
        what = "FP8 KV (E4M3, scale 1)" if kv else "W8A8"
        print(f"REF {os.path.basename(d.rstrip('/'))}: torch {what} vs torch bf16 top-1 {agree}/{pos} = {agree / pos:.2%} of all positions; "
              f"{conf_agree}/{conf} = {conf_agree / max(conf, 1):.2%} where the bf16 margin > 0.1 ({len(seqs)} prompts, {cont} greedy tokens)")
        del m; torch.cuda.empty_cache()

main()
