#!/usr/bin/env python3
"""Template goldens from real Python Jinja2, configured exactly as transformers' apply_chat_template
(the same environment as /work/shared/oracles/render_py.py), with strftime_now pinned to 2024-07-26 12:00.

usage: python3 tools/template-goldens/generate.py [e2e.json]
  writes tests/PagedAttention.Tests/Data/templates/goldens/<template>.json for every sources/<template>.jinja
  x every context in contexts.py; goldens/differential.json for every case of Data/templates/differential-cases.json
  (the templates of tests/PagedAttention.Tests/Templates/*Tests.cs and the parity cases); with e2e.json (the (template, data) cases of huggingface.js
  packages/jinja/test/e2e.test.js, extracted by extract_e2e.js) also writes goldens/e2e.json.
Never hand-edit a golden: change this script or the contexts and regenerate.
"""
import datetime, json, os, sys
import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contexts import CONTEXTS, TEMPLATES  # noqa: E402
from snippets import ERRORS, SNIPPETS, VARS  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(ROOT, "tests", "PagedAttention.Tests", "Data", "templates")
FIXED_NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)


class GenerationTag(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """transformers raises a plain TemplateError; the subclass only lets goldens tell it from other errors."""


def raise_exception(message):
    raise RaisedByTemplate(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now


def render(template, ctx):
    try:
        return {"output": env.from_string(template).render(**ctx)}
    except RaisedByTemplate as e:
        return {"error": "raise_exception", "message": str(e)}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": type(e).__name__, "message": e.message, "line": e.lineno}
    except Exception as e:  # noqa: BLE001 - the golden records what Jinja2 does, whatever it is
        return {"error": type(e).__name__, "message": str(e)}


def differential(vars_):
    """Every case of differential-cases.json through Jinja2: the output, or the error class and message."""
    with open(os.path.join(DATA, "differential-cases.json"), encoding="utf-8") as f:
        spec = json.load(f)
    default_vars = {**vars_, "messages": [{"role": "user", "content": "hi"}]}
    cases = []
    for c in spec["cases"]:
        ctx = c.get("vars", default_vars)
        cases.append({"template": c["template"], **({"vars": c["vars"]} if "vars" in c else {}), **render(c["template"], json.loads(json.dumps(ctx)))})
    with open(os.path.join(DATA, "goldens", "differential.json"), "w", encoding="utf-8") as f:
        json.dump({"vars": default_vars, "cases": cases}, f, ensure_ascii=False, indent=1)
    print("differential", sum("output" in c for c in cases), "renders,", sum("error" in c for c in cases), "errors")


def main():
    out_dir = os.path.join(DATA, "goldens")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(DATA, "contexts.json"), "w", encoding="utf-8") as f:
        json.dump(CONTEXTS, f, ensure_ascii=False, indent=1)
    for name, (bos, eos) in TEMPLATES.items():
        with open(os.path.join(DATA, "sources", name + ".jinja"), encoding="utf-8") as f:
            template = f.read()
        cases = []
        for ctx_name, ctx in CONTEXTS.items():
            full = {"bos_token": bos, "eos_token": eos, **json.loads(json.dumps(ctx))}
            cases.append({"context": ctx_name, **render(template, full)})
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump({"template": name, "bos_token": bos, "eos_token": eos, "cases": cases}, f, ensure_ascii=False, indent=1)
        print(name, sum("output" in c for c in cases), "renders,", sum("error" in c for c in cases), "errors")
    snippets = [{"template": t, **render(t, VARS)} for t in SNIPPETS + ERRORS]
    with open(os.path.join(out_dir, "snippets.json"), "w", encoding="utf-8") as f:
        json.dump({"vars": VARS, "cases": snippets}, f, ensure_ascii=False, indent=1)
    print("snippets", sum("output" in c for c in snippets), "renders,", sum("error" in c for c in snippets), "errors")
    differential(VARS)
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            e2e = json.load(f)
        cases = [{"name": c["name"], "template": c["template"], "data": c["data"], **render(c["template"], c["data"])} for c in e2e]
        with open(os.path.join(out_dir, "e2e.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False, indent=1)
        print("e2e", len(cases), "cases")


if __name__ == "__main__":
    main()
