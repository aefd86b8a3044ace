"""Synthetic agent-task conversations for the embedded default model (issue 19). Python 3 stdlib + Jinja2 only.

Every example is made from its own random.Random(f"{split}:{seed}:{index}"), so the corpus is the same on every
machine and can be made in parallel. split "train" draws entities, tool objects, verbs and schema fields from the
train halves of vocab.py; split "test" from the held-out halves only.

Kinds (each returns {"kind", "messages", "tools", "expect"}):
  doc_qa    a system preamble (catalog / staff directory / order log, 300-1,500 tokens) and 1-4 questions whose
            answers are in it (lookup, comparison, count, yes/no, not-in-document)
  tool_one  tools offered, a request needing one tool -> tool call, tool result -> answer from the result
  tool_two  a request needing two tools -> two calls, two results -> answer
  tool_none tools offered, a request needing none (greeting, document question) -> plain answer
  json      a JSON-output instruction with a schema and a text -> the JSON object
"""
import json
import os
import random
from collections.abc import Sequence

import re

from vocab import (ACTION_VERBS, CATEGORIES, CITIES, COLORS, COMPANIES, CURRENCY_NAMES, DEPARTMENTS, FIRST_NAMES,
                   GENERAL_SYSTEMS, GENERIC_NAME_VERBS, GREETINGS, LAST_NAMES, LIST_DESCRIPTIONS, LIST_NAME_VERBS,
                   LIST_REQUESTS, MONTHS, NAME_SUFFIXES, NOTES, ORDER_STATUS, PRIORITIES, PRODUCT_ADJ, PRODUCT_NOUN,
                   READ_DESCRIPTIONS, READ_NAME_SUFFIXES, READ_NAME_VERBS, READ_REQUESTS, REASONS, RESULT_FIELDS,
                   ROLES, STATUS_WORDS, TIME_NAMES, TITLES, TOOL_OBJECTS, WEATHER_NAMES)

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_PATH = os.path.join(HERE, "chat_template.jinja")
BOS_TOKEN, EOS_TOKEN = "<|bos|>", "<|eos|>"


def _pick(pair, split):
    return pair[0] if split == "train" else pair[1]


class Vocab:
    def __init__(self, split):
        assert split in ("train", "test")
        self.split = split
        g = lambda p: _pick(p, split)  # noqa: E731
        self.first, self.last, self.cities, self.companies = g(FIRST_NAMES), g(LAST_NAMES), g(CITIES), g(COMPANIES)
        self.adj, self.noun, self.cats, self.colors = g(PRODUCT_ADJ), g(PRODUCT_NOUN), g(CATEGORIES), g(COLORS)
        self.roles, self.depts, self.status = g(ROLES), g(DEPARTMENTS), g(ORDER_STATUS)
        self.objects, self.fields, self.status_words = g(TOOL_OBJECTS), g(RESULT_FIELDS), g(STATUS_WORDS)
        self.read_name_verbs, self.read_suffixes, self.action_verbs = g(READ_NAME_VERBS), g(READ_NAME_SUFFIXES), g(ACTION_VERBS)
        self.list_verbs, self.generic_verbs = g(LIST_NAME_VERBS), g(GENERIC_NAME_VERBS)
        self.weather_names, self.currency_names, self.time_names = g(WEATHER_NAMES), g(CURRENCY_NAMES), g(TIME_NAMES)
        self.reasons, self.notes, self.titles, self.priorities = g(REASONS), g(NOTES), g(TITLES), g(PRIORITIES)
        self.name_words = name_words(split)
        self.json_prefixes = None
        if split == "train":
            self._synthesize()

    def _synthesize(self):
        """Training lists = the real words (about 30 % of the draws) + made-up words drawn fresh for every use (corpus
        v4): each list is a seeded virtual list of 16 M entries whose entry j is made by its own Random(salt:j), so
        two conversations almost never share a made-up name, city, company, product word, tool object, tool-name
        word or JSON prefix. The model cannot memorise them (v3 drew them from fixed lists of 300-3,000, and the
        run-4 model learnt those lists: near-zero training loss, unseen words copied imperfectly); it has to copy
        them from the prompt, which is what the held-out split's unseen words need. Never a held-out word."""
        held = held_words()

        def fresh(lo, hi):
            def make(rng):
                while True:
                    w = _fresh_word(rng, lo, hi)
                    # w[1:] too: a capitalised word's lower-case tail is a word to the leak check (a capitalised
                    # training word whose tail is a held-out word fails it). Never write a held-out word in this
                    # file: the held-out made-up words avoid every word of the sources (_source_words)
                    if w not in held and w[1:] not in held and len(w) >= 4:
                        return w
            return make

        cap_ = lambda make: (lambda rng: make(rng).capitalize())  # noqa: E731
        self.first = FreshWords(self.first, "first", cap_(fresh(2, 3)))
        self.last = FreshWords(self.last, "last", cap_(fresh(2, 3)))
        self.cities = FreshWords(self.cities, "city", cap_(fresh(2, 4)))
        self.companies = FreshWords(self.companies, "company", cap_(fresh(2, 3)))
        self.adj = FreshWords(self.adj, "adj", cap_(fresh(2, 3)))
        self.noun = FreshWords(self.noun, "noun", cap_(fresh(2, 3)))
        # tool-name words: half the made-up ones from the held-out words' own generator (so those are in
        # distribution), half from the wider one; the fixed 3,000 of v3 stay among the real share
        word = fresh(2, 3)
        self.name_words = FreshWords(self.name_words, "tool-name", word)

        def obj(rng):
            w = word(rng)
            while True:
                pre = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(rng.randint(2, 4)))
                if pre.lower() not in held:
                    return (w, w, pre)
        self.objects = FreshWords(self.objects, "object", obj)
        self.json_prefixes = FreshWords(JSON_PREFIXES[0], "json-prefix", fresh(2, 2))
        # attribute values the answers and JSON objects copy (run 5 wrote training colours for held-out ones: "teal" ->
        # "black"); categories stay the real ones, so that documents repeat them and count questions mean something
        self.colors = FreshWords(self.colors, "color", fresh(1, 2))
        self.status = FreshWords(self.status, "order-status", fresh(1, 2))
        self.status_words = FreshWords(self.status_words, "status-word", fresh(1, 2))
        self.roles = FreshWords(self.roles, "role", fresh(2, 3))
        self.depts = FreshWords(self.depts, "dept", cap_(fresh(2, 3)))


class FreshWords(Sequence):
    """A seeded virtual word list for rng.choice / rng.sample: `real` repeated over the first `real_share` of it,
    then `n` made-up entries, entry j made by make(Random(f"{salt}:{j}")) - the same on every machine, and a
    draw from 16 M entries is almost always a word no other conversation uses."""

    def __init__(self, real, salt, make, n=1 << 24, real_share=0.3):
        self.real, self.salt, self.make, self.n = list(real), salt, make, n
        self.nreal = int(n * real_share / (1 - real_share)) if self.real else 0

    def __len__(self):
        return self.nreal + self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("FreshWords does not slice")
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < self.nreal:
            return self.real[i % len(self.real)]
        return self.make(random.Random(f"{self.salt}:{i}"))


def _fresh_word(rng, lo, hi):
    """A made-up training word: half from the held-out tool words' generator (_made_word), half from a wider one
    (more onsets, vowels and codas: 'kjaroust', 'tsewinkal') so that copying is learnt over many sub-word splits."""
    if rng.random() < 0.5:
        return _made_word(rng, lo, hi)
    return "".join(rng.choice(_WIDE_ONSETS) + rng.choice(_WIDE_VOWELS) + (rng.choice(_WIDE_CODAS) if rng.random() < 0.45 else "")
                   for _ in range(rng.randint(lo, hi)))


def _made_word(rng, lo=2, hi=3):
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + (rng.choice(_CODAS) if rng.random() < 0.4 else "")
                   for _ in range(rng.randint(lo, hi)))


_HELD = None
_NAME_WORDS = {}


def _source_words():
    """Every word written in this generator's sources (templates, word lists): a made-up held-out word is none of them."""
    words = set()
    for fn in ("agentgen.py", "vocab.py", "chat_template.jinja"):
        with open(os.path.join(HERE, fn), encoding="utf-8") as fh:
            words |= {w.lower() for w in re.findall(r"[A-Za-z]+", fh.read())}
    return words


def name_words(split):
    """Made-up words for tool names (zorvik_lookup): 400 held-out ones, then 3,000 training ones that are none of
    them and no held-out word. Seeded; the same on every machine."""
    if split in _NAME_WORDS:
        return _NAME_WORDS[split]
    if split == "test":
        rng, avoid, out = random.Random("tool-names-test"), _source_words(), []
        while len(out) < 400:
            w = _made_word(rng, 2, 3)
            if len(w) >= 5 and w not in avoid and w not in out:
                out.append(w)
    else:
        held = held_words()
        rng, out, seen = random.Random("tool-names-train"), [], set()
        while len(out) < 3000:
            w = _made_word(rng, 2, 3)
            if len(w) >= 4 and w not in held and w not in seen:
                seen.add(w)
                out.append(w)
    _NAME_WORDS[split] = out
    return out


def held_words():
    """Lower-case words of the held-out split that never occur in a training conversation."""
    global _HELD
    if _HELD is None:
        held = set()
        for pair in (FIRST_NAMES, LAST_NAMES, CITIES, COMPANIES, PRODUCT_ADJ, PRODUCT_NOUN):
            held |= {w.lower() for w in pair[1]}
        held |= {o[1] for o in TOOL_OBJECTS[1]} | {o[0] for o in TOOL_OBJECTS[1]} | {o[2].lower() for o in TOOL_OBJECTS[1]}
        held |= set(READ_NAME_VERBS[1]) | set(READ_NAME_SUFFIXES[1]) | set(LIST_NAME_VERBS[1])
        held |= {st for a in ACTION_VERBS[1] for st in a[0]} | {a[1] for a in ACTION_VERBS[1]}
        held |= {"pilot", "vendor", "tenant", "curator"}
        held |= set(name_words("test"))
        _HELD = held
    return _HELD


_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "dr",
           "fl", "gr", "kl", "pr", "sh", "st", "th", "tr", "v", "qu", "sl"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "ee", "ia"]
_CODAS = ["n", "r", "l", "s", "m", "x", "k", "t", "nd", "rk"]
_WIDE_ONSETS = _ONSETS + ["y", "x", "kj", "ts", "kw", "bl", "gl", "pl", "sk", "sp", "sn", "ph", "wh", "dj", "zh", "vl",
                          "hr", "ng", "", "", "a", "o", "e", "i", "u"]
_WIDE_VOWELS = _VOWELS + ["aa", "ei", "au", "y", "oe", "ui", "io", "ae", "uu", "i", "u"]
_WIDE_CODAS = _CODAS + ["ng", "sk", "lt", "nk", "v", "b", "d", "g", "p", "z", "th", "sh", "ck", "ff", "ll", "ss"]


# ---------------------------------------------------------------- rendering (transformers' apply_chat_template)

_ENV = None


def jinja_env():
    global _ENV
    if _ENV is None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        from jinja2.exceptions import TemplateError

        def raise_exception(message):
            raise TemplateError(message)

        def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        _ENV = env
    return _ENV


def load_template():
    with open(TEMPLATE_PATH, encoding="utf-8") as fh:
        return fh.read()


_COMPILED = None


def render(messages, tools=None, add_generation_prompt=False):
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = jinja_env().from_string(load_template())
    ctx = {"messages": messages, "add_generation_prompt": add_generation_prompt, "bos_token": BOS_TOKEN,
           "eos_token": EOS_TOKEN}
    if tools:
        ctx["tools"] = tools
    return _COMPILED.render(**ctx)


def dumps(x):
    """How the template's tojson (and System.Text.Json-free C# callers comparing text) write JSON."""
    return json.dumps(x, ensure_ascii=False)


# ---------------------------------------------------------------- small helpers

def person(rng, v):
    return f"{rng.choice(v.first)} {rng.choice(v.last)}"


def code(rng, prefix):
    return f"{prefix}-{rng.randint(1000, 9999)}"


def money(rng, lo=3, hi=400):
    return round(rng.uniform(lo, hi) * 4) / 4 if rng.random() < 0.5 else float(rng.randint(lo, hi)) + 0.99


def fmt_money(x):
    return f"${x:,.2f}"


def date_text(rng):
    y, m, d = rng.randint(2023, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return f"{MONTHS[m - 1]} {d}, {y}" if rng.random() < 0.5 else f"{y}-{m:02d}-{d:02d}"


def style_name(parts, style):
    if style == "snake":
        return "_".join(parts)
    words = "_".join(parts).split("_")
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "".join(w.capitalize() for w in words)


def cap(s):
    return s[0].upper() + s[1:] if s else s


# ---------------------------------------------------------------- documents (shared preambles)

def make_products(rng, v, n):
    n = min(n, len(v.adj) * len(v.noun) // 2)
    names, seen = [], set()
    while len(names) < n:
        nm = f"{rng.choice(v.adj)} {rng.choice(v.noun)}"
        if nm not in seen:
            seen.add(nm)
            names.append(nm)
    prods = []
    for nm in names:
        stock = 0 if rng.random() < 0.2 else rng.randint(1, 120)
        prods.append({"name": nm, "price": money(rng), "stock": stock, "category": rng.choice(v.cats),
                      "color": rng.choice(v.colors)})
    return prods


def make_employees(rng, v, n):
    names, seen = [], set()
    while len(names) < n:
        nm = person(rng, v)
        if nm not in seen:
            seen.add(nm)
            names.append(nm)
    return [{"name": nm, "role": rng.choice(v.roles), "department": rng.choice(v.depts),
             "office": rng.choice(v.cities), "extension": rng.randint(1000, 9999), "since": rng.randint(1995, 2025)}
            for nm in names]


def make_orders(rng, v, n):
    ids, seen = [], set()
    while len(ids) < n:
        i = f"A{rng.randint(10000, 99999)}"
        if i not in seen:
            seen.add(i)
            ids.append(i)
    return [{"id": i, "customer": person(rng, v), "date": date_text(rng), "total": money(rng, 10, 900),
             "status": rng.choice(v.status)} for i in ids]


def product_line(p):
    stock = "out of stock" if p["stock"] == 0 else f"{p['stock']} in stock"
    return f"- {p['name']}: {fmt_money(p['price'])}, {stock}, category {p['category']}, color {p['color']}."


def employee_line(e):
    return (f"- {e['name']}: {e['role']}, {e['department']} department, {e['office']} office, "
            f"extension {e['extension']}, since {e['since']}.")


def order_line(o):
    return f"- Order {o['id']}: {o['customer']}, placed {o['date']}, total {fmt_money(o['total'])}, {o['status']}."


def make_document(rng, v, target_chars=None):
    """A preamble document and the facts it states. target_chars ~ 3.3 x the target token count."""
    if target_chars is None:
        target_chars = rng.randint(1000, 5000)
    company = rng.choice(v.companies)
    kind = rng.choice(["catalog", "directory", "orders", "mixed"])
    policy = {"return_days": rng.choice([14, 30, 45, 60, 90]), "shipping_fee": rng.choice([0.0, 4.99, 5.0, 7.5, 9.99]),
              "warranty_years": rng.randint(1, 5), "open": rng.choice(["8am", "9am", "10am"]),
              "close": rng.choice(["5pm", "6pm", "8pm"])}
    head = f"# {company} {'product catalog' if kind == 'catalog' else 'staff directory' if kind == 'directory' else 'order log' if kind == 'orders' else 'handbook'}"
    pol = (f"Returns are accepted within {policy['return_days']} days of delivery. "
           f"Shipping costs {fmt_money(policy['shipping_fee'])} per order. "
           f"Every product has a {policy['warranty_years']}-year warranty. "
           f"Support is open from {policy['open']} to {policy['close']}, Monday to Friday.")
    doc = {"company": company, "kind": kind, "policy": policy, "products": [], "employees": [], "orders": []}
    sections = {"catalog": ["products"], "directory": ["employees"], "orders": ["orders"],
                "mixed": ["products", "employees", "orders"]}[kind]
    per_line = {"products": 70, "employees": 95, "orders": 75}
    budget = max(300, target_chars - len(head) - len(pol) - 40)
    share = budget // len(sections)
    for s in sections:
        n = max(3, min(60, share // per_line[s]))
        if s == "products":
            doc["products"] = make_products(rng, v, n)
        elif s == "employees":
            doc["employees"] = make_employees(rng, v, n)
        else:
            doc["orders"] = make_orders(rng, v, n)
    parts = [head, "", pol]
    if doc["products"]:
        parts += ["", "## Products"] + [product_line(p) for p in doc["products"]]
    if doc["employees"]:
        parts += ["", "## Staff"] + [employee_line(e) for e in doc["employees"]]
    if doc["orders"]:
        parts += ["", "## Orders"] + [order_line(o) for o in doc["orders"]]
    doc["text"] = "\n".join(parts)
    return doc


DOC_INTROS = [
    "You are the assistant of {company}. Answer the user's questions from the document below.",
    "Answer questions using only this document.",
    "You help customers of {company}. Use the document below to answer.",
    "Use the following {company} document to answer questions. Keep answers short.",
]


def doc_system(rng, doc):
    return rng.choice(DOC_INTROS).format(company=doc["company"]) + "\n\n" + doc["text"]


def doc_question(rng, v, doc):
    """(question, answer, qtype) with the answer stated in / derived from the document."""
    opts = ["policy"]
    if doc["products"]:
        opts += ["price", "price", "stock", "instock", "category", "color", "cheaper", "count_cat", "missing_product"]
    if doc["employees"]:
        opts += ["role", "office", "office", "extension", "dept", "since", "earlier", "who_role", "missing_person"]
    if doc["orders"]:
        opts += ["order_status", "order_status", "order_date", "order_total", "order_customer", "missing_order"]
    q = rng.choice(opts)
    P, E, O = doc["products"], doc["employees"], doc["orders"]
    pol = doc["policy"]
    if q == "policy":
        k = rng.randrange(4)
        if k == 0:
            return rng.choice(["How many days do I have to return an item?", "What is the return window?"]), \
                f"Returns are accepted within {pol['return_days']} days of delivery.", q
        if k == 1:
            return rng.choice(["How much does shipping cost?", "What is the shipping fee?"]), \
                f"Shipping costs {fmt_money(pol['shipping_fee'])} per order.", q
        if k == 2:
            return "How long is the warranty?", f"Every product has a {pol['warranty_years']}-year warranty.", q
        return rng.choice(["When is support open?", "What are the support hours?"]), \
            f"Support is open from {pol['open']} to {pol['close']}, Monday to Friday.", q
    if q == "price":
        p = rng.choice(P)
        return rng.choice(["How much does the {n} cost?", "What is the price of the {n}?", "What does the {n} cost?"]
                          ).format(n=p["name"]), f"The {p['name']} costs {fmt_money(p['price'])}.", q
    if q == "stock":
        p = rng.choice(P)
        a = f"The {p['name']} is out of stock." if p["stock"] == 0 else f"The {p['name']} has {p['stock']} in stock."
        return rng.choice(["How many {n} units are in stock?", "What is the stock of the {n}?"]).format(n=p["name"]), a, q
    if q == "instock":
        p = rng.choice(P)
        a = f"No, the {p['name']} is out of stock." if p["stock"] == 0 else f"Yes, the {p['name']} has {p['stock']} in stock."
        return rng.choice(["Is the {n} in stock?", "Do you have the {n} in stock?"]).format(n=p["name"]), a, q
    if q == "category":
        p = rng.choice(P)
        return f"Which category is the {p['name']} in?", f"The {p['name']} is in {p['category']}.", q
    if q == "color":
        p = rng.choice(P)
        return f"What color is the {p['name']}?", f"The {p['name']} is {p['color']}.", q
    if q == "cheaper":
        a, b = rng.sample(P, 2)
        if a["price"] == b["price"]:
            return f"Is the {a['name']} cheaper than the {b['name']}?", "No, they cost the same.", q
        if rng.random() < 0.5:
            c = a if a["price"] < b["price"] else b
            return (f"Which is cheaper, the {a['name']} or the {b['name']}?",
                    f"The {c['name']} is cheaper ({fmt_money(c['price'])}).", q)
        yes = a["price"] < b["price"]
        return (f"Is the {a['name']} cheaper than the {b['name']}?",
                f"{'Yes' if yes else 'No'}, it costs {fmt_money(a['price'])} and the {b['name']} costs {fmt_money(b['price'])}.", q)
    if q == "count_cat":
        cat = rng.choice([p["category"] for p in P] + [rng.choice(v.cats)])
        k = sum(p["category"] == cat for p in P)
        return f"How many products are in the {cat} category?", \
            (f"There are {k} products in {cat}." if k != 1 else f"There is 1 product in {cat}.") if k else f"There are no products in {cat}.", q
    if q == "missing_product":
        names = {p["name"] for p in P}
        for _ in range(20):
            nm = f"{rng.choice(v.adj)} {rng.choice(v.noun)}"
            if nm not in names:
                return f"How much does the {nm} cost?", f"The document does not mention the {nm}.", q
        return doc_question(rng, v, doc)
    if q in ("role", "office", "extension", "dept", "since"):
        e = rng.choice(E)
        n = e["name"]
        if q == "role":
            return rng.choice(["What is {n}'s role?", "What does {n} do?"]).format(n=n), f"{n}'s role is {e['role']}.", q
        if q == "office":
            return rng.choice(["Where does {n} work?", "Which office is {n} in?"]).format(n=n), \
                f"{n} works in the {e['office']} office.", q
        if q == "extension":
            return f"What is {n}'s extension?", f"{n}'s extension is {e['extension']}.", q
        if q == "dept":
            return f"Which department is {n} in?", f"{n} is in the {e['department']} department.", q
        return f"Since when has {n} worked here?", f"{n} has worked here since {e['since']}.", q
    if q == "earlier":
        a, b = rng.sample(E, 2)
        if a["since"] == b["since"]:
            return f"Who joined first, {a['name']} or {b['name']}?", f"Both joined in {a['since']}.", q
        c = a if a["since"] < b["since"] else b
        return f"Who joined first, {a['name']} or {b['name']}?", f"{c['name']}, in {c['since']}.", q
    if q == "who_role":
        roles = {}
        for e in E:
            roles.setdefault(e["role"], []).append(e["name"])
        uniq = [r for r, ns in roles.items() if len(ns) == 1]
        if not uniq:
            return doc_question(rng, v, doc)
        r = rng.choice(uniq)
        return f"Who is the {r}?", f"{roles[r][0]} is the {r}.", q
    if q == "missing_person":
        names = {e["name"] for e in E}
        for _ in range(20):
            nm = person(rng, v)
            if nm not in names:
                return f"Where does {nm} work?", f"The document does not mention {nm}.", q
        return doc_question(rng, v, doc)
    if q.startswith("order_"):
        o = rng.choice(O)
        if q == "order_status":
            return rng.choice(["What is the status of order {i}?", "Has order {i} shipped?"]).format(i=o["id"]), \
                f"Order {o['id']} is {o['status']}.", q
        if q == "order_date":
            return f"When was order {o['id']} placed?", f"Order {o['id']} was placed {o['date']}.", q
        if q == "order_total":
            return f"What is the total of order {o['id']}?", f"Order {o['id']}: total {fmt_money(o['total'])}.", q
        return f"Who placed order {o['id']}?", f"Order {o['id']} was placed by {o['customer']}.", q
    if q == "missing_order":
        ids = {o["id"] for o in O}
        for _ in range(20):
            i = f"A{rng.randint(10000, 99999)}"
            if i not in ids:
                return f"What is the status of order {i}?", f"The document does not mention order {i}.", q
    return doc_question(rng, v, doc)


# ---------------------------------------------------------------- tools

def _prop(rng, typ, desc, extra=None):
    p = {}
    order = rng.random() < 0.5
    if desc and order:
        p["description"] = desc
    p["type"] = typ
    if desc and not order:
        p["description"] = desc
    if extra:
        p.update(extra)
    return p


def _schema(rng, props, required):
    s = {"type": "object", "properties": props, "required": required}
    if rng.random() < 0.2:
        s["additionalProperties"] = False
    return s


def _tool_json(name, description, params):
    fn = {"name": name}
    if description:
        fn["description"] = description
    fn["parameters"] = params
    return {"type": "function", "function": fn}


class ToolSpec:
    """One generated tool: its JSON schema and how to make a request, its arguments, a result and an answer."""

    def __init__(self, json_, kind, obj, make_call, made_up=False):
        self.json, self.kind, self.obj = json_, kind, obj
        self.name = json_["function"]["name"]
        self.made_up = made_up  # the name is (partly) made-up words: only the description says what it does
        self.base = None  # the tool object (noun phrase, snake name, id prefix) of read / action / list tools
        self.make_call = make_call  # rng -> (request sentence, arguments dict, result string, answer sentence)


def tool_name(rng, v, realistic, style):
    """(name, made_up). Half the names are realistic (from `realistic`, lists of words whose verb is drawn apart from
    the request's phrasing, so the request rarely holds all of them); half hold a made-up word (zorvik_lookup,
    get_zorvik, zorvik_brakel): the tool list is the only place the name can come from."""
    if rng.random() < 0.5:
        return style_name(rng.choice(realistic), style), False
    w = rng.choice(v.name_words)
    form = rng.randrange(4)
    parts = [[w], [w, rng.choice(v.name_words)], [w, rng.choice(NAME_SUFFIXES)], [rng.choice(v.generic_verbs), w]][form]
    return style_name(parts, style), True


def _desc(rng, options, made_up, **kw):
    """The description carries the semantics: always there for a made-up name, 85 % of the time otherwise."""
    if not made_up and rng.random() < 0.15:
        return None
    return re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", rng.choice(options).format(**kw))


def _id_param(rng, snake, style):
    cs = "snake" if style == "snake" else "camel"
    return rng.choice([style_name([snake, "id"], cs), style_name([snake, "id"], cs), "id", "ref", "identifier",
                       style_name([snake, "ref"], cs), "key"])


def make_read_tool(rng, v, obj, style):
    phrase, snake, prefix = obj
    verb = rng.choice(v.read_name_verbs)
    name, made = tool_name(rng, v, [[verb, snake], [verb, snake], [snake, rng.choice(v.read_suffixes)]], style)
    pid = _id_param(rng, snake, style)
    desc = _desc(rng, READ_DESCRIPTIONS, made, p=phrase)
    props = {pid: _prop(rng, "string", rng.choice([f"The {phrase} id", f"Id of the {phrase}, like {prefix}-1234", None]))}
    fields = rng.sample(v.fields, rng.randint(1, 3))
    schema = _schema(rng, props, [pid])

    def call(r):
        i = code(r, prefix)
        req = r.choice(READ_REQUESTS).format(obj=phrase, id=i)
        res = {}
        for f in fields:
            if f in ("status", "stage", "priority"):
                res[f] = r.choice(v.status_words)
            elif f in ("owner", "name"):
                res[f] = person(r, v)
            elif f in ("city", "location"):
                res[f] = r.choice(v.cities)
            elif f == "date":
                res[f] = date_text(r)
            elif f in ("price", "total", "balance", "amount"):
                res[f] = money(r)
            elif f == "color":
                res[f] = r.choice(v.colors)
            else:
                res[f] = r.randint(1, 500)
        res_text = json.dumps(res, separators=(",", ":")) if r.random() < 0.6 else dumps(res)
        parts = []
        for k, val in res.items():
            if isinstance(val, float) and k in ("price", "total", "balance", "amount"):
                val = fmt_money(val)
            parts.append(f"{k.replace('_', ' ')} {val}")
        ans = f"{cap(phrase)} {i}: " + ", ".join(parts) + "."
        return req, {pid: i}, res_text, ans

    return ToolSpec(_tool_json(name, desc, schema), "read", phrase, call, made)


def make_action_tool(rng, v, obj, style, action=None):
    phrase, snake, prefix = obj
    stems, participle, templates, argnames, descs = action or rng.choice(v.action_verbs)
    name, made = tool_name(rng, v, [[rng.choice(stems), snake], [snake, rng.choice(stems)]], style)
    cs = "snake" if style == "snake" else "camel"
    argname = rng.choice(argnames)
    pid, parg = _id_param(rng, snake, style), style_name(argname.split("_"), cs)
    if parg == pid:
        parg = style_name(argnames[0].split("_"), cs)
    desc = _desc(rng, descs, made, p=phrase)
    extra = {"enum": list(v.priorities)} if "{priority}" in templates[0] else None
    props = {pid: _prop(rng, "string", rng.choice([f"The {phrase} id", None])),
             parg: _prop(rng, "string", rng.choice([argname.replace("_", " ").capitalize(), None]), extra)}
    schema = _schema(rng, props, [pid, parg])

    def call(r):
        i = code(r, prefix)
        vals = {"reason": r.choice(v.reasons), "note": r.choice(v.notes), "person": person(r, v),
                "city": r.choice(v.cities), "title": r.choice(v.titles), "date": date_text(r),
                "priority": r.choice(v.priorities)}
        template = r.choice(templates)
        req = template.format(obj=phrase, id=i, **vals)
        key = next(k for k in vals if "{" + k + "}" in template)
        res_text = r.choice([dumps({"ok": True}), json.dumps({"ok": True, "id": i}, separators=(",", ":")), "done",
                             f"{cap(phrase)} {i} {participle}."])
        ans = f"Done: {phrase} {i} is {participle}."
        return req, {pid: i, parg: vals[key]}, res_text, ans

    return ToolSpec(_tool_json(name, desc, schema), "action:" + participle, phrase, call, made)


def make_list_tool(rng, v, obj, style):
    phrase, snake, prefix = obj
    plural = phrase + ("es" if phrase.endswith(("s", "x", "ch")) else "s")
    stem = rng.choice(v.list_verbs)
    name, made = tool_name(rng, v, [[stem, snake + "s"], [snake + "s", stem]], style)
    cs = "snake" if style == "snake" else "camel"
    pcity = rng.choice(["city", "location", "near", "place"])
    plim = style_name(rng.choice(["limit", "max_results", "count", "top_n"]).split("_"), cs)
    desc = _desc(rng, LIST_DESCRIPTIONS, made, plural=plural)
    props = {pcity: _prop(rng, "string", rng.choice(["City name", None])),
             plim: _prop(rng, "integer", rng.choice(["How many results to return", None]))}
    schema = _schema(rng, props, [pcity, plim])

    def call(r):
        c, n = r.choice(v.cities), r.randint(1, 9)
        req = r.choice(LIST_REQUESTS).format(n=n, plural=plural, c=c)
        k = r.randint(0, n)
        ids = [code(r, prefix) for _ in range(k)]
        res_text = json.dumps(ids, separators=(",", ":")) if r.random() < 0.5 else dumps({"results": ids})
        ans = f"Found {k} {plural} in {c}: " + ", ".join(ids) + "." if k else f"No {plural} found in {c}."
        return req, {pcity: c, plim: n}, res_text, ans

    return ToolSpec(_tool_json(name, desc, schema), "list", phrase, call, made)


def make_weather_tool(rng, v, style):
    name, made = tool_name(rng, v, v.weather_names, style)
    city_key = rng.choice(["city", "city", "location", "place"])
    unit_key = rng.choice(["unit", "units", "scale"])
    props = {city_key: _prop(rng, "string", rng.choice(["The city", "City name", None])),
             unit_key: _prop(rng, "string", None, {"enum": ["celsius", "fahrenheit"]})}
    schema = _schema(rng, props, [city_key])
    desc = _desc(rng, ["Get the current weather for a city.", "Current weather for a city.", "Current weather in a city."], made)

    def call(r):
        c = r.choice(v.cities)
        args = {city_key: c}
        if r.random() < 0.4:
            u = r.choice(["celsius", "fahrenheit"])
            args[unit_key] = u
            req = r.choice([f"What's the weather in {c} in {u}?", f"Weather for {c}, in {u} please."])
        else:
            u = "celsius"
            req = r.choice([f"What's the weather in {c}?", f"How is the weather in {c} today?", f"Is it raining in {c}?"])
        t = r.randint(-10, 40) if u == "celsius" else r.randint(14, 104)
        sky = r.choice(["sunny", "cloudy", "rainy", "windy", "snowy", "clear"])
        res_text = json.dumps({"temperature": t, "sky": sky}, separators=(",", ":"))
        ans = f"It is {t} degrees {'Celsius' if u == 'celsius' else 'Fahrenheit'} and {sky} in {c}."
        return req, args, res_text, ans

    return ToolSpec(_tool_json(name, desc, schema), "weather", "weather", call, made)


def make_currency_tool(rng, v, style):
    name, made = tool_name(rng, v, v.currency_names, style)
    keys = rng.choice([("amount", "from", "to"), ("amount", "from_currency", "to_currency"), ("value", "source", "target")])
    props = {keys[0]: _prop(rng, "number", None), keys[1]: _prop(rng, "string", "ISO code, like USD"),
             keys[2]: _prop(rng, "string", "ISO code, like EUR")}
    schema = _schema(rng, props, list(keys))
    desc = _desc(rng, ["Convert an amount between currencies.", "Converts money from one currency to another."], made)
    curr = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK"]

    def call(r):
        a, b = r.sample(curr, 2)
        amt = float(r.randint(1, 2000)) if r.random() < 0.7 else round(r.uniform(1, 500), 2)
        amt_s = f"{amt:g}" if amt == int(amt) else f"{amt:.2f}"
        req = r.choice([f"Convert {amt_s} {a} to {b}.", f"How much is {amt_s} {a} in {b}?"])
        out = round(amt * r.uniform(0.5, 1.6), 2)
        res_text = json.dumps({"result": out}, separators=(",", ":"))
        return req, {keys[0]: amt, keys[1]: a, keys[2]: b}, res_text, f"{amt_s} {a} is {out:.2f} {b}."

    return ToolSpec(_tool_json(name, desc, schema), "currency", "currency", call, made)


def make_time_tool(rng, v, style):
    name, made = tool_name(rng, v, v.time_names, style)
    key = rng.choice(["city", "location", "timezone", "place"])
    props = {key: _prop(rng, "string", rng.choice(["A city", None]))}
    schema = _schema(rng, props, [key])
    desc = _desc(rng, ["Get the local time in a city.", "Current local time in a city."], made)

    def call(r):
        c = r.choice(v.cities)
        req = r.choice([f"What time is it in {c}?", f"Tell me the local time in {c}."])
        hh, mm = r.randint(0, 23), r.choice([0, 5, 15, 20, 30, 45, 50])
        res_text = f"{hh:02d}:{mm:02d}"
        return req, {key: c}, res_text, f"It is {hh:02d}:{mm:02d} in {c}."

    return ToolSpec(_tool_json(name, desc, schema), "time", "time", call, made)


TOOL_KINDS = ["read", "read", "action", "list", "weather", "currency", "time"]


def random_tool(rng, v, obj=None, kind=None, action=None):
    style = rng.choices(["snake", "camel", "pascal"], [0.6, 0.2, 0.2])[0]
    if kind is None:
        kind = rng.choice(TOOL_KINDS)
    if kind == "weather":
        return make_weather_tool(rng, v, style)
    if kind == "currency":
        return make_currency_tool(rng, v, style)
    if kind == "time":
        return make_time_tool(rng, v, style)
    obj = obj or rng.choice(v.objects)
    if kind == "action":
        spec = make_action_tool(rng, v, obj, style, action)
    else:
        spec = {"read": make_read_tool, "list": make_list_tool}[kind](rng, v, obj, style)
    # the object tuple, for near-miss distractors (the training objects are a virtual list, not searched); list tools
    # name theirs in the plural and get none, as when v3 looked the phrase up in the list
    spec.base = obj if spec.obj == obj[0] else None
    return spec


def _distractor(rng, v, needed):
    """A tool that must not be picked: mostly a near miss of a needed one (the same object with another capability,
    the same capability on another object, the same action on another object), else any tool."""
    if needed:
        n = rng.choice(needed)
        r = rng.random()
        if n.kind in ("weather", "currency", "time") or r < 0.25:
            return random_tool(rng, v)
        base = getattr(n, "base", None)
        if r < 0.6 and base is not None:  # same object, another capability
            return random_tool(rng, v, obj=base, kind=rng.choice(["read", "action", "list"]))
        kind = n.kind.split(":")[0]
        if kind == "action":  # the same action (or another) on another object
            action = next((a for a in v.action_verbs if "action:" + a[1] == n.kind), None) if rng.random() < 0.6 else None
            return random_tool(rng, v, kind="action", action=action)
        return random_tool(rng, v, kind=kind)
    return random_tool(rng, v)


def tool_set(rng, v, needed, lo=2, hi=5):
    """The needed tools plus distractors: lo-hi tools in all, at least one distractor when a tool is needed, the
    needed ones at random positions, unique names, one tool per (kind, object) so a request never fits two."""
    tools = list(needed)
    names = {t.name for t in tools}
    total = rng.randint(max(lo, len(tools) + (1 if needed else 0)), max(hi, len(tools) + 1))
    tries = 0
    while len(tools) < total and tries < 40:
        tries += 1
        t = _distractor(rng, v, needed)
        if t.name in names or any((t.kind, t.obj) == (u.kind, u.obj) for u in tools):
            continue
        names.add(t.name)
        tools.append(t)
    rng.shuffle(tools)
    return tools


def _call_msg(calls):
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": f"call{i}", "type": "function", "function": {"name": n, "arguments": a}} for i, (n, a) in enumerate(calls)]}


def _system_for_tools(rng, doc=None):
    if doc is not None:
        return doc_system(rng, doc)
    return rng.choice(GENERAL_SYSTEMS)


def gen_tool_one(rng, v):
    need = random_tool(rng, v)
    tools = tool_set(rng, v, [need])
    req, args, res, ans = need.make_call(rng)
    msgs = []
    s = _system_for_tools(rng, make_document(rng, v, rng.randint(800, 2500)) if rng.random() < 0.15 else None)
    if s:
        msgs.append({"role": "system", "content": s})
    msgs.append({"role": "user", "content": req})
    msgs.append(_call_msg([(need.name, args)]))
    msgs.append({"role": "tool", "tool_call_id": "call0", "name": need.name, "content": res})
    msgs.append({"role": "assistant", "content": ans})
    return {"kind": "tool_one", "messages": msgs, "tools": [t.json for t in tools],
            "expect": {"calls": [{"name": need.name, "arguments": args}], "request": req, "result": res, "answer": ans,
                       "made_up": [t.name for t in tools if t.made_up]}}


def gen_tool_two(rng, v):
    a = random_tool(rng, v)
    b = a  # the same tool twice, unless another one fits
    if rng.random() >= 0.3:
        for _ in range(10):
            c = random_tool(rng, v)
            if (c.kind, c.obj) != (a.kind, a.obj) and c.name != a.name:
                b = c
                break
    tools = tool_set(rng, v, [a] if b is a else [a, b])
    ra, aa, sa, na = a.make_call(rng)
    rb, ab, sb, nb = b.make_call(rng)
    if b is a and ab == aa:
        return gen_tool_one(rng, v)
    joiner = rng.choice([" Also, ", " Then ", " And ", " "])
    rb2 = rb[0].lower() + rb[1:] if joiner.strip() in ("Then", "And") else rb
    req = ra + joiner + rb2
    msgs = []
    s = _system_for_tools(rng)
    if s:
        msgs.append({"role": "system", "content": s})
    msgs += [{"role": "user", "content": req}, _call_msg([(a.name, aa), (b.name, ab)]),
             {"role": "tool", "tool_call_id": "call0", "name": a.name, "content": sa},
             {"role": "tool", "tool_call_id": "call1", "name": b.name, "content": sb},
             {"role": "assistant", "content": na + " " + nb}]
    return {"kind": "tool_two", "messages": msgs, "tools": [t.json for t in tools],
            "expect": {"calls": [{"name": a.name, "arguments": aa}, {"name": b.name, "arguments": ab}],
                       "request": req, "answer": na + " " + nb, "made_up": [t.name for t in tools if t.made_up]}}


NO_TOOL_ANSWERS = ["I have no tool for that, so I cannot do it.", "I cannot do that: no tool for it is available.",
                   "I have no tools, so I cannot do that."]


def gen_no_tools(rng, v):
    """A request that would need a tool, with no tools offered (no "# Tools" in the system turn) -> a plain answer.
    The run-4 model called tools in the agents sample's workflow, whose agents have none: without a tool list, never
    a call. Training split only (the held-out file is unchanged)."""
    req = random_tool(rng, v).make_call(rng)[0]
    msgs = []
    if rng.random() < 0.4:
        msgs.append({"role": "system", "content": doc_system(rng, make_document(rng, v, rng.randint(800, 2500)))})
    elif (s := rng.choice(GENERAL_SYSTEMS)) is not None:
        msgs.append({"role": "system", "content": s})
    a = rng.choice(NO_TOOL_ANSWERS)
    msgs += [{"role": "user", "content": req}, {"role": "assistant", "content": a}]
    return {"kind": "tool_none", "messages": msgs, "tools": None, "expect": {"calls": [], "answer": a, "qtype": "no_tools"}}


def gen_tool_none(rng, v):
    if v.split == "train" and rng.random() < 0.3:  # short-circuits for the held-out split: its draws are unchanged
        return gen_no_tools(rng, v)
    tools = tool_set(rng, v, [], lo=1)
    if not tools:
        tools = [random_tool(rng, v)]
    msgs = []
    if rng.random() < 0.5:
        doc = make_document(rng, v, rng.randint(1000, 4000))
        msgs.append({"role": "system", "content": doc_system(rng, doc)})
        q, a, qt = doc_question(rng, v, doc)
    else:
        s = _system_for_tools(rng)
        if s:
            msgs.append({"role": "system", "content": s})
        if rng.random() < 0.3:
            t = rng.choice(tools)
            q = rng.choice(["Which tools can you use?", "What tools do you have?"])
            a = "I can use: " + ", ".join(x.name for x in tools) + "."
            qt = "tool_list"
        else:
            q, a = rng.choice(GREETINGS)
            qt = "greeting"
    msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return {"kind": "tool_none", "messages": msgs, "tools": [t.json for t in tools],
            "expect": {"calls": [], "answer": a, "qtype": qt}}


def gen_doc_qa(rng, v, target_chars=None):
    doc = make_document(rng, v, target_chars)
    msgs = [{"role": "system", "content": doc_system(rng, doc)}]
    qa = []
    for _ in range(rng.randint(1, 4)):
        q, a, qt = doc_question(rng, v, doc)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        qa.append({"question": q, "answer": a, "qtype": qt})
    return {"kind": "doc_qa", "messages": msgs, "tools": None, "expect": {"qa": qa}}


# ---------------------------------------------------------------- JSON output

JSON_PREFIXES = (["customer", "order", "guest", "driver", "home", "work", "billing", "owner", "team", "event"],
                 ["pilot", "vendor", "tenant", "curator"])
JSON_BASES = [("name", "string", "person"), ("city", "string", "city"), ("age", "integer", "age"),
              ("count", "integer", "count"), ("price", "number", "price"), ("active", "boolean", "bool"),
              ("email", "string", "email"), ("code", "string", "code"), ("level", "string", "enum"),
              ("tags", "array", "tags")]


def gen_json(rng, v):
    prefixes = v.json_prefixes or _pick(JSON_PREFIXES, v.split)
    n = rng.randint(2, 5)
    chosen, keys = [], set()
    while len(chosen) < n:
        p, (b, typ, gen) = rng.choice(prefixes), rng.choice(JSON_BASES)
        key = f"{p}_{b}" if rng.random() < 0.7 else b
        if key in keys:
            continue
        keys.add(key)
        chosen.append((key, typ, gen))
    props, obj, facts = {}, {}, []
    for key, typ, gen in chosen:
        label = key.replace("_", " ")
        if gen == "person":
            val = person(rng, v)
        elif gen == "city":
            val = rng.choice(v.cities)
        elif gen == "age":
            val = rng.randint(18, 90)
        elif gen == "count":
            val = rng.randint(0, 50)
        elif gen == "price":
            val = money(rng)
        elif gen == "bool":
            val = rng.random() < 0.5
        elif gen == "email":
            val = f"{rng.choice(v.first).lower()}.{rng.choice(v.last).lower()}@example.com"
        elif gen == "code":
            val = code(rng, rng.choice(v.objects)[2])
        elif gen == "enum":
            val = rng.choice(v.priorities)
        else:
            val = rng.sample(v.colors, rng.randint(1, 3))
        spec = {"type": typ}
        if gen == "enum":
            spec["enum"] = list(v.priorities)
        if typ == "array":
            spec["items"] = {"type": "string"}
        props[key] = spec
        obj[key] = val
        if typ == "boolean":
            fv = "yes" if val else "no"
        elif typ == "array":
            fv = ", ".join(val)
        elif typ == "number":
            fv = f"{val:g}" if val == int(val) else f"{val:.2f}"
        else:
            fv = str(val)
        facts.append(f"The {label} is {fv}.")
    for k in props:  # numbers as the text states them (two decimals at most)
        if props[k]["type"] == "number":
            obj[k] = float(f"{obj[k]:.2f}")
    schema = {"type": "object", "properties": props, "required": list(props)}
    rng.shuffle(facts)
    sys_msg = rng.choice(["Reply with a JSON object that matches this schema:\n{s}",
                          "Answer only with JSON matching this schema:\n{s}",
                          "Extract the fields as JSON. Schema:\n{s}"]).format(s=dumps(schema))
    user = rng.choice(["", "Extract: ", "Text: "]) + " ".join(facts)
    out = dumps(obj)
    msgs = [{"role": "system", "content": sys_msg}, {"role": "user", "content": user},
            {"role": "assistant", "content": out}]
    return {"kind": "json", "messages": msgs, "tools": None, "expect": {"schema": schema, "object": obj}}


# ---------------------------------------------------------------- mixing

KINDS = {"doc_qa": gen_doc_qa, "tool_one": gen_tool_one, "tool_two": gen_tool_two, "tool_none": gen_tool_none,
         "json": gen_json}
MIX = [("doc_qa", 0.32), ("tool_one", 0.28), ("tool_two", 0.14), ("tool_none", 0.12), ("json", 0.14)]
_VOCABS = {}


def example(split, seed, index, kind=None):
    v = _VOCABS.get(split) or _VOCABS.setdefault(split, Vocab(split))
    rng = random.Random(f"{split}:{seed}:{index}")
    if kind is None:
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
    return KINDS[kind](rng, v)


def rendered(split, seed, index):
    ex = example(split, seed, index)
    return render(ex["messages"], ex["tools"])
