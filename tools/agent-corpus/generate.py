#!/usr/bin/env python3
"""Synthetic agent-task corpus for the embedded default model (issue 19). stdlib + Jinja2, seeded, deterministic.

  python3 tools/agent-corpus/generate.py sample  [--split train|test] [--seed 1] [--n 5]   print rendered examples
  python3 tools/agent-corpus/generate.py jsonl   --out F [--split train] [--seed 1] [--n 1000] [--start 0]
        one {"kind", "text"} per line: the conversation rendered with chat_template.jinja exactly as
        transformers' apply_chat_template renders it (the training script calls agentgen.rendered directly)
  python3 tools/agent-corpus/generate.py heldout --out bench/AgentEval/heldout.json [--seed 7]
        the held-out split (entities, tool objects/verbs and schema fields never used in training), as cases
        the C# eval (bench/AgentEval) and the training script's quick eval run
  python3 tools/agent-corpus/generate.py check   [--n 3000]
        self-checks: determinism, train/test vocabulary disjointness, answers present in the documents,
        arguments present in the requests, JSON objects valid for their schemas, preamble lengths
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agentgen  # noqa: E402
import vocab  # noqa: E402

HELDOUT_COUNTS = {"doc_qa": (12, 8), "tool_one": 80, "tool_two": 40, "tool_none": 40, "json": 60}


def heldout(seed):
    docs, cases = [], []
    v = agentgen.Vocab("test")
    import random
    for d in range(HELDOUT_COUNTS["doc_qa"][0]):
        rng = random.Random(f"heldout-doc:{seed}:{d}")
        # preambles spread over the 300-1,500 token range (about 3.3 characters per token)
        doc = agentgen.make_document(rng, v, 1000 + d * 4000 // max(1, HELDOUT_COUNTS["doc_qa"][0] - 1))
        docs.append({"id": d, "system": agentgen.doc_system(rng, doc), "chars": len(doc["text"])})
        seen = set()
        tries = 0
        while len([c for c in cases if c.get("doc") == d]) < HELDOUT_COUNTS["doc_qa"][1] and tries < 200:
            tries += 1
            q, a, qt = agentgen.doc_question(rng, v, doc)
            if q in seen:
                continue
            seen.add(q)
            cases.append({"id": f"doc{d}-{len(seen)}", "kind": "doc_qa", "doc": d, "user": q, "answer": a, "qtype": qt})
    n = 0
    for kind in ("tool_one", "tool_two", "tool_none", "json"):
        for i in range(HELDOUT_COUNTS[kind]):
            ex = agentgen.example("test", seed, n, kind)
            n += 1
            msgs = ex["messages"]
            system = msgs[0]["content"] if msgs[0]["role"] == "system" else None
            user = next(m["content"] for m in msgs if m["role"] == "user")
            case = {"id": f"{kind}{i}", "kind": kind, "system": system, "user": user}
            if ex["tools"]:
                case["tools"] = ex["tools"]
            if kind == "json":
                case["schema"] = ex["expect"]["schema"]
                case["object"] = ex["expect"]["object"]
                case["answer"] = msgs[-1]["content"]
            else:
                case["calls"] = ex["expect"]["calls"]
                case["results"] = [m["content"] for m in msgs if m["role"] == "tool"]
                case["answer"] = msgs[-1]["content"]
            cases.append(case)
    # the rendered prompt (add_generation_prompt) of the first cases of each kind: the C# side checks that its
    # chat client builds the very same text from Microsoft.Extensions.AI messages and tool declarations
    docs_by_id = {d["id"]: d["system"] for d in docs}
    seen_kinds = {}
    for c in cases:
        seen_kinds[c["kind"]] = seen_kinds.get(c["kind"], 0) + 1
        if seen_kinds[c["kind"]] <= 3:
            system = docs_by_id[c["doc"]] if c["kind"] == "doc_qa" else c.get("system")
            msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": c["user"]}]
            c["prompt"] = agentgen.render(msgs, c.get("tools"), add_generation_prompt=True)
    return {"description": "Held-out agent tasks for the embedded default model (tools/agent-corpus/generate.py heldout "
                           f"--seed {seed}); entities, tool objects and verbs, schema fields never seen in training.",
            "seed": seed, "documents": docs, "cases": cases}


def words_of(obj):
    return set(re.findall(r"[A-Za-z]+", json.dumps(obj, ensure_ascii=False)))


def check(n):
    import random
    ok = True

    def fail(msg):
        nonlocal ok
        ok = False
        print("FAIL", msg)

    # determinism
    a = [agentgen.rendered("train", 3, i) for i in range(50)]
    b = [agentgen.rendered("train", 3, i) for i in range(50)]
    if a != b:
        fail("not deterministic")
    # disjoint vocab (the held-out words never appear in a training example)
    held = set()
    for name in ("FIRST_NAMES", "LAST_NAMES", "CITIES", "COMPANIES", "PRODUCT_ADJ", "PRODUCT_NOUN", "CATEGORIES", "ROLES"):
        tr, te = getattr(vocab, name)
        if set(tr) & set(te):
            fail(f"{name} train/test overlap {set(tr) & set(te)}")
        held |= set(te)
    held |= {o[1] for o in vocab.TOOL_OBJECTS[1]} | {o[2] for o in vocab.TOOL_OBJECTS[1]}
    held |= set(agentgen.JSON_PREFIXES[1])
    held_lower = agentgen.held_words()  # + held-out name verbs and the 400 made-up held-out tool-name words
    kinds = {}
    max_chars = 0
    stats = ToolStats()
    for i in range(n):
        ex = agentgen.example("train", 11, i)
        kinds[ex["kind"]] = kinds.get(ex["kind"], 0) + 1
        text = agentgen.render(ex["messages"], ex["tools"])
        max_chars = max(max_chars, len(text))
        toks = set(re.findall(r"[A-Za-z]+", text)) | set(re.findall(r"[a-z_]+", text))
        low = {t.lower() for t in re.findall(r"[A-Z]?[a-z]+", text)} | {t.lower() for t in toks}
        leak = (toks & held) | (low & held_lower)
        if leak:
            fail(f"train example {i} holds held-out words {sorted(leak)[:5]}")
            break
        if ex["kind"] == "doc_qa":
            doc = ex["messages"][0]["content"]
            for qa in ex["expect"]["qa"]:
                bad = uncopied(qa["question"], qa["answer"], qa["qtype"], doc)
                if bad:
                    fail(f"doc_qa {i}: {bad} of {qa['answer']!r} not copied from the document or the question")
        if ex["kind"] in ("tool_one", "tool_two"):
            stats.add(ex["tools"], ex["expect"]["calls"], ex["expect"]["request"], fail, f"train {i}", set(ex["expect"]["made_up"]))
            names = [t["function"]["name"] for t in ex["tools"]]
            if len(set(names)) != len(names):
                fail(f"{i}: duplicate tool names {names}")
            for c in ex["expect"]["calls"]:
                if c["name"] not in names:
                    fail(f"{i}: called {c['name']} not offered")
                t = next(t for t in ex["tools"] if t["function"]["name"] == c["name"])
                props = t["function"]["parameters"]["properties"]
                for k, val in c["arguments"].items():
                    if k not in props:
                        fail(f"{i}: argument {k} not in the schema of {c['name']}")
                    sval = f"{val:g}" if isinstance(val, float) else str(val)
                    if sval not in ex["expect"]["request"]:
                        fail(f"{i}: argument value {sval!r} not in the request {ex['expect']['request']!r}")
                for r in t["function"]["parameters"]["required"]:
                    if r not in c["arguments"]:
                        fail(f"{i}: required {r} missing")
        if ex["kind"] == "json":
            if not valid(ex["expect"]["object"], ex["expect"]["schema"]):
                fail(f"{i}: json object invalid for its schema")
            if json.loads(ex["messages"][-1]["content"]) != ex["expect"]["object"]:
                fail(f"{i}: rendered JSON differs")
    # held-out
    h = heldout(7)
    hstats = ToolStats()
    hdocs = {d["id"]: d["system"] for d in h["documents"]}
    for c in h["cases"]:
        if c["kind"] == "json" and not valid(c["object"], c["schema"]):
            fail(f"heldout {c['id']} invalid")
        if c["kind"] in ("tool_one", "tool_two"):
            hstats.add(c["tools"], c["calls"], c["user"], fail, f"heldout {c['id']}")
        if c["kind"] == "doc_qa":
            bad = uncopied(c["user"], c["answer"], c["qtype"], hdocs[c["doc"]])
            if bad:
                fail(f"heldout {c['id']}: {bad} of {c['answer']!r} not copied")
    for label, st in (("train", stats), ("held-out", hstats)):
        print(f"{label} tool calls: {st.report()}")
        if st.calls and st.all_words_in_request / st.calls > 0.35:
            fail(f"{label}: {st.all_words_in_request}/{st.calls} called names are spelled out by the request")
        if st.calls and not 0.35 < st.made_up / st.calls < 0.65:
            fail(f"{label}: {st.made_up}/{st.calls} called names made up (want about half)")
    train_tools = set()
    for i in range(n):
        ex = agentgen.example("train", 11, i)
        for t in ex["tools"] or []:
            train_tools.add(t["function"]["name"])
    test_tools = {t["function"]["name"] for c in h["cases"] for t in c.get("tools", [])}
    if train_tools & test_tools:
        fail(f"tool names in both splits: {sorted(train_tools & test_tools)[:10]}")
    doc_chars = [d["chars"] for d in h["documents"]]
    print(f"checked {n} train examples: kinds {kinds}; longest rendered {max_chars} chars; "
          f"{len(train_tools)} distinct train tool names, {len(test_tools)} held-out; held-out cases "
          f"{len(h['cases'])}, document chars {min(doc_chars)}-{max(doc_chars)}")
    print("OK" if ok else "FAILED")
    return ok


# words the answer templates add around the copied spans (everything else is copied from the document or the question)
ANSWER_WORDS = {"the", "is", "has", "in", "stock", "out", "of", "no", "yes", "it", "costs", "cost", "role", "works",
                "office", "extension", "department", "worked", "here", "since", "was", "placed", "by", "order", "total",
                "cheaper", "they", "same", "and", "there", "are", "products", "product", "a", "both", "joined",
                "document", "does", "not", "mention", "s"}
COPY_FREE = ("count_cat",)  # answers derived (counted) rather than copied


def uncopied(question, answer, qtype, doc):
    """The answer's words that are neither copied from the document or the question nor template words."""
    if qtype in COPY_FREE:
        return []
    have = {w.lower() for w in re.findall(r"[\w$][\w$.,:'-]*\w|\w", doc + " " + question)}
    have |= {w.lower() for w in re.findall(r"\w+", doc + " " + question)}
    return [t for t in re.findall(r"\$[\d,.]*\d|[\w-]+", answer)
            if t.lower() not in have and t.lower() not in ANSWER_WORDS]


def name_words_of(name):
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


class ToolStats:
    """How the called tools' names relate to the request and to the list they sit in."""

    def __init__(self):
        self.calls = self.all_words_in_request = self.made_up = 0
        self.sizes, self.positions = {}, {}
        # held-out cases: a name is made up when it holds one of the 400 held-out made-up words; training examples
        # say which of their tools are made up (corpus v4 draws those words fresh per conversation: no list to check)
        self.test_words = set(agentgen.name_words("test"))

    def add(self, tools, calls, request, fail, where, made_names=None):
        names = [t["function"]["name"] for t in tools]
        self.sizes[len(tools)] = self.sizes.get(len(tools), 0) + 1
        if not 2 <= len(tools) <= 5 or len(tools) <= len({c["name"] for c in calls}):
            fail(f"{where}: {len(tools)} tools for {len(calls)} calls (want 2-5 with a distractor)")
        req = {w.lower() for w in re.findall(r"[A-Za-z]+", request)}
        for t in tools:
            made = self.is_made(t["function"]["name"], made_names)
            if made and not t["function"].get("description"):
                fail(f"{where}: made-up name {t['function']['name']} without a description")
        for c in calls:
            self.calls += 1
            words = name_words_of(c["name"])
            self.all_words_in_request += all(w in req for w in words)
            self.made_up += self.is_made(c["name"], made_names)
            pos = names.index(c["name"])
            self.positions[pos] = self.positions.get(pos, 0) + 1

    def is_made(self, name, made_names):
        return name in made_names if made_names is not None else bool(set(name_words_of(name)) & self.test_words)

    def report(self):
        c = max(1, self.calls)
        return (f"{self.calls} calls, {self.made_up / c:.0%} made-up names, {self.all_words_in_request / c:.0%} with "
                f"every name word in the request; list sizes {dict(sorted(self.sizes.items()))}, "
                f"positions of the called tool {dict(sorted(self.positions.items()))}")


def valid(obj, schema):
    """The small JSON Schema subset the generator writes: object, required, properties of string / integer /
    number / boolean / enum / array of strings."""
    if not isinstance(obj, dict) or set(obj) != set(schema["properties"]):
        return False
    for k, s in schema["properties"].items():
        v = obj[k]
        t = s["type"]
        if t == "string" and not isinstance(v, str):
            return False
        if t == "integer" and (not isinstance(v, int) or isinstance(v, bool)):
            return False
        if t == "number" and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            return False
        if t == "boolean" and not isinstance(v, bool):
            return False
        if t == "array" and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            return False
        if "enum" in s and v not in s["enum"]:
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["sample", "jsonl", "heldout", "check"])
    ap.add_argument("--split", default="train")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.cmd == "sample":
        for i in range(a.start, a.start + (a.n or 5)):
            print(f"===== {a.split} seed {a.seed or 1} #{i}")
            print(agentgen.rendered(a.split, a.seed or 1, i))
    elif a.cmd == "jsonl":
        with open(a.out, "w", encoding="utf-8") as fh:
            for i in range(a.start, a.start + (a.n or 1000)):
                ex = agentgen.example(a.split, a.seed or 1, i)
                fh.write(json.dumps({"kind": ex["kind"], "text": agentgen.render(ex["messages"], ex["tools"])},
                                    ensure_ascii=False) + "\n")
    elif a.cmd == "heldout":
        h = heldout(a.seed or 7)
        with open(a.out, "w", encoding="utf-8") as fh:
            # one document / case per line: small and diff-friendly
            fh.write("{\"description\": " + json.dumps(h["description"]) + ",\n\"seed\": " + str(h["seed"]) + ",\n\"documents\": [\n")
            fh.write(",\n".join(json.dumps(d, ensure_ascii=False) for d in h["documents"]))
            fh.write("],\n\"cases\": [\n")
            fh.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in h["cases"]))
            fh.write("]}\n")
        print(a.out, len(h["cases"]), "cases,", os.path.getsize(a.out), "bytes")
    else:
        sys.exit(0 if check(a.n or 3000) else 1)


if __name__ == "__main__":
    main()
