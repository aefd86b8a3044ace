#!/usr/bin/env python3
"""Draws the GPU benchmark plots (SVG, no dependencies) from the committed result files.

usage: python3 tools/plots/make_plots.py   (from the repo root; writes docs/img/*.svg)
Reads bench/Throughput/results/h100-2026-11-22*/ (engine JSON, peers JSONL) and bench/GpuCheck/results/*attn.txt.
"""
import glob, json, os, re

R = "bench/Throughput/results"
OUT = "docs/img"


def engine(run, shape, workload, key="output_tok_s"):
    d = json.load(open(f"{R}/{run}/engine_{shape}.json"))
    return next(r["offline"][key] for r in d["runs"] if r["workload"] == workload)


def peer(shape, workload, name):
    best = None
    for f in glob.glob(f"{R}/h100-2026-11-22*/peers*.jsonl"):
        for line in open(f):
            r = json.loads(line)
            if r.get("shape") == shape and r.get("workload") == workload and r.get("peer") == name and r.get("complete") and "output_tok_s" in r:
                best = max(best or 0, r["output_tok_s"])
    return best


def bars(path, title, groups, series, unit, log=False):
    """groups: list of labels; series: list of (name, colour, [values or None per group])."""
    import math
    w, h, left, top, bottom = 760, 360, 70, 40, 80
    plot_w, plot_h = w - left - 20, h - top - bottom
    vals = [v for _, _, vs in series for v in vs if v]
    vmax = max(vals) * 1.15
    f = (lambda v: math.log10(v) / math.log10(vmax)) if log else (lambda v: v / vmax)
    gw = plot_w / len(groups)
    bw = gw * 0.8 / len(series)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{left}" y1="{top+plot_h}" x2="{left+plot_w}" y2="{top+plot_h}" stroke="black"/>',
           f'<text x="14" y="{top+plot_h/2}" transform="rotate(-90 14 {top+plot_h/2})" text-anchor="middle">{unit}</text>']
    for gi, g in enumerate(groups):
        for si, (name, colour, vs) in enumerate(series):
            v = vs[gi]
            x = left + gi * gw + gw * 0.1 + si * bw
            if not v:
                out.append(f'<text x="{x+bw/2}" y="{top+plot_h-4}" text-anchor="middle" fill="#999">n/a</text>')
                continue
            bh = max(1, f(v) * plot_h)
            out.append(f'<rect x="{x}" y="{top+plot_h-bh}" width="{bw-2}" height="{bh}" fill="{colour}"/>')
            out.append(f'<text x="{x+bw/2}" y="{top+plot_h-bh-4}" text-anchor="middle" font-size="10">{(f"{v:.2f}" if v < 10 else f"{v:,.0f}")}</text>')
        out.append(f'<text x="{left+gi*gw+gw/2}" y="{top+plot_h+18}" text-anchor="middle">{g}</text>')
    for si, (name, colour, _) in enumerate(series):
        out.append(f'<rect x="{left+si*220}" y="{h-30}" width="12" height="12" fill="{colour}"/><text x="{left+si*220+16}" y="{h-20}">{name}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))
    print("wrote", path)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = [("8b", "sharegpt", "8B ShareGPT-like"), ("8b", "fixed-512-256", "8B fixed 512/256"),
             ("1b", "fixed-512-256", "1B fixed 512/256")]
    eng = [engine("h100-2026-11-22-run4" if s == "8b" else "h100-2026-11-22-run3", s, w) for s, w, _ in cases]
    bars(f"{OUT}/gpu-throughput.svg", "Output tokens/s on one H100, 256 requests (log scale)", [c[2] for c in cases],
         [("PagedAttention.AI", "#2b6cb0", eng),
          ("transformers generate (best batch)", "#dd6b20", [peer(s, w, "generate") for s, w, _ in cases]),
          ("transformers generate_batch", "#718096", [peer(s, w, "generate_batch") for s, w, _ in cases])],
         "output tokens/s", log=True)
    on = json.load(open(f"{R}/h100-2026-11-22-run4/engine_1b.json"))
    off = json.load(open(f"{R}/h100-2026-11-22-run4/engine_1b_noprefix.json"))
    t = lambda d: next(r["offline"]["latency"]["ttft_ms"] for r in d["runs"] if r["workload"] == "shared-prefix")
    bars(f"{OUT}/gpu-shared-prefix-ttft.svg", "Shared 2,048-token prefix, 128 agents, 1B shape: time to first token",
         ["mean", "p50", "p99"], [("prefix cache on", "#2b6cb0", [t(on)[k] for k in ("mean", "p50", "p99")]),
                                  ("prefix cache off", "#a0aec0", [t(off)[k] for k in ("mean", "p50", "p99")])], "ms")
    logs = glob.glob("bench/GpuCheck/results/*attn.txt")
    if logs:
        rows = [l for l in open(logs[0]) if l.startswith("attn-bench b=")]
        groups, old, new = [], [], []
        for l in rows:
            m = re.match(r"attn-bench b=\s*(\d+) ctx=\s*(\d+):", l)
            tb = dict(re.findall(r"(v\d)\(s=\d+\)\s+[\d.]+ us\s+([\d.]+) TB/s", l))
            groups.append(f"b{m.group(1)} c{m.group(2)}")
            old.append(float(tb["v1"]))
            new.append(float(tb["v2"]))
        bars(f"{OUT}/gpu-decode-attention.svg", "Paged decode attention, 1B shape: TB/s of K+V read (target 2.4)", groups,
             [("old kernel", "#a0aec0", old), ("tiled, 8 loads in flight (default)", "#2b6cb0", new)], "TB/s")


if __name__ == "__main__":
    main()
