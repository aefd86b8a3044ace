#!/usr/bin/env python3
"""Draws issue 18's scaling curves (8B shape, H200) as PNG from the committed Throughput result files.

Reads RESULTS_DIR/scaling_8b_{none,fp8}_{concurrency,context}.json (written by bench/peers/run-scaling.sh) and
writes OUT_DIR/gpu-scaling-concurrency.png and OUT_DIR/gpu-scaling-context.png: output tok/s (log-log) and TPOT
p50/p99 against the number of concurrent requests, and against the prompt length, bf16 and FP8 layers.
Also prints the table that docs/benchmarks.md shows (so the doc's numbers and the plots come from the same files).

usage (from the repo root; matplotlib from Debian: apt-get install python3-matplotlib, then /usr/bin/python3):
  /usr/bin/python3 tools/plots/make_scaling_plots.py [RESULTS_DIR] [OUT_DIR]
  defaults: bench/Throughput/results/h200-2026-12-04-scaling docs/img
  --table: print the table only (no matplotlib needed)
"""
import json, os, sys

RESULTS = "bench/Throughput/results/h200-2026-12-04-scaling"
OUT = "docs/img"
DTYPES = [("none", "bf16", "#1f77b4"), ("fp8", "FP8 layers (W8A8)", "#d62728")]


def load(results_dir):
    """{(dtype, sweep): [(x, run-offline-dict, roofline-dict)]}, x = requests (concurrency) or prompt length (context)."""
    data = {}
    for q, _, _ in DTYPES:
        for sweep in ("concurrency", "context"):
            path = os.path.join(results_dir, f"scaling_8b_{q}_{sweep}.json")
            if not os.path.exists(path):
                continue
            doc = json.load(open(path))
            pts = []
            for run in doc["runs"]:
                off = run["offline"]
                x = run["num_requests"] if sweep == "concurrency" else int(run["mean_input_len"])
                pts.append((x, off, off.get("roofline", {})))
            data[(q, sweep)] = sorted(pts, key=lambda p: p[0])
            data["utc"] = doc.get("utc", "")
    m = os.path.join(results_dir, "machine.txt")   # nvidia-smi's CSV: the GPU's name on the line after the header
    if os.path.exists(m):
        lines = open(m).read().splitlines()
        data["device"] = lines[2].split(",")[0] if len(lines) > 2 else ""
    return data


def table(data):
    rows = []
    for sweep, xname in (("concurrency", "requests"), ("context", "prompt tokens")):
        rows.append(f"\n{sweep}: | {xname} | dtype | output tok/s | TPOT p50 ms | TPOT p99 ms | TTFT p50 ms | steady decode tok/s | % of the larger bound |")
        for q, label, _ in DTYPES:
            for x, off, roof in data.get((q, sweep), []):
                lat = off["latency"]
                rows.append(f"| {x:,} | {label} | {off['output_tok_s']:,.0f} | {lat['tpot_ms']['p50']:.1f} | {lat['tpot_ms']['p99']:.1f} | "
                            f"{lat['ttft_ms']['p50']:,.0f} | {off['steady_decode_tok_s']:,.0f} | {roof.get('percent_reached', float('nan')):.0f} % |")
    return "\n".join(rows)


def plot(data, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    for sweep, xlabel, title in (("concurrency", "concurrent requests (512 prompt + 256 output tokens each)", "vs concurrency"),
                                 ("context", "prompt tokens (16 concurrent requests, 128 output tokens each)", "vs context length")):
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
        for q, label, colour in DTYPES:
            pts = data.get((q, sweep))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            a.plot(xs, [p[1]["output_tok_s"] for p in pts], "o-", color=colour, label=label)
            b.plot(xs, [p[1]["latency"]["tpot_ms"]["p50"] for p in pts], "o-", color=colour, label=f"{label}, p50")
            b.plot(xs, [p[1]["latency"]["tpot_ms"]["p99"] for p in pts], "s--", color=colour, alpha=0.6, label=f"{label}, p99")
        for ax in (a, b):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        a.set_ylabel("output tok/s")
        b.set_ylabel("TPOT ms (time per output token)")
        a.set_title(f"8B shape, output throughput {title}")
        b.set_title(f"8B shape, TPOT {title}")
        fig.suptitle(f"PagedAttention.AI on one {data.get('device', 'GPU')}, {data.get('utc', '')[:10]} (bench/peers/run-scaling.sh)", fontsize=9)
        fig.tight_layout()
        path = os.path.join(out_dir, f"gpu-scaling-{sweep}.png")
        fig.savefig(path, dpi=120)
        print("wrote", path)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    d = load(args[0] if args else RESULTS)
    print(table(d))
    if "--table" not in sys.argv:
        plot(d, args[1] if len(args) > 1 else OUT)
