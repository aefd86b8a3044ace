#!/usr/bin/env python3
"""Step-time model of an offline run, to see where the time of e.g. the 1,000-request ShareGPT-like 8B run goes.

Replays the engine's policy on a request list (FCFS admission up to MaxNumSeqs and the KV capacity, decodes first,
then prefill chunks within MaxNumBatchedTokens) and charges each step
    max(weight bytes / weight bandwidth, GEMM FLOPs / GEMM rate) + KV bytes read / attention bandwidth + other
for the Llama-3-8B shape (7.5 G non-embedding weights per token, 128 KiB of KV per token).

usage: python3 bench/peers/step_model.py REQUESTS.json[.gz] [--seqs 512] [--budget 8192] [--kv-tokens 443000]
       [--gemm-tflops 500] [--weight-tbs 2.4] [--attn-tbs 2.0] [--other-ms 1.0]
The defaults are calibrated on the measured 8B run (docs/benchmarks.md): cuBLAS at ~500 TFLOP/s over the step's
batch sizes (GpuCheck --gemm-bench: 466-637 at M = 256, 746-853 at M = 512), weights at 2.4 TB/s at small M, decode
attention at 2.0 TB/s, 1 ms of other kernels and host work per step.
"""
import argparse, gzip, json


def load(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path)) as f:
        return [(len(r["prompt"]), r["output_len"]) for r in json.load(f)["requests"]]


def simulate(reqs, seqs, budget, kv_tokens, gemm_tflops, weight_tbs, attn_tbs, other_ms,
             weight_bytes=15.0e9, flops_per_token=2 * 7.5e9, kv_bytes_per_token=131072):
    waiting, running = list(range(len(reqs))), {}  # id -> [prompt tokens computed, tokens generated]
    t = t_gemm = t_attn = 0.0
    steps = out = 0
    while waiting or running:
        decode = [i for i, (p, _) in running.items() if p >= reqs[i][0]]
        tokens, left = len(decode), budget - len(decode)
        for i, st in running.items():
            if st[0] < reqs[i][0] and left > 0:
                c = min(left, reqs[i][0] - st[0]); st[0] += c; left -= c; tokens += c
        used = sum(reqs[i][0] + g for i, (_, g) in running.items())
        while waiting and len(running) < seqs and left > 0 and used + reqs[waiting[0]][0] < kv_tokens:
            i = waiting.pop(0); c = min(left, reqs[i][0]); running[i] = [c, 0]; left -= c; tokens += c; used += reqs[i][0]
        ctx = sum(p + g for p, g in running.values())
        g = max(weight_bytes / (weight_tbs * 1e12), flops_per_token * tokens / (gemm_tflops * 1e12))
        a = ctx * kv_bytes_per_token / (attn_tbs * 1e12)
        t += g + a + other_ms / 1e3; t_gemm += g; t_attn += a; steps += 1
        for i in decode:
            running[i][1] += 1; out += 1
            if running[i][1] >= reqs[i][1]: del running[i]
        for i, (p, g2) in list(running.items()):  # a finished prompt yields its first token
            if p >= reqs[i][0] and g2 == 0 and i not in decode:
                running[i][1] = 1; out += 1
                if reqs[i][1] <= 1: del running[i]
    return dict(seconds=t, steps=steps, output_tok_s=out / t, gemm_s=t_gemm, attention_s=t_attn, other_s=steps * other_ms / 1e3)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("requests")
    for name, default in [("seqs", 512), ("budget", 8192), ("kv-tokens", 443000)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    for name, default in [("gemm-tflops", 500.0), ("weight-tbs", 2.4), ("attn-tbs", 2.0), ("other-ms", 1.0)]:
        ap.add_argument(f"--{name}", type=float, default=default)
    a = ap.parse_args()
    r = simulate(load(a.requests), a.seqs, a.budget, a.kv_tokens, a.gemm_tflops, a.weight_tbs, a.attn_tbs, a.other_ms)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
