#!/usr/bin/env python3
"""Python peer for TemplateBench: Jinja2 configured like transformers (render_py.py), template compiled once,
then a timed render loop. usage: peer_jinja.py <template.jinja> <context.json> <seconds>; prints renders/s."""
import datetime, json, sys, time
import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)

template = env.from_string(open(sys.argv[1], encoding="utf-8").read())
ctx = json.load(open(sys.argv[2], encoding="utf-8"))
seconds = float(sys.argv[3])
for _ in range(200):
    template.render(**ctx)
n, start = 0, time.perf_counter()
while True:
    for _ in range(100):
        template.render(**ctx)
    n += 100
    elapsed = time.perf_counter() - start
    if elapsed >= seconds:
        break
print(f"{n / elapsed:.1f}")
