"""Summarises an `ncu --csv` kernel trace of the engine into per-step kernel tables (issue 18, item 5).

Steps are split at the sampling kernel (`sample_rows`, or `argmax_rows` in the memory-profiling forward passes at load), the last kernel of every step. For each step: each
kernel family's GPU time, share of the step, DRAM bytes and achieved TB/s, and ncu's SM and memory throughput
(% of peak), against the device's peak bandwidth given on the command line.

Usage: python3 ncu_steps.py trace.csv --peak-tbs 4.8 [--step N] [--title TEXT] > table.md
"""
import argparse, csv, collections, re, sys


def family(name):
    n = re.sub(r"<.*", "", name)
    n = re.sub(r"\(.*", "", n)
    if "gemm" in n.lower() or "gemv" in n.lower() or n.startswith("sm90_") or n.startswith("sm80_") or "cutlass" in n.lower() or "nvjet" in n.lower():
        return "GEMM (cuBLAS/cuBLASLt)" if "gemv_" not in n else n
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--peak-tbs", type=float, default=4.8)
    ap.add_argument("--step", type=int, default=1, help="which complete step to report (0 = first)")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    lines = [l for l in open(a.csv, encoding="utf-8", errors="replace") if l.startswith('"')]
    rows = list(csv.DictReader(lines))
    kernels = collections.OrderedDict()
    for r in rows:
        key = (r["ID"], r["Kernel Name"])
        k = kernels.setdefault(key, {"name": r["Kernel Name"], "grid": r.get("Grid Size", ""), "m": {}})
        v = r["Metric Value"].replace(",", "")
        try:
            k["m"][r["Metric Name"]] = (float(v), r["Metric Unit"])
        except ValueError:
            pass
    ks = list(kernels.values())
    steps, cur = [], []
    for k in ks:
        cur.append(k)
        if "sample_rows" in k["name"] or "argmax_rows" in k["name"]:
            steps.append(cur)
            cur = []
    if not steps:
        print("no complete step (no sample_rows kernel) in the trace", file=sys.stderr)
        return 1
    # The first split piece usually starts mid-step: drop it.
    complete = steps[1:] if len(steps) > 1 else steps
    step = complete[min(a.step, len(complete) - 1)]

    def ns(k):
        v, u = k["m"].get("gpu__time_duration.sum", (0, "ns"))
        return v * {"ns": 1, "nsecond": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}.get(u, 1)

    def byt(k, m):
        v, u = k["m"].get(m, (0, "byte"))
        return v * {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9}.get(u, 1)

    fam = collections.OrderedDict()
    for k in step:
        f = fam.setdefault(family(k["name"]), {"n": 0, "ns": 0.0, "bytes": 0.0, "sm": 0.0, "mem": 0.0})
        t = ns(k)
        f["n"] += 1
        f["ns"] += t
        f["bytes"] += byt(k, "dram__bytes_read.sum") + byt(k, "dram__bytes_write.sum")
        f["sm"] += t * k["m"].get("sm__throughput.avg.pct_of_peak_sustained_elapsed", (0, ""))[0]
        f["mem"] += t * k["m"].get("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed", (0, ""))[0]
    total = sum(f["ns"] for f in fam.values())
    print(f"### {a.title}\n")
    print(f"{len(step)} kernels, {total / 1e6:.3f} ms of GPU time in the step (step {a.step} of {len(complete)} complete ones in the trace); peak {a.peak_tbs} TB/s\n")
    print("| kernel | launches | ms | share | DRAM GB | TB/s | % of peak BW | SM throughput % | memory throughput % |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, f in sorted(fam.items(), key=lambda kv: -kv[1]["ns"]):
        tbs = f["bytes"] / f["ns"] / 1e3 if f["ns"] else 0
        print(f"| `{name[:60]}` | {f['n']} | {f['ns'] / 1e6:.3f} | {100 * f['ns'] / total:.1f} % | {f['bytes'] / 1e9:.3f} | {tbs:.2f} | {100 * tbs / a.peak_tbs:.0f} % | {f['sm'] / f['ns'] if f['ns'] else 0:.0f} | {f['mem'] / f['ns'] if f['ns'] else 0:.0f} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
