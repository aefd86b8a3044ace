#!/usr/bin/env python3
"""Draws the GPU benchmark plots as PNG (matplotlib) from the committed result files.

Reads RESULTS_DIR/engine_{1b,8b}.json (engine runs: sharegpt, fixed-512-256, fixed-1024-128, shared-prefix),
RESULTS_DIR/engine_{1b,8b}_noprefix.json (shared-prefix, prefix cache off), engine_{1b,8b}_sharegpt1000.json
(loaded, not drawn) and RESULTS_DIR/peers_{1b,8b}.jsonl (transformers generate / generate_batch; per
(shape, workload, peer) the record with the highest output_tok_s; records without output_tok_s are skipped).
Writes OUT_DIR/gpu-throughput.png, gpu-latency.png, gpu-roofline.png, gpu-shared-prefix-ttft.png (150 dpi).

usage (from the repo root):
  python3 tools/plots/make_png_plots.py [RESULTS_DIR] [OUT_DIR]
  defaults: bench/Throughput/results/h100-2026-11-22-final docs/img
Data check without matplotlib:
  python3 -c "import sys; sys.path.insert(0, 'tools/plots'); import make_png_plots as m; m.summary(m.load(m.RESULTS))"
"""
import glob, json, os, sys

RESULTS = "bench/Throughput/results/h100-2026-11-22-final"
OUT = "docs/img"
SHAPES = ["1b", "8b"]
WORKLOADS = ["sharegpt", "fixed-512-256", "fixed-1024-128", "shared-prefix"]
WL_LABEL = {"sharegpt": "ShareGPT-like", "fixed-512-256": "fixed 512/256", "fixed-1024-128": "fixed 1024/128", "shared-prefix": "shared prefix"}
PEERS = [("generate", "transformers generate (static batches)", "gen"), ("generate_batch", "transformers generate_batch", "gen_batch")]
# Known missing peer results (no record was written): shown as an absent bar with this label.
MISSING = {("1b", "sharegpt", "generate"): "did not finish\nin 200 s"}
ENGINE_NAME, ENGINE_COLOUR, PEER_COLOURS = "PagedAttention.AI", "#1f77b4", ["#ff7f0e", "#2ca02c"]


def load(results_dir):
    """Returns plain dicts: engine/noprefix/sharegpt1000[shape][workload] = offline metrics, peers[shape][workload][peer]."""
    d = {"engine": {}, "noprefix": {}, "sharegpt1000": {}, "peers": {}, "device": "H100 80GB", "date": "", "bandwidth": ""}
    for shape in SHAPES:
        for key, suffix in (("engine", ""), ("noprefix", "_noprefix"), ("sharegpt1000", "_sharegpt1000")):
            path = os.path.join(results_dir, f"engine_{shape}{suffix}.json")
            if not os.path.exists(path):
                continue
            doc = json.load(open(path))
            if key == "engine":
                d["date"] = d["date"] or doc.get("utc", "")[:10]
                ri = doc.get("roofline_inputs", {})
                d["bandwidth"] = f"{ri.get('bandwidth_gbs', '?')} GB/s ({ri.get('source', '')})"
            for r in doc["runs"]:
                o = r["offline"]
                d[key].setdefault(shape, {})[r["workload"]] = {
                    "num_requests": r["num_requests"], "output_tok_s": o["output_tok_s"],
                    "steady_decode_tok_s": o.get("steady_decode_tok_s"),
                    "latency": {m: {p: o["latency"][m][p] for p in ("mean", "p50", "p99")} for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")},
                    "roofline_tok_s": o["roofline"]["output_tok_s"], "roofline_pct": o["roofline"]["percent_reached"],
                    "forward_ms_per_step": o.get("forward_ms_per_step"), "host_ms_per_step": o.get("host_ms_per_step")}
    for path in sorted(glob.glob(os.path.join(results_dir, "peers_*.jsonl"))):
        for line in open(path):
            r = json.loads(line) if line.strip() else {}
            if r.get("output_tok_s") is None or "error" in r:
                continue
            d["device"] = r.get("device", d["device"]).replace("NVIDIA ", "")
            slot = d["peers"].setdefault(r["shape"], {}).setdefault(r["workload"], {})
            best = slot.get(r["peer"])
            if best is None or r["output_tok_s"] > best["output_tok_s"]:
                slot[r["peer"]] = {"output_tok_s": r["output_tok_s"], "complete": r.get("complete", True),
                                   "requests": r.get("requests"), "num_requests": r.get("num_requests"), "batch_size": r.get("batch_size")}
    return d


def peer(d, shape, workload, name):  # best record or None
    return d["peers"].get(shape, {}).get(workload, {}).get(name)


def summary(d):
    """Prints the numbers the plots are drawn from (needs no matplotlib)."""
    print(f"device {d['device']}, date {d['date']}, roofline bandwidth {d['bandwidth']}")
    for shape in SHAPES:
        for wl in WORKLOADS:
            e = d["engine"].get(shape, {}).get(wl)
            if not e:
                continue
            lat = e["latency"]
            print(f"{shape} {wl:15s} n={e['num_requests']:4d} out {e['output_tok_s']:9.1f} tok/s  steady {e['steady_decode_tok_s'] or 0:9.1f}"
                  f"  roofline {e['roofline_pct']:5.1f}%  TTFT p50/p99 {lat['ttft_ms']['p50']:7.1f}/{lat['ttft_ms']['p99']:7.1f} ms"
                  f"  TPOT p50/p99 {lat['tpot_ms']['p50']:5.2f}/{lat['tpot_ms']['p99']:5.2f} ms")
            for name, _, short in PEERS:
                p = peer(d, shape, wl, name)
                if p:
                    part = "" if p["complete"] else f" (partial: first {p['requests']} requests)"
                    print(f"    {name:15s} {p['output_tok_s']:9.1f} tok/s  engine/peer {e['output_tok_s'] / p['output_tok_s']:6.1f}x{part}")
        n = d["noprefix"].get(shape, {}).get("shared-prefix")
        w = d["engine"].get(shape, {}).get("shared-prefix")
        if n and w:
            print(f"{shape} shared-prefix TTFT with/without cache: " + ", ".join(
                f"{s} {w['latency']['ttft_ms'][s]:.1f}/{n['latency']['ttft_ms'][s]:.1f} ms ({n['latency']['ttft_ms'][s] / w['latency']['ttft_ms'][s]:.1f}x)" for s in ("mean", "p50", "p99")))
        s = d["sharegpt1000"].get(shape, {}).get("sharegpt")
        if s:
            print(f"{shape} sharegpt n={s['num_requests']} out {s['output_tok_s']:.1f} tok/s")


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _title(d, what):
    return f"{what} — {d['device']}, {d['date']}"


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    _plt().close(fig)
    print(path)


_fmt = lambda v: f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
_ratio = lambda r: f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def plot_throughput(d, out_dir):
    plt = _plt()
    groups = [(s, w) for s in SHAPES for w in ("sharegpt", "fixed-512-256") if w in d["engine"].get(s, {})]
    fig, ax = plt.subplots(figsize=(11, 6))
    bw = 0.26
    vals = [d["engine"][s][w]["output_tok_s"] for s, w in groups]
    vals += [p["output_tok_s"] for s, w in groups for n, _, _ in PEERS if (p := peer(d, s, w, n))]
    for gi, (s, w) in enumerate(groups):
        e = d["engine"][s][w]["output_tok_s"]
        ax.bar(gi - bw, e, bw, color=ENGINE_COLOUR)
        notes = [_fmt(e)]
        for pi, (name, label, short) in enumerate(PEERS):
            x, p = gi + pi * bw, peer(d, s, w, name)
            if p is None:
                ax.text(x, 0.02, MISSING.get((s, w, name), "no record"), transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", rotation=90, fontsize=8, color="#666")
                continue
            ax.bar(x, p["output_tok_s"], bw, color=PEER_COLOURS[pi], hatch=None if p["complete"] else "//",
                   edgecolor="white" if p["complete"] else "black")
            txt = _fmt(p["output_tok_s"]) + ("" if p["complete"] else f"\nfirst {p['requests']}\nrequests")
            ax.text(x, p["output_tok_s"] * 1.08, txt, ha="center", va="bottom", fontsize=8)
            notes.append(f"{_ratio(e / p['output_tok_s'])} {short}")
        ax.text(gi - bw, e * 1.08, "\n".join(notes), ha="center", va="bottom", fontsize=8, fontweight="bold")
    from matplotlib.patches import Patch  # explicit legend: a series may be absent from the first group
    handles = [Patch(color=ENGINE_COLOUR, label=ENGINE_NAME)] + [Patch(color=c, label=l) for c, (_, l, _) in zip(PEER_COLOURS, PEERS)]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="partial run (first N requests)"))
    ax.set_yscale("log")
    ax.set_ylim(min(vals) / 4, max(vals) * 10)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{s.upper()}\n{WL_LABEL[w]} ({d['engine'][s][w]['num_requests']} req)" for s, w in groups])
    ax.set_ylabel("output tokens/s (log scale)")
    ax.set_title(_title(d, "Offline throughput: engine vs transformers"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=9)
    _save(fig, out_dir, "gpu-throughput.png")


def plot_latency(d, out_dir):
    plt = _plt()
    shapes = [s for s in SHAPES if "sharegpt" in d["engine"].get(s, {})]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, (metric, label) in zip(axes, (("ttft_ms", "TTFT (ms)"), ("tpot_ms", "TPOT (ms)"))):
        for ki, (stat, colour) in enumerate((("p50", "#1f77b4"), ("p99", "#d62728"))):
            xs = [i + (ki - 0.5) * 0.35 for i in range(len(shapes))]
            vs = [d["engine"][s]["sharegpt"]["latency"][metric][stat] for s in shapes]
            ax.bar(xs, vs, 0.35, color=colour, label=stat)
            for x, v in zip(xs, vs):
                ax.text(x, v, _fmt(v), ha="center", va="bottom", fontsize=9)
        ax.set_xticks(range(len(shapes)))
        ax.set_ylim(0, max([d["engine"][s]["sharegpt"]["latency"][metric]["p99"] for s in shapes] + [1]) * 1.15)
        ax.set_xticklabels([f"{s.upper()} ({d['engine'][s]['sharegpt']['num_requests']} req)" for s in shapes])
        ax.set_ylabel(label)
        ax.set_title(label.split()[0])
        ax.legend()
    fig.suptitle(_title(d, "Engine latency, ShareGPT-like workload"))
    _save(fig, out_dir, "gpu-latency.png")


def plot_roofline(d, out_dir):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for si, (s, colour) in enumerate(zip(SHAPES, ("#1f77b4", "#9467bd"))):
        xs = [i + (si - 0.5) * 0.38 for i in range(len(WORKLOADS))]
        vs = [d["engine"].get(s, {}).get(w, {}).get("roofline_pct", 0) for w in WORKLOADS]
        ax.bar(xs, vs, 0.38, color=colour, label=s.upper())
        for x, v in zip(xs, vs):
            ax.text(x, v + 1, f"{v:.0f} %", ha="center", va="bottom", fontsize=9)
    ax.axhline(80, color="#d62728", linestyle="--", linewidth=1.2)
    ax.text(-0.55, 81, "target", color="#d62728", ha="left", va="bottom")
    ax.set_xticks(range(len(WORKLOADS)))
    ax.set_xticklabels([WL_LABEL[w] for w in WORKLOADS])
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of memory roofline (steady decode tokens/s)")
    ax.set_title(_title(d, "Steady-decode share of the memory roofline"))
    ax.legend(loc="upper center", ncol=2)
    fig.text(0.01, 0.01, f"roofline bandwidth {d['bandwidth']}", fontsize=8, color="#444")
    _save(fig, out_dir, "gpu-roofline.png")


def plot_prefix(d, out_dir):
    plt = _plt()
    shapes = [s for s in SHAPES if "shared-prefix" in d["noprefix"].get(s, {}) and "shared-prefix" in d["engine"].get(s, {})]
    fig, axes = plt.subplots(1, max(1, len(shapes)), figsize=(11, 5), squeeze=False)
    stats = ("mean", "p50", "p99")
    for ax, s in zip(axes[0], shapes):
        on = [d["engine"][s]["shared-prefix"]["latency"]["ttft_ms"][k] for k in stats]
        off = [d["noprefix"][s]["shared-prefix"]["latency"]["ttft_ms"][k] for k in stats]
        for i in range(len(stats)):
            ax.bar(i - 0.19, off[i], 0.38, color="#7f7f7f", label="prefix cache off" if i == 0 else None)
            ax.bar(i + 0.19, on[i], 0.38, color="#1f77b4", label="prefix cache on" if i == 0 else None)
            ax.text(i - 0.19, off[i], _fmt(off[i]), ha="center", va="bottom", fontsize=9)
            ax.text(i + 0.19, on[i], f"{_fmt(on[i])}\n{_ratio(off[i] / on[i])} faster", ha="center", va="bottom", fontsize=9, fontweight="bold")
        ax.set_xticks(range(len(stats)))
        ax.set_xticklabels(stats)
        ax.set_ylim(0, max(off + on) * 1.2)
        ax.set_ylabel("TTFT (ms)")
        ax.set_title(f"{s.upper()} ({d['engine'][s]['shared-prefix']['num_requests']} requests)")
        ax.legend(loc="upper left")
    fig.suptitle(_title(d, "Shared-prefix TTFT with vs without prefix cache"))
    _save(fig, out_dir, "gpu-shared-prefix-ttft.png")


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else RESULTS
    out = sys.argv[2] if len(sys.argv) > 2 else OUT
    os.makedirs(out, exist_ok=True)
    d = load(results)
    for plot in (plot_throughput, plot_latency, plot_roofline, plot_prefix):
        plot(d, out)


if __name__ == "__main__":
    main()
