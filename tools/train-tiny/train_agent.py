#!/usr/bin/env python3
"""Train the embedded default model of PagedAttention.AI on synthetic agent tasks + Brown prose (issue 19).

On the GPU machine (torch + transformers + tokenizers), from the repository root:

    python3 tools/train-tiny/train_agent.py --out /tmp/final            # the real run (~6 minutes on one H200)
    python3 tools/train-tiny/train_agent.py --out /tmp/smoke --smoke    # the whole pipeline on tiny data
    python3 tools/train-tiny/train_agent.py --out /tmp/dry --dry-run    # no torch / tokenizers: corpus, masks,
                                                                        # packing, the eval scorer, the data cache
                                                                        # and the two-phase resume, checked

Two chained device calls (one call is limited to 600 s; /tmp survives between them), run-agent-model.sh with
AGENT_PHASE=1 then AGENT_PHASE=2:
    --phase 1: corpus -> packed windows cached in --data-cache (/tmp/agent-data, with the tokenizer), training for
               --phase1-train-seconds (or until the deadline's reserve), a full checkpoint in --ckpt (/tmp/agent-ckpt:
               model, optimizer, RNG, step, data position, elapsed training seconds), then the model, perplexity and
               goldens exported as in a single run (so a failed phase 2 still leaves a model)
    --phase 2: the cache and checkpoint loaded, training resumed until --total-train-seconds of training in all,
               then perplexity, the held-out eval with transformers, goldens, export
    Both phases take the same --total-train-seconds: the LR cosine spans the whole training time (schedule.py).

The corpus is made here, seeded: tools/agent-corpus (agentgen.py) conversations rendered with the model's chat
template, and the Brown corpus text committed as tools/train-tiny/brown/*.txt.xz (made by prep_brown.py).

Output layout:
    out/model/        config.json, generation_config.json, model.safetensors (bf16),
                      tokenizer.json, tokenizer_config.json (chat_template), special_tokens_map.json
    out/golden.json   greedy continuations + first-step top-5 logits (transformers, fp32, CPU, eager)
    out/samples.txt   generations on held-out agent tasks and Brown prompts
    out/metrics.json  perplexities, held-out agent accuracy (transformers on the GPU), timings, curve
"""
import argparse
import json
import lzma
import math
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "agent-corpus"))
sys.path.insert(0, HERE)
import agentgen  # noqa: E402
import schedule  # noqa: E402

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
            "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<tools>", "</tools>"]
BOS, EOS, PAD, SYSTEM, USER, ASSISTANT, END = range(7)
TOOL_CALL, TOOL_CALL_END = 7, 8
CHAT_TEMPLATE = agentgen.load_template()

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


# ---------------------------------------------------------------- data

def read_brown(d, name):
    import gzip
    for fn in (name + ".txt", name + ".txt.xz", name + ".txt.gz"):
        p = os.path.join(d, fn)
        if os.path.exists(p):
            opener = lzma.open if fn.endswith(".xz") else gzip.open if fn.endswith(".gz") else open
            with opener(p, "rt", encoding="utf-8") as fh:
                return [l.strip() for l in fh if l.strip()]
    raise FileNotFoundError(f"{d}/{name}.txt(.xz)")


_SENT = re.compile(r'(?:(?<=[.!?])|(?<=[.!?]"))\s+(?=["A-Z(])')
SYSTEMS = [None, None, None, "You are a helpful assistant.", "You are a storyteller.", "You are a news reporter."]
USER_PREFIXES = ["", "", "Continue: ", "Please continue this text: ", "What comes next? "]


def brown_chat(p, rng):
    sents = [s for s in _SENT.split(p) if s.strip()]
    if len(sents) < 2:
        return None
    msgs = []
    s = rng.choice(SYSTEMS)
    if s:
        msgs.append({"role": "system", "content": s})
    i = 0
    while i < len(sents) - 1:
        msgs.append({"role": "user", "content": rng.choice(USER_PREFIXES) + sents[i]})
        i += 1
        k = rng.randint(1, 3)
        msgs.append({"role": "assistant", "content": " ".join(sents[i:i + k])})
        i += k
        if rng.random() < 0.5:
            break
    return agentgen.render(msgs)


def _gen_range(args):
    split, seed, lo, hi = args
    return [agentgen.rendered(split, seed, i) for i in range(lo, hi)]


def agent_texts(split, seed, n, workers):
    chunks = [(split, seed, lo, min(n, lo + 2000)) for lo in range(0, n, 2000)]
    if workers <= 1 or n <= 4000:
        return [t for c in chunks for t in _gen_range(c)]
    import multiprocessing as mp
    with mp.get_context("fork").Pool(workers) as pool:
        return [t for part in pool.map(_gen_range, chunks) for t in part]


def assistant_mask(ids, nl_id):
    """1 where a token is a loss target: the assistant's reply tokens and the <|end|> closing it. Sequences without
    an assistant turn (plain Brown paragraphs) are all targets but the leading <|bos|>."""
    n = len(ids)
    m = bytearray(n)
    i = 0
    has = False
    while True:
        try:
            i = ids.index(ASSISTANT, i)
        except ValueError:
            break
        has = True
        j = i + 1
        if j < n and ids[j] == nl_id:
            j += 1
        try:
            k = ids.index(END, j)
        except ValueError:
            k = n - 1
        m[j:k + 1] = b"\x01" * (k + 1 - j)
        i = k + 1
    if not has:
        m = bytearray(b"\x01") * n
        if n and ids[0] == BOS:
            m[0] = 0
    return m


def pack(items, filler, L, rng):
    """Greedy packing of (ids, mask) items into windows of L tokens; the room left in a window is filled with
    (truncated) plain Brown paragraphs. Items longer than L are dropped. Returns (array('H') of n*L ids,
    bytearray of n*L mask bytes, n, dropped)."""
    from array import array
    rng.shuffle(items)
    ids_out, m_out = array("H"), bytearray()
    dropped, cur = 0, 0
    fp = [0, 0]  # filler paragraph index, offset

    def fill(room):
        # each Brown paragraph fills at most once (cycling the filler made Brown ~20 passes: run 1 overfit it)
        while room > 0 and fp[0] < len(filler):
            p = filler[fp[0]]
            take = p[fp[1]:fp[1] + room]
            ids_out.extend(take)
            mm = bytearray(b"\x01") * len(take)
            if fp[1] == 0:
                mm[0] = 0  # a paragraph's <|bos|> is not a target
            m_out.extend(mm)
            room -= len(take)
            fp[1] += len(take)
            if fp[1] >= len(p):
                fp[0] += 1
                fp[1] = 0
        if room > 0:  # filler used up: pad (not a target)
            ids_out.extend([PAD] * room)
            m_out.extend(bytes(room))

    for ids, m in items:
        if len(ids) > L:
            dropped += 1
            continue
        if cur + len(ids) > L:
            fill(L - cur)
            cur = 0
        ids_out.extend(ids)
        m_out.extend(m)
        cur += len(ids)
    if cur:
        fill(L - cur)
    assert len(ids_out) == len(m_out) and len(ids_out) % L == 0
    return ids_out, m_out, len(ids_out) // L, dropped


class StubTokenizer:
    """--dry-run only: characters as ids (specials as their ids), so the masks and the packing can be checked
    without the tokenizers package."""

    def __init__(self, V):
        self.V = V
        self.re = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")

    def encode(self, text):
        ids = []
        for part in self.re.split(text):
            if part in SPECIALS:
                ids.append(SPECIALS.index(part))
            else:
                ids += [len(SPECIALS) + (ord(c) % (self.V - len(SPECIALS))) for c in part]
        return ids

    def nl(self):
        return len(SPECIALS) + (ord("\n") % (self.V - len(SPECIALS)))


def make_agent_corpus(args):
    """All agent text the run needs, made before torch and tokenizers start threads (the generator forks)."""
    t = time.time()
    texts = agent_texts("train", args.corpus_seed, args.n_agent, args.workers)
    log(f"generated {len(texts)} agent conversations in {time.time() - t:.1f}s "
        f"({sum(len(x) for x in texts) / 1e6:.1f} M chars)")
    tok_sample = agent_texts("train", args.corpus_seed + 1000, args.tok_sample, args.workers)
    dev = agent_texts("train", args.corpus_seed + 2000, 100 if not args.smoke else 10, 1)
    return texts, tok_sample, dev


def build_corpus(args, texts, encode_batch, nl_id):
    """Agent conversations + Brown (plain paragraphs and short chats) -> packed windows of seq+1 tokens."""
    brown = read_brown(args.brown, "train")
    if args.smoke or args.dry_run:
        brown = brown[:2000]
    rng = random.Random(args.seed)
    brown_items_text = []
    for r in range(args.brown_repeat):
        for p in brown:
            if rng.random() < args.chat_frac:
                c = brown_chat(p, rng)
                if c is not None:
                    brown_items_text.append(("chat", c))
                    continue
            brown_items_text.append(("plain", p))
    t = time.time()
    items = []
    kinds = {"agent": 0, "brown": 0}
    tok_counts = {"agent": 0, "brown": 0}
    B = 20000
    for lo in range(0, len(texts), B):
        for ids in encode_batch(texts[lo:lo + B]):
            items.append((ids, assistant_mask(ids, nl_id)))
            tok_counts["agent"] += len(ids)
    kinds["agent"] = len(items)
    texts = None
    plain_enc = encode_batch(brown)
    filler = [[BOS] + ids + [EOS] for ids in plain_enc]
    for lo in range(0, len(brown_items_text), B):
        part = brown_items_text[lo:lo + B]
        enc = encode_batch([x for _, x in part])
        for (kind, _), ids in zip(part, enc):
            if kind == "plain":
                ids = [BOS] + ids + [EOS]
            items.append((ids, assistant_mask(ids, nl_id)))
            tok_counts["brown"] += len(ids)
            kinds["brown"] += 1
    log(f"encoded in {time.time() - t:.1f}s: {kinds} sequences, tokens {tok_counts}")
    t = time.time()
    items_n = len(items)
    ids_buf, m_buf, n_win, dropped = pack(items, filler, args.seq + 1, random.Random(args.seed + 1))
    n_tgt = m_buf.count(1)
    log(f"packed {items_n} sequences into {n_win} windows of {args.seq + 1} in {time.time() - t:.1f}s; dropped "
        f"{dropped} over-long; {n_tgt / (n_win * (args.seq + 1)):.2%} of tokens are loss targets")
    stats = {"agent_conversations": kinds["agent"], "brown_sequences": kinds["brown"], "agent_tokens": tok_counts["agent"],
             "brown_tokens": tok_counts["brown"], "windows": n_win, "dropped": dropped, "target_tokens": n_tgt}
    return ids_buf, m_buf, n_win, stats


# ---------------------------------------------------------------- held-out eval (shared by the dry run)

def parse_calls(text):
    """Hermes <tool_call>{json}</tool_call> blocks, like src/PagedAttention.AI/Chat/ToolCallParser.cs."""
    calls = []
    if "<tool_call>" not in text:
        return None
    for m in re.finditer(r"<tool_call>(.*?)(?:</tool_call>|$)", text, re.S):
        try:
            o = json.loads(m.group(1).strip())
            calls.append({"name": o.get("name"), "arguments": o.get("arguments")})
        except Exception:  # noqa: BLE001
            calls.append({"name": None, "arguments": None})
    return calls


def heldout_prompts(h):
    docs = {d["id"]: d["system"] for d in h["documents"]}
    for c in h["cases"]:
        if c["kind"] == "doc_qa":
            msgs = [{"role": "system", "content": docs[c["doc"]]}, {"role": "user", "content": c["user"]}]
        else:
            msgs = ([{"role": "system", "content": c["system"]}] if c.get("system") else []) + \
                   [{"role": "user", "content": c["user"]}]
        yield c, agentgen.render(msgs, c.get("tools"), add_generation_prompt=True)


def score(cases_out):
    """cases_out: [(case, generated text up to <|end|>)] -> metrics."""
    from_gen = {"doc_qa": [0, 0], "tool_select": [0, 0], "tool_args": [0, 0], "no_tool": [0, 0], "json_valid": [0, 0],
                "json_exact": [0, 0]}
    sys.path.insert(0, os.path.join(ROOT, "tools", "agent-corpus"))
    from generate import valid  # noqa: E402
    for c, out in cases_out:
        out = out.replace("<|end|>", "").strip()
        k = c["kind"]
        if k == "doc_qa":
            from_gen["doc_qa"][1] += 1
            from_gen["doc_qa"][0] += out == c["answer"]
        elif k in ("tool_one", "tool_two"):
            calls = parse_calls(out) or []
            from_gen["tool_select"][1] += 1
            from_gen["tool_args"][1] += 1
            names_ok = [x["name"] for x in calls] == [x["name"] for x in c["calls"]]
            from_gen["tool_select"][0] += names_ok
            from_gen["tool_args"][0] += names_ok and [x["arguments"] for x in calls] == [x["arguments"] for x in c["calls"]]
        elif k == "tool_none":
            from_gen["no_tool"][1] += 1
            from_gen["no_tool"][0] += parse_calls(out) is None
        elif k == "json":
            from_gen["json_valid"][1] += 1
            from_gen["json_exact"][1] += 1
            try:
                o = json.loads(out)
                from_gen["json_valid"][0] += valid(o, c["schema"])
                from_gen["json_exact"][0] += o == c["object"]
            except Exception:  # noqa: BLE001
                pass
    return {k: {"correct": a, "total": n, "rate": a / n if n else None} for k, (a, n) in from_gen.items()}


# ---------------------------------------------------------------- the packed-corpus cache (phases 1 and 2)

CACHE_KEYS = ("seq", "n_agent", "corpus_seed", "seed", "vocab", "pretok", "brown_repeat", "chat_frac", "tok_sample",
              "smoke", "dry_run")


def cache_key(args):
    return {k: getattr(args, k) for k in CACHE_KEYS}


def save_cache(d, ids_buf, m_buf, n_win, stats, args, tok=None):
    """ids (uint16, native order) and mask bytes of the packed windows, the tokenizer, and meta.json written last
    (its presence marks a complete cache)."""
    os.makedirs(d, exist_ok=True)
    meta_path = os.path.join(d, "meta.json")
    if os.path.exists(meta_path):
        os.remove(meta_path)
    with open(os.path.join(d, "ids.u16"), "wb") as fh:
        ids_buf.tofile(fh)
    with open(os.path.join(d, "mask.u8"), "wb") as fh:
        fh.write(m_buf)
    if tok is not None:
        tok.save(os.path.join(d, "tokenizer.json"))
    with open(meta_path, "w") as fh:
        json.dump({"key": cache_key(args), "windows": n_win, "window": args.seq + 1, "stats": stats,
                   "tokenizer": tok is not None}, fh, indent=1)
    log(f"cached {n_win} windows in {d}")


def load_cache(d, args):
    """(ids array('H'), mask bytearray, meta) or (None, None, reason)."""
    from array import array
    meta_path = os.path.join(d, "meta.json")
    if not os.path.exists(meta_path):
        return None, None, f"no {meta_path}"
    with open(meta_path) as fh:
        meta = json.load(fh)
    if meta["key"] != cache_key(args):
        return None, None, f"cache made with other arguments: {meta['key']} != {cache_key(args)}"
    if not args.dry_run and not meta.get("tokenizer"):
        return None, None, "cache without a tokenizer"
    n = meta["windows"] * meta["window"]
    ids = array("H")
    with open(os.path.join(d, "ids.u16"), "rb") as fh:
        ids.fromfile(fh, n)
    with open(os.path.join(d, "mask.u8"), "rb") as fh:
        mask = bytearray(fh.read())
    if len(mask) != n:
        return None, None, f"mask has {len(mask)} bytes, want {n}"
    return ids, mask, meta


def dry_phases(args, ids_buf, m_buf, n_win, stats):
    """The two-phase path without torch: the cache written and read back equal, and a simulated phase 1 whose saved
    state (JSON, as in --ckpt) lets phase 2 draw the very batches and LRs an uninterrupted run draws."""
    d = os.path.join(args.out, "agent-data")
    save_cache(d, ids_buf, m_buf, n_win, stats, args)
    ids2, m2, meta = load_cache(d, args)
    assert ids2 == ids_buf and m2 == m_buf and meta["windows"] == n_win, "cache round trip"
    other = argparse.Namespace(**{**vars(args), "corpus_seed": args.corpus_seed + 1})
    assert load_cache(d, other)[0] is None, "a cache of other arguments must not load"

    class Clock:
        t = 0.0

        def __call__(self):
            return self.t

    def sched(state=None):
        # enough epochs that the time budget, not the small dry-run corpus, ends the schedule
        return schedule.Schedule(n_win, 2, 1000, args.seed, lr=args.lr, warmup=args.warmup,
                                 min_lr_frac=args.min_lr_frac, total_seconds=args.total_train_seconds, state=state)

    def drive(sc, budget):
        c, out = Clock(), []
        for idx, lr, _ in sc.run(c, budget):
            out.append((sc.step, tuple(idx), lr))
            c.t += 0.5  # a binary fraction: the clock sums exactly, as a real clock reading would not matter
        return out

    one = drive(sched(), args.total_train_seconds)
    p1 = sched()
    b1 = schedule.phase_train_seconds(1, total=args.total_train_seconds, phase1=args.phase1_train_seconds)
    first = drive(p1, b1)
    ck = os.path.join(args.out, "agent-ckpt")
    os.makedirs(ck, exist_ok=True)
    with open(os.path.join(ck, "state.json"), "w") as fh:
        json.dump({"schedule": p1.state()}, fh)
    with open(os.path.join(ck, "state.json")) as fh:
        st = json.load(fh)["schedule"]
    b2 = schedule.phase_train_seconds(2, total=args.total_train_seconds, phase1=args.phase1_train_seconds,
                                      elapsed_before=st["elapsed"])
    second = drive(sched(st), b2)
    assert one == first + second, "two phases differ from one run"
    log(f"dry run: phases ok: {len(first)} + {len(second)} steps = one run of {len(one)}; LR at the end of phase 1 "
        f"{first[-1][2]:.2e} (peak {args.lr:.1e}), at the end {second[-1][2]:.2e}")


def dry_run(args):
    tok = StubTokenizer(args.vocab)
    args.n_agent = min(args.n_agent, 3000)
    texts, _, _ = make_agent_corpus(args)
    ids_buf, m_buf, n_win, stats = build_corpus(args, texts, lambda texts: [tok.encode(t) for t in texts], tok.nl())
    L = args.seq + 1
    assert len(ids_buf) == n_win * L and len(m_buf) == n_win * L, "window length"
    assert 0 < m_buf.count(1) < len(m_buf)
    # no <|user|> / <|system|> / <|bos|> token is ever a target
    assert not any(m_buf[i] and ids_buf[i] in (BOS, SYSTEM, USER, ASSISTANT) for i in range(len(ids_buf))), "bad target"
    ex = agentgen.example("train", args.corpus_seed, 0)
    ids = tok.encode(agentgen.render(ex["messages"], ex["tools"]))
    mk = assistant_mask(ids, tok.nl())
    tgt = "".join(SPECIALS[i] if i < len(SPECIALS) else "?" for i, b in zip(ids, mk) if b and i < len(SPECIALS))
    n_asst = sum(1 for x in ex["messages"] if x["role"] == "assistant")
    assert tgt.count("<|end|>") == n_asst, (tgt, n_asst)
    assert "<|user|>" not in tgt and "<|system|>" not in tgt
    log("dry run: masks ok (", n_asst, "assistant turns, targets end with", tgt, ")")
    # the scorer gives 100 % on the expected answers (rendered the way the template writes them)
    with open(args.heldout, encoding="utf-8") as fh:
        h = json.load(fh)
    outs = []
    for c, prompt in heldout_prompts(h):
        if c["kind"] in ("tool_one", "tool_two"):
            full = agentgen.render([{"role": "user", "content": c["user"]},
                                    {"role": "assistant", "content": "", "tool_calls": [
                                        {"type": "function", "function": x} for x in c["calls"]]}], c.get("tools"))
            gen = full[full.rindex("<|assistant|>") + len("<|assistant|>\n"):]
        else:
            gen = c["answer"] + "<|end|>"
        outs.append((c, gen))
        assert prompt.endswith("<|assistant|>\n")
    s = score(outs)
    log("dry run: scorer on the expected outputs", json.dumps(s))
    assert all(v["rate"] == 1.0 for v in s.values() if v["total"]), s
    lens = [len(p) for _, p in heldout_prompts(h)]
    log(f"dry run: {len(lens)} held-out prompts, longest {max(lens)} chars; stats {stats}")
    dry_phases(args, ids_buf, m_buf, n_win, stats)
    os.makedirs(os.path.join(args.out, "model"), exist_ok=True)
    with open(os.path.join(args.out, "model", "x.bin"), "wb") as fh:
        fh.write(os.urandom(20 * 1024 * 1024))
    export_parts(args.out, os.path.join(args.out, "export"))
    log("DRY RUN OK")


def export_parts(out, dest, part=15 * 1024 * 1024):
    """tar of out/model (+ samples.txt when there) split into dest/agent-model.tar.partNN, like split -b 15M -d."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.add(os.path.join(out, "model"), arcname="model")
        if os.path.exists(os.path.join(out, "samples.txt")):
            tf.add(os.path.join(out, "samples.txt"), arcname="samples.txt")
    data = buf.getvalue()
    os.makedirs(dest, exist_ok=True)
    for old in os.listdir(dest):
        if old.startswith("agent-model.tar.part"):
            os.remove(os.path.join(dest, old))
    for k, i in enumerate(range(0, len(data), part)):
        with open(os.path.join(dest, f"agent-model.tar.part{k:02d}"), "wb") as fh:
            fh.write(data[i:i + part])
    log(f"exported {len(data)} bytes as {(len(data) + part - 1) // part} parts to {dest}")


# ---------------------------------------------------------------- training (torch)

class SkipEval(Exception):
    pass


def model_args(args):
    return {k: getattr(args, k) for k in ("vocab", "hidden", "layers", "heads", "kv_heads", "ffn", "max_pos", "batch")}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--brown", default=os.path.join(HERE, "brown"))
    ap.add_argument("--heldout", default=os.path.join(ROOT, "bench", "AgentEval", "heldout.json"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--pretok", choices=["words", "gpt2"], default="words",
                    help="words: every space is its own token, so a word has the same ids after a space, a quote or a "
                         "newline (copying an unseen name into a tool call or JSON is then an identity map); "
                         "gpt2: GPT-2's regex, where ' Reykjavik' and 'Reykjavik' share no ids (run1-run5)")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=1280)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--max-pos", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=4, help="passes over the packed corpus (the time budget ends it first)")
    ap.add_argument("--time-budget", type=float, default=330.0, help="seconds of training (the LR schedule follows it)")
    ap.add_argument("--n-agent", type=int, default=300000, help="agent conversations in the training corpus")
    ap.add_argument("--brown-repeat", type=int, default=2, help="copies of the Brown train split in the corpus")
    ap.add_argument("--chat-frac", type=float, default=0.25)
    ap.add_argument("--tok-sample", type=int, default=12000, help="agent conversations the tokenizer is trained on")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--corpus-seed", type=int, default=1)
    ap.add_argument("--eval-seconds", type=float, default=60.0, help="wall time cap of the held-out eval")
    ap.add_argument("--golden-tokens", type=int, default=32)
    ap.add_argument("--deadline", type=float, default=0.0,
                    help="unix time the whole run must end by: the training budget and the eval shrink to fit")
    ap.add_argument("--export", default="", help="folder the model tar is written to (15 MiB parts) as soon as it is saved")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--phase", type=int, choices=[0, 1, 2], default=0,
                    help="0: one call (default); 1: train, checkpoint to --ckpt and export; 2: resume from --ckpt")
    ap.add_argument("--total-train-seconds", type=float, default=700.0,
                    help="phases 1 and 2: training seconds of both phases together (the LR cosine spans them); "
                         "give both phases the same value")
    ap.add_argument("--phase1-train-seconds", type=float, default=400.0,
                    help="phase 1 trains this long (less if its deadline comes first); phase 2 trains the rest")
    ap.add_argument("--data-cache", default="/tmp/agent-data", help="phases 1-2: the packed corpus and the tokenizer")
    ap.add_argument("--ckpt", default="/tmp/agent-ckpt", help="phases 1-2: the training checkpoint")
    ap.add_argument("--compile", action="store_true", help="torch.compile the decoder for training (off by default)")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.n_agent, args.brown_repeat, args.max_steps, args.time_budget, args.warmup = 3000, 1, 12, 30, 2
        args.tok_sample, args.eval_seconds, args.golden_tokens = 1500, 5, 3
        args.total_train_seconds = min(args.total_train_seconds, 30.0)
    if args.dry_run:
        dry_run(args)
        return
    if args.smoke and args.phase:  # never the real run's cache / checkpoint
        if args.data_cache == "/tmp/agent-data":
            args.data_cache = "/tmp/agent-data-smoke"
        if args.ckpt == "/tmp/agent-ckpt":
            args.ckpt = "/tmp/agent-ckpt-smoke"
        # a few steps in phase 1, the rest of 24 in phase 2: the resume is exercised on the GPU in seconds
        args.phase1_train_seconds, args.max_steps = min(args.phase1_train_seconds, 1.0), 24
    train(args)


def train(args):
    # phases 1 and 2 reuse the packed corpus and the tokenizer of /tmp/agent-data when it was made with these arguments
    cache_ids, cache_mask, cache_meta = (None, None, "phase 0: no cache")
    if args.phase:
        cache_ids, cache_mask, cache_meta = load_cache(args.data_cache, args)
        if cache_ids is None:
            if args.phase == 2:
                sys.exit(f"phase 2: no usable data cache in {args.data_cache} ({cache_meta}); run phase 1 first")
            log(f"phase 1: building the corpus ({cache_meta})")
        else:
            log(f"phase {args.phase}: the packed corpus from {args.data_cache} ({cache_meta['windows']} windows)")
    state_path, ckpt_path = os.path.join(args.ckpt, "state.json"), os.path.join(args.ckpt, "ckpt.pt")
    if args.phase == 2 and not (os.path.exists(state_path) and os.path.exists(ckpt_path)):
        sys.exit(f"phase 2: no checkpoint in {args.ckpt}; run phase 1 first")
    if cache_ids is None:
        agent_train, agent_tok_sample, agent_dev_texts = make_agent_corpus(args)
    else:
        agent_train = agent_tok_sample = None
        agent_dev_texts = agent_texts("train", args.corpus_seed + 2000, 100 if not args.smoke else 10, 1)
    import numpy as np
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    log("torch", torch.__version__, "transformers", transformers.__version__, "device",
        torch.cuda.get_device_name() if device == "cuda" else "cpu", "cpus", os.cpu_count())
    log("args", vars(args))
    mdir = os.path.join(args.out, "model")
    os.makedirs(mdir, exist_ok=True)
    metrics = {"args": vars(args), "timings": {}}

    # ---------------- tokenizer: byte-level BPE on Brown + a sample of agent conversations
    t = time.time()
    if cache_ids is not None:
        tok = Tokenizer.from_file(os.path.join(args.data_cache, "tokenizer.json"))
        tok_texts = []
    else:
        tok_texts = read_brown(args.brown, "train") + agent_tok_sample
        strip = re.compile("|".join(re.escape(s) for s in SPECIALS))
        tok = Tokenizer(models.BPE())
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.pre_tokenizer = byte_level if args.pretok == "gpt2" else pre_tokenizers.Sequence(
            [pre_tokenizers.Split(" ", behavior="isolated"), byte_level])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=args.vocab, min_frequency=2, special_tokens=SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator((strip.sub("\n", x) for x in tok_texts), trainer, length=len(tok_texts))
        tok.post_processor = processors.TemplateProcessing(
            single=f"{SPECIALS[BOS]} $A", pair=f"{SPECIALS[BOS]} $A {SPECIALS[BOS]} $B:1",
            special_tokens=[(SPECIALS[BOS], BOS)])
        for i, s in enumerate(SPECIALS):
            assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    V = tok.get_vocab_size()
    nl_id = tok.token_to_id("Ċ")
    assert nl_id is not None and tok.encode("\n", add_special_tokens=False).ids == [nl_id]
    probe = agentgen.rendered("train", 5, 3)
    pids = tok.encode(probe, add_special_tokens=False).ids
    if tok.decode(pids, skip_special_tokens=False) != probe:
        log("WARNING: the tokenizer does not round-trip an agent conversation")
    metrics["timings"]["tokenizer_s"] = time.time() - t
    log(f"tokenizer trained on {len(tok_texts)} texts in {time.time() - t:.1f}s, vocab {V}, "
        f"{len(probe) / len(pids):.2f} chars/token on an agent conversation")
    del tok_texts

    def encode_batch(texts):
        return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]

    # ---------------- corpus
    t = time.time()
    if cache_ids is None:
        ids_buf, m_buf, n_win, stats = build_corpus(args, agent_train, encode_batch, nl_id)
        del agent_train
        if args.phase:
            save_cache(args.data_cache, ids_buf, m_buf, n_win, stats, args, tok)
    else:
        ids_buf, m_buf, n_win, stats = cache_ids, cache_mask, cache_meta["windows"], cache_meta["stats"]
        cache_ids = cache_mask = None
    metrics["data"] = stats
    metrics["timings"]["corpus_s"] = time.time() - t
    L = args.seq + 1
    data = torch.from_numpy(np.frombuffer(ids_buf, dtype=np.uint16).astype(np.int32).reshape(n_win, L))
    mask = torch.from_numpy(np.frombuffer(m_buf, dtype=np.uint8).reshape(n_win, L).astype(np.bool_))
    del ids_buf, m_buf
    data, mask = data.to(device), mask.to(device)
    N = data.shape[0]
    log(f"corpus on {device}: {N} windows, {N * args.seq / 1e6:.1f} M tokens, {int(mask.sum()) / 1e6:.1f} M targets, "
        f"built in {time.time() - t:.1f}s")

    # dev / valid sets: Brown dev + valid (plain paragraphs, 1024-token stream chunks like the old model's),
    # agent dev conversations (train vocabulary, another seed) for the curve
    def stream_chunks(seqs, T):
        flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
        return [flat[i:i + T + 1] for i in range(0, len(flat) - 1, T + 1) if len(flat[i:i + T + 1]) > 1]

    def plain(paras):
        return [[BOS] + ids + [EOS] for ids in encode_batch(paras)]

    dev_p, valid_p = read_brown(args.brown, "dev"), read_brown(args.brown, "valid")
    dev_chunks, valid_chunks = stream_chunks(plain(dev_p), 1024), stream_chunks(plain(valid_p), 1024)
    agent_dev = [(ids, assistant_mask(ids, nl_id)) for ids in encode_batch(agent_dev_texts)]

    # ---------------- model
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
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device == "cuda")

    resume = {}
    if args.phase == 2:
        with open(state_path) as fh:
            resume = json.load(fh)
        if resume.get("key") != cache_key(args) or resume.get("model_args") != model_args(args):
            sys.exit(f"phase 2: the checkpoint in {args.ckpt} was made with other arguments: "
                     f"{resume.get('key')} {resume.get('model_args')}")
        # on the CPU: the RNG states must stay CPU tensors; load_state_dict moves weights and optimizer state over
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        rng = ck["rng"]
        torch.set_rng_state(rng["torch"])
        if device == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state_all(rng["cuda"])
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        del ck
        metrics["phase1"] = resume.get("metrics")
        log(f"phase 2: resumed from {args.ckpt} at step {resume['schedule']['step']}, epoch "
            f"{resume['schedule']['epoch']} position {resume['schedule']['pos']}, "
            f"{resume['schedule']['elapsed']:.1f}s trained")
    decoder = model.model
    if args.compile:
        decoder = torch.compile(model.model)
        log("torch.compile on the decoder")

    def masked_loss(x, y, m):
        h = decoder(input_ids=x, use_cache=False).last_hidden_state
        hs = h[m]
        logits = model.lm_head(hs)
        return F.cross_entropy(logits.float(), y[m])

    @torch.no_grad()
    def eval_chunks(chunks, autocast=True):
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
        return nll / max(1, n), n

    @torch.no_grad()
    def eval_agent_dev():
        model.eval()
        nll, n = 0.0, 0
        for ids, m in agent_dev:
            x = torch.tensor(ids[:-1], device=device)[None]
            y = torch.tensor(ids[1:], device=device)
            mm = torch.tensor(list(m[1:]), device=device, dtype=torch.bool)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(input_ids=x, use_cache=False).logits[0]
            nll += F.cross_entropy(logits.float()[mm], y[mm], reduction="sum").item()
            n += int(mm.sum())
        model.train()
        return nll / max(1, n)

    # training seconds of this call: keep ~130 s for saving, perplexity, the held-out eval (shrunk further below)
    # and the CPU goldens; phase 1 (no held-out eval) keeps 70 s
    left = args.deadline - time.time() if args.deadline else None
    before = resume.get("schedule", {}).get("elapsed", 0.0)
    if args.phase == 0:
        budget = schedule.phase_train_seconds(0, total=args.time_budget, phase1=0, left=left, reserve=130.0)
        if budget != args.time_budget:
            log(f"deadline: training budget {args.time_budget:.0f}s -> {budget:.0f}s")
        args.time_budget = horizon = budget  # one call: the cosine spans its (possibly shrunk) budget
    else:
        # a phase 2 that cannot finish the schedule in this call is an intermediate one: it checkpoints like phase 1
        # and leaves the held-out eval to the call that finishes (so it keeps phase 1's 70 s), and another phase-2
        # call resumes from it; the last one keeps 130 s
        reserve = 70.0 if args.phase == 1 else 130.0
        if args.phase == 2 and left is not None and args.total_train_seconds - before > left - 130.0:
            reserve = 70.0
        budget = schedule.phase_train_seconds(args.phase, total=args.total_train_seconds,
                                              phase1=args.phase1_train_seconds, elapsed_before=before, left=left,
                                              reserve=reserve)
        horizon = args.total_train_seconds  # the same in both phases: phase 1's LR stays high
        log(f"phase {args.phase}: training {budget:.0f}s now, {before:.0f}s before, cosine over {horizon:.0f}s")
    B = args.batch
    steps_epoch = N // B
    sc = schedule.Schedule(N, B, args.epochs, args.seed, lr=args.lr, warmup=args.warmup, min_lr_frac=args.min_lr_frac,
                           total_seconds=horizon, max_steps=args.max_steps, state=resume.get("schedule"))
    log(f"{steps_epoch} steps/epoch of {B} x {args.seq} tokens, planned {sc.total_steps} steps, "
        f"this call's training budget {budget:.0f}s")

    curve = resume.get("curve", [])
    tokens_seen = resume.get("tokens_seen", 0)
    next_eval = resume.get("next_eval", 45.0)
    losses, phase_tokens = [], 0
    t_train = time.time()
    model.train()
    for idx, lr, elapsed in sc.run(time.time, budget):
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.tensor(idx, device=device)
        w = data[idx].long()
        m = mask[idx][:, 1:]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = masked_loss(w[:, :-1], w[:, 1:], m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.detach())
        step = sc.step + 1
        tokens_seen += B * args.seq
        phase_tokens += B * args.seq
        if step % 50 == 0 or elapsed > next_eval:
            tl = torch.stack(losses[-50:]).mean().item()
            rec = {"epoch": sc.epoch + 1, "step": step, "train_loss": tl, "elapsed_s": elapsed, "lr": lr,
                   "tok_s": phase_tokens / max(1e-9, time.time() - t_train), "phase": args.phase}
            if elapsed > next_eval:
                next_eval += 45.0
                rec["agent_dev_loss"] = eval_agent_dev()
                rec["brown_dev_ppl"] = math.exp(eval_chunks(dev_chunks[:20])[0])
            curve.append(rec)
            log(f"step {step:5d} ep {sc.epoch + 1} loss {tl:.4f} lr {lr:.2e} {rec['tok_s'] / 1e3:.0f}k tok/s"
                + (f" | agent dev {rec['agent_dev_loss']:.4f} brown dev ppl {rec['brown_dev_ppl']:.1f}"
                   if "agent_dev_loss" in rec else ""))
    step = sc.step
    train_s = time.time() - t_train
    metrics["timings"]["train_s"] = train_s
    metrics.update({"steps": step, "tokens_seen": tokens_seen, "epochs_seen": tokens_seen / max(1, N * args.seq),
                    "curve": curve, "schedule": sc.state(), "train_seconds_all_phases": sc.elapsed,
                    "lr_last": sc.lr_now(sc.elapsed)})
    log(f"training done: {step} steps, {tokens_seen / 1e6:.1f} M tokens ({metrics['epochs_seen']:.2f} epochs), "
        f"{train_s:.1f}s in this call, {sc.elapsed:.1f}s in all; LR now {metrics['lr_last']:.2e}"
        + ("" if sc.finished or args.phase == 1 else " (the schedule did not finish)"))
    del data, mask

    # phase 1, and a phase 2 that left the schedule unfinished: another phase-2 call continues from here
    intermediate = args.phase == 1 or (args.phase == 2 and not sc.finished)
    if intermediate:
        # ---------------- the checkpoint phase 2 resumes from (fp32 master weights, optimizer, RNG, data position)
        t = time.time()
        os.makedirs(args.ckpt, exist_ok=True)
        if os.path.exists(state_path):
            os.remove(state_path)  # state.json is written last: its presence marks a complete checkpoint
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                    "rng": {"torch": torch.get_rng_state(),
                            "cuda": torch.cuda.get_rng_state_all() if device == "cuda" else None,
                            "python": random.getstate(), "numpy": np.random.get_state()}}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        with open(state_path, "w") as fh:
            json.dump({"schedule": sc.state(), "tokens_seen": tokens_seen, "curve": curve, "next_eval": next_eval,
                       "key": cache_key(args), "model_args": model_args(args), "metrics": metrics}, fh)
        metrics["timings"]["checkpoint_s"] = time.time() - t
        log(f"checkpoint: {args.ckpt} ({os.path.getsize(ckpt_path) / 1e6:.0f} MB) in {time.time() - t:.1f}s")

    # ---------------- save first (everything after this is measurement)
    model = model.to(torch.bfloat16)
    model.save_pretrained(mdir)
    with open(os.path.join(mdir, "config.json")) as fh:
        c = json.load(fh)
    c.setdefault("torch_dtype", "bfloat16")
    c["dtype"] = "bfloat16"
    c.setdefault("rope_theta", 10000.0)
    with open(os.path.join(mdir, "config.json"), "w") as fh:
        json.dump(c, fh, indent=2, sort_keys=True)
    tok.save(os.path.join(mdir, "tokenizer.json"))
    added = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                      "special": True} for i, s in enumerate(SPECIALS)}
    with open(os.path.join(mdir, "tokenizer_config.json"), "w") as fh:
        json.dump({"added_tokens_decoder": added, "bos_token": SPECIALS[BOS], "eos_token": SPECIALS[EOS],
                   "pad_token": SPECIALS[PAD], "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
                   "model_input_names": ["input_ids", "attention_mask"], "model_max_length": args.max_pos,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, fh, indent=2)
    with open(os.path.join(mdir, "special_tokens_map.json"), "w") as fh:
        json.dump({"bos_token": SPECIALS[BOS], "eos_token": SPECIALS[EOS], "pad_token": SPECIALS[PAD]}, fh, indent=2)
    with open(os.path.join(mdir, "generation_config.json"), "w") as fh:
        json.dump({"bos_token_id": BOS, "eos_token_id": [EOS, END], "pad_token_id": PAD}, fh, indent=2)
    log("saved", {f: os.path.getsize(os.path.join(mdir, f)) for f in sorted(os.listdir(mdir))})

    def write_metrics():
        metrics["timings"]["total_s"] = time.time() - T0
        with open(os.path.join(args.out, "metrics.json"), "w") as fh:
            json.dump(metrics, fh, indent=1)

    write_metrics()
    if args.export:
        export_parts(args.out, args.export)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()

    # ---------------- perplexity of the shipped checkpoint (bf16 weights run in fp32)
    model = LlamaForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="sdpa").to(device).eval()
    try:
        vl, vn = eval_chunks(valid_chunks, autocast=False)
        dl, _ = eval_chunks(dev_chunks, autocast=False)
        metrics["valid"] = {"tokens": vn, "nll": vl, "ppl": math.exp(vl), "dev_ppl": math.exp(dl),
                            "agent_dev_loss": eval_agent_dev(),
                            "valid_chars_per_token": sum(len(p) for p in valid_p) / vn,
                            # the old default model predicted 83,418 tokens of the same text (its own tokenizer):
                            # the same total log-loss spread over those tokens is comparable with its 74.37
                            "ppl_at_old_token_count": math.exp(vl * vn / 83418)}
        log(f"VALID Brown per-token ppl {math.exp(vl):.2f} over {vn} tokens; at the old tokenizer's 83,418 tokens "
            f"{metrics['valid']['ppl_at_old_token_count']:.2f} (old default model: 74.37) | dev ppl {math.exp(dl):.2f} | "
            f"{metrics['valid']['valid_chars_per_token']:.2f} chars/token")
    except Exception as e:  # noqa: BLE001
        log("perplexity failed", repr(e))
    write_metrics()

    # ---------------- held-out agent tasks (transformers greedy on the GPU; the C# eval is bench/AgentEval)
    samples = []
    model.eval()
    try:
        if intermediate:
            raise SkipEval()
        with open(args.heldout, encoding="utf-8") as fh:
            h = json.load(fh)
        t = time.time()
        if args.deadline:
            args.eval_seconds = max(5.0, min(args.eval_seconds, args.deadline - time.time() - 60.0))
        outs = []
        cases = list(heldout_prompts(h))
        random.Random(0).shuffle(cases)
        for c, prompt in cases:
            if time.time() - t > args.eval_seconds:
                break
            ids = tok.encode(prompt, add_special_tokens=False).ids
            mx = 160 if c["kind"] in ("tool_two", "json") else 96
            g = model.generate(torch.tensor([ids], device=device), max_new_tokens=mx, do_sample=False,
                               eos_token_id=[EOS, END], pad_token_id=PAD)[0, len(ids):].tolist()
            text = tok.decode(g, skip_special_tokens=False)
            outs.append((c, text))
            if len(samples) < 40:
                samples.append(f"[{c['kind']} {c['id']}] {c['user']!r}\n  expected: {c.get('answer') if c['kind'] in ('doc_qa', 'tool_none', 'json') else c['calls']}\n  got:      {text!r}")
        metrics["heldout_hf"] = {"cases": len(outs), "seconds": time.time() - t, **score(outs)}
        log("HELD-OUT (transformers, greedy):", json.dumps(metrics["heldout_hf"]))
    except SkipEval:
        log(f"phase {args.phase}: the held-out eval is left to the phase-2 call that finishes the schedule")
    except Exception as e:  # noqa: BLE001
        log("held-out eval failed", repr(e))
    write_metrics()
    try:
        for p in ["The jury said", "She looked at him and", "The United States government"]:
            ids = tok.encode(p).ids
            g = model.generate(torch.tensor([ids], device=device), max_new_tokens=40, do_sample=False,
                               eos_token_id=[EOS, END], pad_token_id=PAD)[0, len(ids):].tolist()
            samples.append(f"[brown greedy] {p}|{tok.decode(g, skip_special_tokens=False)}")
    except Exception as e:  # noqa: BLE001
        log("samples failed", repr(e))
    with open(os.path.join(args.out, "samples.txt"), "w") as fh:
        fh.write("\n".join(samples) + "\n")
    del model

    # ---------------- goldens (transformers, fp32 on CPU, eager attention, no KV cache, greedy)
    t = time.time()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cpu_model = LlamaForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="eager").eval()

    @torch.no_grad()
    def greedy(ids, n):
        seq = list(ids)
        out, top1, first = [], [], None
        for step_ in range(n):
            logits = cpu_model(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1].float()
            if step_ == 0:
                v, i = torch.topk(logits, 5)
                first = {"ids": i.tolist(), "logits": [float(x) for x in v.tolist()]}
            nxt = int(torch.argmax(logits))
            top1.append(float(logits[nxt]))
            out.append(nxt)
            seq.append(nxt)
        return out, first, top1

    golden_doc = agentgen.make_document(random.Random("golden-doc"), agentgen.Vocab("test"), 1400)
    weather_tool = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}},
                                   "required": ["city"]}}}
    golden_prompts = [
        ("plain_jury", "The jury said", None, None),
        ("plain_government", "The United States government has", None, None),
        ("plain_long", "He told the committee the measure would merely provide means of enforcing the escheat law "
                       "which has been on the books since Texas was a republic. It permits the state to", None, None),
        ("chat", None, [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "Tell me about the weather in Texas."}], None),
        ("doc_qa", None, [{"role": "system", "content": agentgen.doc_system(random.Random(1), golden_doc)},
                          {"role": "user", "content": "How much does shipping cost?"}], None),
        ("tool_call", None, [{"role": "user", "content": "What's the weather in Reykjavik?"}], [weather_tool]),
        ("tool_answer", None, [{"role": "user", "content": "What's the weather in Reykjavik?"},
                               {"role": "assistant", "content": "", "tool_calls": [{"id": "call0", "type": "function",
                                "function": {"name": "get_weather", "arguments": {"city": "Reykjavik"}}}]},
                               {"role": "tool", "tool_call_id": "call0", "name": "get_weather",
                                "content": "{\"temperature\":4,\"sky\":\"windy\"}"}], [weather_tool]),
        ("json", None, [{"role": "system", "content": "Reply with a JSON object that matches this schema:\n"
                         "{\"type\": \"object\", \"properties\": {\"pilot_name\": {\"type\": \"string\"}, \"pilot_age\": "
                         "{\"type\": \"integer\"}}, \"required\": [\"pilot_name\", \"pilot_age\"]}"},
                        {"role": "user", "content": "The pilot age is 41. The pilot name is Odette Quigley."}], None),
    ]
    cases = []
    for name, text, msgs, tools in golden_prompts:
        try:
            if msgs is not None:
                text = agentgen.render(msgs, tools, add_generation_prompt=True)
                ids = tok.encode(text, add_special_tokens=False).ids
            else:
                ids = tok.encode(text).ids
            out, first, top1 = greedy(ids, args.golden_tokens)
            stop = next((i for i, x in enumerate(out) if x in (EOS, END)), None)
            case = {"name": name, "prompt_text": text, "prompt_ids": ids, "output_ids": out,
                    "output_ids_until_eos": out if stop is None else out[:stop + 1],
                    "output_text": tok.decode(out, skip_special_tokens=False), "first_step_top5": first,
                    "step_top1_logits": top1}
            if msgs is not None:
                case["chat_messages"] = msgs
                case["add_generation_prompt"] = True
                if tools:
                    case["tools"] = tools
            g = cpu_model.generate(torch.tensor([ids]), max_new_tokens=args.golden_tokens, do_sample=False, eos_token_id=None,
                                   pad_token_id=PAD)[0, len(ids):].tolist()
            case["hf_generate_matches"] = g == out[:len(g)]
            cases.append(case)
            log(f"golden {name}: {len(ids)} prompt ids, generate matches={case['hf_generate_matches']}: "
                f"{case['output_text']!r}")
        except Exception as e:  # noqa: BLE001
            log(f"golden {name} failed", repr(e))
    tok_cases = []
    for s in ["Hello, world!", "The jury said Friday an investigation produced \"no evidence\".",
              "  leading spaces and\nnew lines\t tabs", "naïve café — 1961 $300 O'Banion's", "<|user|>\nhi<|end|>\n",
              "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"]:
        tok_cases.append({"text": s, "ids": tok.encode(s, add_special_tokens=False).ids, "ids_with_bos": tok.encode(s).ids})
    hf_tok = {}
    try:
        from transformers import AutoTokenizer
        at = AutoTokenizer.from_pretrained(mdir)
        hf_tok["chat_template_matches"] = all(
            at.apply_chat_template(c["chat_messages"], tools=c.get("tools"), add_generation_prompt=True, tokenize=False)
            == c["prompt_text"] for c in cases if "chat_messages" in c)
        hf_tok["encode_matches"] = all(at.encode(c["text"], add_special_tokens=False) == c["ids"] for c in tok_cases)
        hf_tok["encode_bos_matches"] = at.encode("The jury said") == cases[0]["prompt_ids"]
        hf_tok["class"] = type(at).__name__
    except Exception as e:  # noqa: BLE001
        hf_tok["error"] = repr(e)
    log("AutoTokenizer check", hf_tok)
    golden = {"model": "models/default", "weights_dtype": "bfloat16", "compute_dtype": "float32", "device": "cpu",
              "attn_implementation": "eager", "decoding": "greedy, full recompute per step, no KV cache, eos ignored",
              "max_new_tokens": args.golden_tokens, "eos_token_ids": [EOS, END], "bos_token_id": BOS,
              "torch_version": torch.__version__, "transformers_version": transformers.__version__,
              "cases": cases, "tokenizer_cases": tok_cases, "hf_tokenizer_check": hf_tok}
    with open(os.path.join(args.out, "golden.json"), "w") as fh:
        json.dump(golden, fh, indent=1, ensure_ascii=False)
    metrics["timings"]["golden_s"] = time.time() - t
    write_metrics()
    log("all done, total", f"{time.time() - T0:.1f}s")


if __name__ == "__main__":
    main()
