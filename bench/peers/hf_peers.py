# Hugging Face transformers peers for bench/Throughput, on the same GPU and the same request list (JSON written by
# `Throughput --write-requests`). Every request generates exactly its output_len tokens (eos disabled).
#   generate:        static padded batches in request order (left padding; a batch runs to its longest output;
#                    only each request's own output_len counts), one pass per batch size, best reported.
#   generate_batch:  transformers continuous batching (paged attention, attn_implementation "paged|sdpa"), one pass
#                    per ContinuousBatchingConfig; per-request max_new_tokens through the manager when supported.
# Usage: python3 bench/peers/hf_peers.py --shape 1b --requests a.json [b.json ...] --out results.jsonl
#          [--peers generate,generate_batch] [--batch-sizes 64,256] [--budget-s 200] [--help-out api.txt]
import argparse, dataclasses, inspect, json, os, sys, time, traceback
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_checkpoint import build_model, SHAPES  # noqa: E402

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def emit(path, rec):
    rec["utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
    log("RESULT", json.dumps(rec))


def measure_bandwidth_gbs():
    """Device-to-device copy of 1 GiB, read + write bytes counted, best of 10."""
    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    best = 0.0
    for _ in range(12):
        torch.cuda.synchronize(); t = time.perf_counter()
        b.copy_(a)
        torch.cuda.synchronize(); dt = time.perf_counter() - t
        best = max(best, 2 * a.numel() / dt / 1e9)
    del a, b
    torch.cuda.empty_cache()
    return best


def roofline(shape, batch, mean_ctx, bw_gbs):
    s = SHAPES[shape]
    h, q, kv = s["hidden_size"], s["num_attention_heads"] * s["head_dim"], s["num_key_value_heads"] * s["head_dim"]
    layer = h * (q + 2 * kv) + q * h + 3 * h * s["intermediate_size"]
    weights = 2 * (s["num_hidden_layers"] * layer + s["vocab_size"] * h)
    kv_tok = s["num_hidden_layers"] * 2 * kv * 2
    step_s = (weights + batch * mean_ctx * kv_tok) / (bw_gbs * 1e9)
    return {"weight_bytes": weights, "kv_bytes_per_token": kv_tok, "batch": batch, "mean_context": mean_ctx,
            "step_ms": step_s * 1e3, "output_tok_s": batch / step_s, "bandwidth_gbs": bw_gbs}


def gen_config(**kw):
    from transformers import GenerationConfig
    return GenerationConfig(do_sample=False, pad_token_id=0, bos_token_id=128000, **kw)


def run_generate(model, reqs, bs, limit_s):
    """Static batches in order; stops after the batch that crosses limit_s (reports what completed)."""
    done_tok = done_in = done_req = 0
    steps = 0
    t0 = time.perf_counter()
    for i in range(0, len(reqs), bs):
        batch = reqs[i:i + bs]
        L = max(len(r["prompt"]) for r in batch)
        ids = torch.zeros((len(batch), L), dtype=torch.long)
        mask = torch.zeros((len(batch), L), dtype=torch.long)
        for j, r in enumerate(batch):
            p = r["prompt"]
            ids[j, L - len(p):] = torch.tensor(p)
            mask[j, L - len(p):] = 1
        mx = max(r["output_len"] for r in batch)
        out = model.generate(input_ids=ids.cuda(), attention_mask=mask.cuda(),
                             generation_config=gen_config(max_new_tokens=mx, min_new_tokens=mx, eos_token_id=None))
        torch.cuda.synchronize()
        assert out.shape[1] == L + mx, (out.shape, L, mx)
        steps += mx
        done_tok += sum(r["output_len"] for r in batch)
        done_in += sum(len(r["prompt"]) for r in batch)
        done_req += len(batch)
        if time.perf_counter() - t0 > limit_s:
            break
    dt = time.perf_counter() - t0
    return dict(seconds=dt, requests=done_req, output_tokens=done_tok, input_tokens=done_in, decode_steps=steps,
                complete=done_req == len(reqs))


def make_cb_config(settings):
    from transformers.generation import ContinuousBatchingConfig
    names = {f.name for f in dataclasses.fields(ContinuousBatchingConfig)}
    used = {k: v for k, v in settings.items() if k in names}
    ignored = {k: v for k, v in settings.items() if k not in names}
    return ContinuousBatchingConfig(**used), used, ignored


def run_generate_batch(model, reqs, settings, limit_s=float("inf")):
    cbc, used, ignored = make_cb_config(settings)
    gc = gen_config(max_new_tokens=max(r["output_len"] for r in reqs), eos_token_id=-1)
    per_request = True
    t0 = time.perf_counter()
    total = 0
    if not hasattr(model, "continuous_batching_context_manager"):
        # Older API: one max_new_tokens for all; only each request's own output_len is counted.
        t0 = time.perf_counter()
        out = model.generate_batch(inputs=[r["prompt"] for r in reqs], generation_config=gc,
                                   continuous_batching_config=cbc, progress_bar=False)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        return dict(seconds=dt, requests=len(reqs), output_tokens=sum(r["output_len"] for r in reqs),
                    generated_tokens=sum(len(o.generated_tokens) for o in out.values()),
                    input_tokens=sum(len(r["prompt"]) for r in reqs), per_request_max_new_tokens=False,
                    settings=used, ignored_settings=ignored, complete=True, includes_warmup=True)
    with model.continuous_batching_context_manager(generation_config=gc, continuous_batching_config=cbc,
                                                   block=True, timeout=30) as manager:
        t0 = time.perf_counter()  # after warm-up (CUDA graph capture), like the engine's warm-up
        sig = inspect.signature(manager.add_request).parameters
        if "max_new_tokens" in sig:
            for i, r in enumerate(reqs):
                kw = {"request_id": f"r{i}"} if "request_id" in sig else {}
                manager.add_request(r["prompt"], max_new_tokens=r["output_len"], **kw)
        else:
            per_request = False
            manager.add_requests(inputs=[r["prompt"] for r in reqs], max_new_tokens=gc.max_new_tokens)
        finished = 0
        done_useful = 0
        while finished < len(reqs):
            if time.perf_counter() - t0 > limit_s:
                # Not finished in time: report what finished (a lower bound on the peer's rate) and say so.
                dt = time.perf_counter() - t0
                return dict(seconds=dt, requests=finished, output_tokens=done_useful, generated_tokens=total,
                            input_tokens=None, per_request_max_new_tokens=per_request, settings=used,
                            ignored_settings=ignored, complete=False, limit_s=limit_s)
            res = manager.get_result(timeout=5)
            if res is None:
                if not manager.is_running():
                    raise RuntimeError("continuous batching thread stopped")
                continue
            if res.is_finished():
                finished += 1
                total += len(res.generated_tokens)
                done_useful += len(res.generated_tokens)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    useful = sum(r["output_len"] for r in reqs)
    return dict(seconds=dt, requests=len(reqs), output_tokens=useful, generated_tokens=total,
                input_tokens=sum(len(r["prompt"]) for r in reqs), per_request_max_new_tokens=per_request,
                settings=used, ignored_settings=ignored, complete=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--requests", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--peers", default="generate,generate_batch")
    ap.add_argument("--batch-sizes", default="64,256")
    ap.add_argument("--cb-configs", default='[{}]', help="JSON list of ContinuousBatchingConfig settings")
    ap.add_argument("--budget-s", type=float, default=240)
    ap.add_argument("--job-limit-s", type=float, default=45)
    ap.add_argument("--help-out")
    a = ap.parse_args()
    import transformers
    dev = torch.cuda.get_device_name(0)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, {dev}")
    if a.help_out:
        try:
            from transformers.generation import ContinuousBatchingConfig
            with open(a.help_out, "w") as f:
                f.write(f"transformers {transformers.__version__}\n\nContinuousBatchingConfig{inspect.signature(ContinuousBatchingConfig)}\n\n")
                f.write(inspect.getdoc(ContinuousBatchingConfig) or "")
                from transformers import LlamaForCausalLM
                f.write("\n\ngenerate_batch" + str(inspect.signature(LlamaForCausalLM.generate_batch)) + "\n")
                f.write(inspect.getdoc(LlamaForCausalLM.generate_batch) or "")
                from transformers.generation.continuous_batching import ContinuousBatchingManager as M
                f.write("\n\nadd_request" + str(inspect.signature(M.add_request)) + "\n")
        except Exception:
            traceback.print_exc()
    bw = measure_bandwidth_gbs()
    log(f"device copy bandwidth {bw:.0f} GB/s")
    t = time.time()
    model = build_model(a.shape)
    log(f"built random {a.shape} model in {time.time() - t:.1f} s")
    # warm-up (cuBLAS handles, sdpa kernels)
    model.generate(input_ids=torch.ones((2, 16), dtype=torch.long, device="cuda"),
                   generation_config=gen_config(max_new_tokens=4, min_new_tokens=4, eos_token_id=None))
    peers = a.peers.split(",")
    cb_configs = json.loads(a.cb_configs)
    for path in a.requests:
        w = json.load(open(path))
        reqs = w["requests"]
        base = dict(shape=a.shape, workload=w["name"], num_requests=len(reqs), device=dev,
                    torch=torch.__version__, transformers=transformers.__version__, bandwidth_gbs=bw)
        mean_ctx = sum(len(r["prompt"]) + r["output_len"] / 2 for r in reqs) / len(reqs)
        if "generate" in peers:
            for bs in [int(x) for x in a.batch_sizes.split(",")]:
                if time.time() - T0 > a.budget_s:
                    log("budget spent; skipping generate", w["name"], bs); continue
                try:
                    r = run_generate(model, reqs, bs, a.job_limit_s)
                    r["output_tok_s"] = r["output_tokens"] / r["seconds"]
                    r["total_tok_s"] = (r["output_tokens"] + r["input_tokens"]) / r["seconds"]
                    r["requests_per_s"] = r["requests"] / r["seconds"]
                    rf = roofline(a.shape, min(bs, len(reqs)), mean_ctx, bw)
                    r["roofline"] = rf
                    r["percent_of_roofline"] = 100 * r["output_tok_s"] / rf["output_tok_s"]
                    emit(a.out, dict(base, peer="generate", batch_size=bs, **r))
                except Exception as e:
                    traceback.print_exc()
                    emit(a.out, dict(base, peer="generate", batch_size=bs, error=repr(e)[:500]))
                torch.cuda.empty_cache()
        if "generate_batch" in peers:
            for cfg in cb_configs:
                if time.time() - T0 > a.budget_s:
                    log("budget spent; skipping generate_batch", w["name"], cfg); continue
                attn = cfg.pop("attn", "paged|sdpa") if isinstance(cfg, dict) else "paged|sdpa"
                try:
                    model.set_attn_implementation(attn)
                    r = run_generate_batch(model, reqs, cfg, a.job_limit_s)
                    r["output_tok_s"] = r["output_tokens"] / r["seconds"]
                    r["total_tok_s"] = (r["output_tokens"] + (r["input_tokens"] or 0)) / r["seconds"]
                    r["requests_per_s"] = r["requests"] / r["seconds"]
                    emit(a.out, dict(base, peer="generate_batch", attn=attn, **r))
                except Exception as e:
                    traceback.print_exc()
                    emit(a.out, dict(base, peer="generate_batch", attn=attn, settings=cfg, error=repr(e)[:500]))
                finally:
                    cfg["attn"] = attn
                    try:
                        model.set_attn_implementation("sdpa")
                    except Exception:
                        traceback.print_exc()
                torch.cuda.empty_cache()
    log("done")


if __name__ == "__main__":
    main()
