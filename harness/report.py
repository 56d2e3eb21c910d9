#!/usr/bin/python3
"""harness/report.py: tables and plots from attn-bench's Google Benchmark JSON.

    report.py results/<cpu>                 -> results/<cpu>/report.md, throughput.svg, decode.svg
    report.py results/a results/b --out DIR -> DIR/compare.md and DIR/compare.svg (CPUs side by
                                               side, normalised to each CPU's own peak and absolute)

Reads only <dir>/bench.json (and the context in it). Run with Debian's /usr/bin/python3 and
python3-matplotlib. Emulated results (context "emulated": "yes") are never drawn beside native ones.
"""
import argparse
import json
import math
import os
import re
import sys

ATTN = re.compile(r"^attn/(?P<variant>[^/]+)/(?P<qt>[a-z0-9]+)-(?P<kt>[a-z0-9_+]+)/d(?P<d>\d+)/q(?P<sq>\d+)/kv(?P<skv>\d+)"
                  r"/h(?P<hq>\d+)x(?P<hkv>\d+)/(?P<mask>full|causal)/t(?P<t>\d+)(?P<bshd>/bshd)?$")
CALL = re.compile(r"^call/(?P<variant>[^/]+)/(?P<entry>forward|plan|loop)/d(?P<d>\d+)/kv(?P<skv>\d+)"
                  r"/h(?P<hq>\d+)x(?P<hkv>\d+)/t(?P<t>\d+)$")
LAYOUT = re.compile(r"^layout/(?P<variant>[^/]+)/(?P<qt>[a-z0-9]+)-(?P<kt>[a-z0-9_+]+)/d(?P<d>\d+)/q(?P<sq>\d+)"
                    r"/kv(?P<skv>\d+)/h(?P<hq>\d+)x(?P<hkv>\d+)/(?P<mask>full|causal)/t(?P<t>\d+)$")
# layout/ rows pairing a paged decode row with its contiguous BHSD row: the paged row's name, layout/ for attn/
PAGED_PAIR = re.compile(r"^layout/(?P<rest>.+/t\d+)(?P<form>(/bshd)?/paged\d+)$")
# limit/ rows: a decode row over this machine's limits measured beside it, round by round (attn-bench.c, limit_run)
LIMIT = re.compile(r"^limit/(?P<variant>[^/]+)/(?P<qt>[a-z0-9]+)-(?P<kt>[a-z0-9_+]+)/d(?P<d>\d+)/q(?P<sq>\d+)"
                   r"/kv(?P<skv>\d+)/h(?P<hq>\d+)x(?P<hkv>\d+)/(?P<mask>full|causal)/t(?P<t>\d+)$")
PEAK = re.compile(r"^peak/(?P<isa>[a-z0-9]+)/t(?P<t>\d+)$")
# ragged and paged rows (README, "Ragged batches and paged caches"): a dense row's name with a suffix,
# and the ragged/ and step/ batches
BWD = re.compile(r"^attn_(?P<kind>bwd|fwdbwd)/(?P<variant>[^/]+)/(?P<dt>[a-z0-9_+-]+)/d(?P<d>\d+)/q(?P<sq>\d+)/kv(?P<skv>\d+)"
                 r"/h(?P<hq>\d+)x(?P<hkv>\d+)/(?P<mask>full|causal)/t(?P<t>\d+)$")
SUFFIXED = re.compile(r"^(?P<base>attn/.+/t\d+(/bshd)?)/(?P<suffix>paged\d+|chunkinv)$")
BATCH = re.compile(r"^(?P<kind>ragged|step)/(?P<variant>[^/]+)/(?P<dt>[a-z0-9]+-[a-z0-9_+]+)/d(?P<d>\d+)/n(?P<n>\d+)"
                   r"(/q(?P<q>[0-9-]+))?/h(?P<hq>\d+)x(?P<hkv>\d+)(/(?P<mask>full|causal))?/t(?P<t>\d+)$")
STREAM = re.compile(r"^stream/t(?P<t>\d+)$")


def primary_rate(r):
    for k in ("GFLOPS", "GBps", "tokens_per_s"):
        if r.get(k) is not None:
            return r[k]
    return -r.get("real_time", 0.0)


def load(folder):
    path = os.path.join(folder, "bench.json")
    with open(path) as f:
        data = json.load(f)
    # With --benchmark_repetitions (the full sweep runs each row three times, interleaved): each
    # row's best repetition, all its counters from that one run (a slow moment on a shared
    # machine only ever slows a run down). An error in any repetition is reported.
    runs = [r for r in data.get("benchmarks", []) if r.get("run_type", "iteration") == "iteration"]
    best, order = {}, []
    for r in runs:
        name = r.get("run_name", r["name"])
        r = dict(r, name=name)
        if name not in best:
            order.append(name)
            best[name] = r
        elif best[name].get("error_occurred"):
            continue
        elif r.get("error_occurred") or primary_rate(r) > primary_rate(best[name]):
            best[name] = r
    rows = [best[n] for n in order]
    res = {"folder": folder, "context": data.get("context", {}), "attn": [], "peak": {}, "stream": {}, "errors": [],
           "call": [], "layout": [], "suffixed": {}, "batch": [], "by_name": {}, "paged_pair": {}, "bwd": [], "limit": []}
    # layout/ rows (two layouts' calls paired round by round): the median over the repetitions of
    # each repetition's median ratio, not one repetition's
    reps = {}
    for r in runs:
        name = r.get("run_name", r["name"])
        if LAYOUT.match(name) and not r.get("error_occurred") and r.get("bshd_over_bhsd"):
            reps.setdefault(name, []).append(r["bshd_over_bhsd"])
        if PAGED_PAIR.match(name) and not r.get("error_occurred") and r.get("paged_over_bhsd"):
            reps.setdefault(name, []).append(r["paged_over_bhsd"])
        if LIMIT.match(name) and not r.get("error_occurred") and r.get("over_limit"):  # (likewise)
            reps.setdefault(name, []).append(r["over_limit"])
    def median(v):
        v = sorted(v)
        return (v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])) if v else None
    for r in rows:
        name = r["name"]
        if r.get("error_occurred"):
            res["errors"].append((name, r.get("error_message", "")))
            continue
        res["by_name"][name] = r
        m = BWD.match(name)
        if m:
            g = m.groupdict()
            for k in ("d", "sq", "skv", "hq", "hkv", "t"):
                g[k] = int(g[k])
            for k in ("GFLOPS", "peak_frac", "tokens_per_s", "workspace_bytes", "foreign_cpu"):
                g[k] = r.get(k)
            res["bwd"].append(g)
            continue
        m = PAGED_PAIR.match(name)
        if m:  # keyed by the paged row's name
            res["paged_pair"]["attn/" + m["rest"] + m["form"]] = (median(reps.get(name, [])), r)
            continue
        m = SUFFIXED.match(name)
        if m:
            res["suffixed"][name] = (m["base"], m["suffix"], r)
            continue
        m = BATCH.match(name)
        if m:
            g = m.groupdict()
            g["name"] = name
            for k in ("GFLOPS", "peak_frac", "tokens_per_s", "foreign_cpu"):
                g[k] = r.get(k)
            res["batch"].append(g)
            continue
        m = ATTN.match(name)
        if m:
            g = m.groupdict()
            for k in ("d", "sq", "skv", "hq", "hkv", "t"):
                g[k] = int(g[k])
            g["layout"] = "bshd" if g.pop("bshd") else "bhsd"
            for k in ("GFLOPS", "peak_frac", "GBps", "bw_frac", "tokens_per_s", "workspace_bytes", "foreign_cpu"):
                g[k] = r.get(k)
            g["ms"] = r.get("real_time")
            res["attn"].append(g)
            continue
        m = LAYOUT.match(name)
        if m:
            g = m.groupdict()
            for k in ("d", "sq", "skv", "hq", "hkv", "t"):
                g[k] = int(g[k])
            v = sorted(reps.get(name, []))
            g["ratio"] = (v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])) if v else None
            g["foreign_cpu"] = r.get("foreign_cpu")
            res["layout"].append(g)
            continue
        m = LIMIT.match(name)
        if m:
            g = m.groupdict()
            for k in ("d", "sq", "skv", "hq", "hkv", "t"):
                g[k] = int(g[k])
            g["over_limit"], g["reps"] = median(reps.get(name, [])), len(reps.get(name, []))
            for k in ("over_limit_best", "tokens_per_s", "limit_tokens_per_s", "fma_bound", "rounds", "foreign_cpu"):
                g[k] = r.get(k)
            res["limit"].append(g)
            continue
        m = CALL.match(name)
        if m:
            g = m.groupdict()
            for k in ("d", "skv", "hq", "hkv", "t"):
                g[k] = int(g[k])
            for k in ("us_per_call", "foreign_cpu"):
                g[k] = r.get(k)
            res["call"].append(g)
            continue
        m = PEAK.match(name)
        if m:
            res["peak"][(m["isa"], int(m["t"]))] = r.get("GFLOPS")
            continue
        m = STREAM.match(name)
        if m:
            res["stream"][int(m["t"])] = r.get("GBps")
    # ISAs best first, from the context (the ISA table's rows the build had)
    for i, isa in enumerate(i for i in res["context"].get("isas", "").split(",") if i):
        ISA_RANK.setdefault(isa, i)
    # rows that ran while other processes took more than foreign_cpu_max of the machine
    limit = float(res["context"].get("foreign_cpu_max", FOREIGN_MAX))
    for a in res["attn"] + res["layout"] + [r for _, r in res["paged_pair"].values()]:
        a["busy"] = a.get("foreign_cpu") is not None and a["foreign_cpu"] > limit
    res["foreign_max"] = limit
    # peak_frac against the best peak of the whole run (attn-bench divided by the best seen when
    # each row finished, which for early rows may be a startup measurement taken in a slow moment)
    for a in res["attn"]:
        pk = run_peak(res, isa_of(a["variant"]), a["t"])
        if pk and a.get("GFLOPS") is not None:
            a["peak_frac"] = a["GFLOPS"] / pk
    # bw_frac likewise against the best stream read of the whole run at the row's thread count: at
    # startup, the stream/t<N> rows, or just before the row (attn-bench's own divisor, GBps / bw_frac)
    # -- with two threads the host's bandwidth is bimodal, and a slow startup probe inflated every
    # two-thread row above 1
    for a in res["attn"]:
        if a.get("GBps") is None or not a.get("bw_frac"):
            continue
        s = max(run_stream(res, a["t"]) or 0.0, a["GBps"] / a["bw_frac"])
        a["bw_frac"] = a["GBps"] / s
    return res


def run_stream(res, t):
    """The best streaming read this run measured at t threads (startup or the stream rows), or None"""
    vals = [res["stream"].get(t) or 0.0, float(res["context"].get(f"stream_gbps_t{t}", 0) or 0)]
    return max(vals) or None


def run_peak(res, isa, t):
    """The best FMA peak this run measured for isa at t threads (rows or startup); the highest
    over the ISAs for scalar rows and blas_unfused."""
    ctx = res["context"]
    def one(i):
        vals = [v for (ii, tt), v in res["peak"].items() if ii == i and tt == t and v]
        c = ctx.get(f"peak_gflops_{i}_t{t}")
        if c:
            vals.append(float(c))
        return max(vals) if vals else None
    own = one(isa)
    if own:
        return own
    isas = {i for (i, _t) in res["peak"]} | {k[len("peak_gflops_"):].rsplit("_t", 1)[0]
                                              for k in ctx if k.startswith("peak_gflops_")}
    vals = [v for v in (one(i) for i in isas) if v]
    return max(vals) if vals else None


def cpu_label(res):
    c = res["context"]
    return f'{c.get("cpu_model", "?")} ({os.path.basename(os.path.normpath(res["folder"]))})'


def is_emulated(res):
    return res["context"].get("emulated", "no") == "yes"


def busy_mark(a):
    return BUSY if a.get("busy") else ""


def fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def dtypes_of(a):
    return f'{a["qt"]}-{a["kt"]}'


DT_ORDER = ["f32-f32", "f32-f16", "f32-bf16", "bf16-bf16", "f16-f16", "f32-q8_0", "f32-q4_0", "f32-fp8e4m3",
            "f32-fp8e5m2", "f32-q8_0+q4_0"]
# bytes a K/V element occupies in each format (a GGUF block of 32: 34 or 18 bytes); "k+v": their mean
KV_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32, "fp8e4m3": 1.0, "fp8e5m2": 1.0}


def kv_bytes_per_elem(dt):
    """K/V bytes per element of a `<q>-<k>[+<v>]` dtype pair (K and V averaged)."""
    kv = dt.split("-", 1)[1].split("+")
    return sum(KV_BYTES.get(f, float("nan")) for f in (kv * 2)[:2]) / 2


def dt_key(dt):
    return (DT_ORDER.index(dt) if dt in DT_ORDER else len(DT_ORDER), dt)


def prefill(res, dt="f32-f32"):
    """Prefill rows in dtypes dt (None: all)."""
    return [a for a in res["attn"] if a["sq"] == a["skv"] and a["sq"] > 1 and (dt is None or dtypes_of(a) == dt)]


def decode(res, dt="f32-f32", shape=(32, 8, "bhsd")):
    """Decode rows in dtypes dt (None: all) of shape (heads_q, heads_kv, layout) (None: every shape;
    the default is the GQA head-major shape the tables and plots have always shown)."""
    return [a for a in res["attn"] if a["sq"] == 1 and (dt is None or dtypes_of(a) == dt) and
            (shape is None or (a["hq"], a["hkv"], a["layout"]) == shape)]


def isa_of(variant):
    return variant.split("_")[0]


def f32_base(rows, a, match):
    """The f32-f32 row a reduced-precision row compares with: the same variant, or (for a variant
    without f32, such as avx512_bf16_*) the f32 variant of the same ISA; same shape and threads."""
    same = [b for b in rows if dtypes_of(b) == "f32-f32" and match(a, b)]
    own = [b for b in same if b["variant"] == a["variant"]]
    if own:
        return own[0]
    peers = [b for b in same if isa_of(b["variant"]) == isa_of(a["variant"]) and b["variant"] != "blas_unfused"]
    return peers[0] if peers else None


def dtype_cells(rows, dts, pick, same, key, digits):
    """One table line's cells: per dtype pair, the row pick(a, dt) selects and its ratio to its
    f32 base (f32_base with the shape test `same`)."""
    cells = []
    for dt in dts:
        a = next((a for a in rows if pick(a, dt)), None)
        if a is None:
            cells.append("")
            continue
        b = f32_base(rows, a, same)
        r = f" ({a[key] / b[key]:.2f}x)" if b and b is not a and b[key] and a[key] else ""
        cells.append(f"{fmt(a[key], digits)}{r}{busy_mark(a)}")
    return cells


def dtype_tables(res):
    """Side-by-side dtype tables: decode tokens/s and prefill GFLOPS per (q, K/V) dtype pair, each
    with its ratio to f32-f32 of the same variant (or same ISA) in the same run."""
    L = []
    reduced = [a for a in res["attn"] if dtypes_of(a) != "f32-f32"]
    if not reduced:
        return L
    L.append("## Dtypes side by side\n")
    L.append("Each cell: the row's figure, then (in brackets) its ratio to the f32-f32 row of the same variant, "
             "shape and threads — for a variant without f32 (avx512_bf16_*) to the f32 variant of its ISA. "
             "Columns are `<q dtype>-<K/V dtype>`; accumulation is f32 throughout.\n")
    dec = decode(res, None)
    dec_red = [a for a in dec if dtypes_of(a) != "f32-f32"]
    if dec_red:
        dts = sorted({dtypes_of(a) for a in dec}, key=dt_key)
        a0 = dec_red[0]
        L.append(f"### Decode tokens/s ({a0['hq']}x{a0['hkv']} heads, head_dim {a0['d']})\n")
        L.append("| variant | threads | seq_kv | " + " | ".join(dts) + " |")
        L.append("|---|---|---|" + "---|" * len(dts))
        L.append("| K/V bytes per element | | | " + " | ".join(f"{kv_bytes_per_elem(dt):.4g}" for dt in dts) + " |")
        same = lambda x, y: x["skv"] == y["skv"] and x["t"] == y["t"]
        for v in variants_in(dec_red):
            for t in sorted({a["t"] for a in dec}):
                for s in sorted({a["skv"] for a in dec}):
                    pick = lambda a, dt: a["variant"] == v and a["t"] == t and a["skv"] == s and dtypes_of(a) == dt
                    cells = dtype_cells(dec, dts, pick, same, "tokens_per_s", 0)
                    L.append(f"| {v} | {t} | {s} | " + " | ".join(cells) + " |")
        L.append("")
    pre = prefill(res, None)
    pre_red = [a for a in pre if dtypes_of(a) != "f32-f32"]
    if pre_red:
        dts = sorted({dtypes_of(a) for a in pre}, key=dt_key)
        keys = sorted({(a["d"], a["mask"], a["t"]) for a in pre_red}, key=lambda g: (g[0], g[1] != "full", g[2]))
        same = lambda x, y: (x["sq"], x["d"], x["mask"], x["t"]) == (y["sq"], y["d"], y["mask"], y["t"])
        for d, mask, t in keys:
            rows = [a for a in pre if a["d"] == d and a["mask"] == mask and a["t"] == t]
            seqs = sorted({a["sq"] for a in pre_red if a["d"] == d and a["mask"] == mask and a["t"] == t})
            L.append(f"### Prefill GFLOPS, head_dim {d}, {mask}, {t} thread{'s' if t > 1 else ''}\n")
            L.append("| variant | seq | " + " | ".join(dts) + " |")
            L.append("|---|---|" + "---|" * len(dts))
            L.append("| K/V bytes per element | | " + " | ".join(f"{kv_bytes_per_elem(dt):.4g}" for dt in dts) + " |")
            for v in variants_in([a for a in pre_red if a["d"] == d and a["mask"] == mask and a["t"] == t]):
                for s in seqs:
                    pick = lambda a, dt: a["variant"] == v and a["sq"] == s and dtypes_of(a) == dt
                    cells = dtype_cells(rows, dts, pick, same, "GFLOPS", 1)
                    L.append(f"| {v} | {s} | " + " | ".join(cells) + " |")
            L.append("")
    return L


CHECK_QUANT = re.compile(r"^(PASS|FAIL) (?P<variant>\S+)\s+(?P<case>\S+)\s+out_err (?P<err>\S+) budget (?P<budget>\S+) "
                         r".* fmt_err (?P<fmt>\S+)")


def quant_errors(folder):
    """attn-check's quantized cases (check.txt): per case the kernels' largest out error against the oracle
    on the dequantized values, beside the format's own error (oracle on the quantized cache against the
    oracle on the f32 data it came from)."""
    path = os.path.join(folder, "check.txt")
    if not os.path.exists(path):
        return []
    cases = {}
    for line in open(path):
        m = CHECK_QUANT.match(line)
        if not m:
            continue
        c = cases.setdefault(m["case"], {"err": 0.0, "budget": 0.0, "fmt": float(m["fmt"]), "n": 0, "fail": 0})
        c["n"] += 1
        c["fail"] += line.startswith("FAIL")
        if float(m["err"]) >= c["err"]:
            c["err"], c["budget"] = float(m["err"]), float(m["budget"])
    if not cases:
        return []
    L = ["## Quantized K/V: the kernels' error beside the format's own\n",
         "attn-check's quantized cases (README, \"Quantized KV caches\"): `kernel` is the largest out error of the "
         "variants that ran the case, against the float64 oracle on the exactly dequantized values (judged by the "
         "unchanged rule: `budget`); `format` is what the format itself costs: the oracle on the quantized cache "
         "against the oracle on the f32 data it was quantized from.\n",
         "| case | variants | kernel | budget | format |", "|---|---|---|---|---|"]
    for name, c in cases.items():
        fails = f" ({c['fail']} FAIL)" if c["fail"] else ""
        L.append(f"| `{name}` | {c['n']}{fails} | {c['err']:.3g} | {c['budget']:.3g} | {c['fmt']:.3g} |")
    L.append("")
    return L


def quant_row_key(a):
    """the quantized-decode tables' order: ISA, variant, K/V formats, threads, seq_kv"""
    return (ISA_RANK.get(isa_of(a["variant"]), 99), a["variant"], dt_key(dtypes_of(a)), a["t"], a["skv"])


def quant_limits(res):
    """Quantized decode against this machine's two limits, read from the same run: tokens/s over
    min(stream GB/s / K/V bytes per token, 0.5 x the ISA's FMA peak / FLOPs per token), where FLOPs
    per token = 4 d heads_q seq_kv (README, "Quantized KV caches"); and over f32 K/V."""
    ctx = res["context"]
    rows = [a for a in decode(res, None) if a["kt"] not in ("f32", "f16", "bf16") and a["qt"] == "f32"]
    if not rows:
        return []
    L = ["## Quantized K/V decode against this machine's limits\n",
         "tokens/s of each format's decode row (32x8 heads, d128, BHSD) over the lower of this run's two limits: "
         "the stream probe over the K/V bytes per token (each format's real bytes), and half the FMA peak of the "
         "variant's ISA at that thread count over 4·d·heads_q·seq_kv FLOPs per token (exact f32 FMAs on the "
         "dequantized values). `limit` says which is lower; `vs f32` is over the f32-f32 row of the same variant, "
         "shape and threads.\n",
         "| variant | K/V | threads | seq_kv | tokens/s | limit (tokens/s) | over the limit | vs f32 |",
         "|---|---|---|---|---|---|---|---|"]
    f32 = {(a["variant"], a["t"], a["skv"]): a for a in decode(res)}
    for a in sorted(rows, key=quant_row_key):
        try:
            stream = float(ctx[f"stream_gbps_t{a['t']}"])
            peak = float(ctx[f"peak_gflops_{isa_of(a['variant'])}_t{a['t']}"])
        except (KeyError, ValueError):
            continue
        kv = a["kt"].split("+")
        by = a["hkv"] * a["skv"] * a["d"] * sum(KV_BYTES[f] for f in (kv * 2)[:2])
        fl = 4.0 * a["d"] * a["hq"] * a["skv"]
        bw_lim, fl_lim = stream * 1e9 / by, 0.5 * peak * 1e9 / fl
        lim = min(bw_lim, fl_lim)
        tps = a["tokens_per_s"] or 0.0
        base = f32.get((a["variant"], a["t"], a["skv"]))
        vs = f"{tps / base['tokens_per_s']:.2f}x" if base and base.get("tokens_per_s") else "–"
        L.append(f"| {a['variant']} | {a['kt']} | {a['t']} | {a['skv']} | {tps:.0f} | {lim:.0f} "
                 f"({'bandwidth' if bw_lim <= fl_lim else 'FMA'}) | {tps / lim:.2f} | {vs} |")
    L.append("")
    L.extend(quant_limits_paired(res))
    return L


def quant_limits_paired(res):
    """The limit/ rows: each round the decode row's calls, then the FMA probe of its ISA and the stream
    read at its thread count; the median over the rounds of the round's tokens/s over that round's limit."""
    rows = res["limit"]
    if not rows:
        return []
    L = ["### The same, against the limits measured beside each call (`limit/` rows)\n",
         "The table above divides each row's best repetition by the best probes of the whole run, measured "
         "minutes apart on a host whose speed moves by a third in that time. A `limit/` row runs, round after "
         "round, the decode row's calls (at least 64 MB of K/V), then the FMA probe of the variant's ISA (about "
         "4 ms) and the stream read, at the same thread count: `paired` is the median over the rounds of each "
         "round's tokens/s over the lower of that round's two limits (the median over the repetitions); "
         "`best/best` the best round over the best probes of the row; `limit` the median round's limit and how "
         "often the FMA term was the lower.\n",
         "| variant | K/V | threads | seq_kv | tokens/s (best round) | limit (tokens/s) | paired | best/best | rounds |",
         "|---|---|---|---|---|---|---|---|---|"]
    fmax = float(res["context"].get("foreign_cpu_max", FOREIGN_MAX))
    for a in sorted(rows, key=quant_row_key):
        def f(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "–"
        fb = a.get("fma_bound")
        kind = "FMA" if fb == 1 else "bandwidth" if fb == 0 else f"FMA in {fb:.0%}" if isinstance(fb, (int, float)) else "–"
        busy = BUSY if isinstance(a.get("foreign_cpu"), (int, float)) and a["foreign_cpu"] > fmax else ""
        L.append(f"| {a['variant']} | {a['kt']} | {a['t']} | {a['skv']} | {f(a['tokens_per_s'], '.0f')} | "
                 f"{f(a['limit_tokens_per_s'], '.0f')} ({kind}) | {f(a['over_limit'], '.2f')}{busy} | "
                 f"{f(a['over_limit_best'], '.2f')} | {f(a['rounds'], '.0f')} x {a['reps']} |")
    L.append("")
    return L


ISA_RANK = {}  # ISA -> rank, best first: the context's `isas` (load)
FOREIGN_MAX = 0.25  # when the context does not say (attn-bench's foreign_cpu_max)
BUSY = " ⚠"  # marks a cell whose row ran while other processes took more than foreign_cpu_max


def variants_in(rows):
    """The variants in rows, in a fixed order (the registry's: widest ISA first, within an ISA
    by name, so avx512_bf16_* before avx512_f32_*), scalar rows and blas_unfused last; the
    full sweep runs rows in random order, so the order seen in the JSON means nothing."""
    names = {a["variant"] for a in rows}
    return sorted(names, key=lambda v: (v == "blas_unfused", v in ("ref", "scalar_tiled"), v == "ref",
                                        ISA_RANK.get(isa_of(v), len(ISA_RANK)), v))


def best_peak(res, t):
    vals = [v for (isa, tt), v in res["peak"].items() if tt == t and v]
    if vals:
        return max(vals)
    ctx = res["context"]  # the measurement attn-bench made before the rows (always present)
    vals = [float(v) for k, v in ctx.items() if k.startswith("peak_gflops_") and k.endswith(f"_t{t}")]
    return max(vals) if vals else None


def layout_tables(res):
    """Decode for every head layout: MHA, GQA, MQA, each with K/V head-major (BHSD) and interleaved
    (BSHD): tokens/s and bw_frac, the BSHD/BHSD ratio, and the speed-up over naive_decode."""
    dec = [a for a in decode(res, "f32-f32", None)]
    shapes = sorted({(a["hq"], a["hkv"]) for a in dec}, key=lambda s: -s[1])
    if len({a["layout"] for a in dec}) < 2 and len(shapes) < 2:
        return []
    L = ["## Decode by head layout, f32: tokens/s (bw_frac); BSHD / BHSD; over naive_decode\n",
         "d 128, one query row per head. BHSD: K/V `[batch][kv_head][seq][d]`; BSHD: `[batch][seq][kv_head][d]` "
         "(the interleaved cache engines keep). naive_decode: the per-head loop an engine writes, built with "
         f"-O3 -ffast-math and the {res['context'].get('naive_decode_isa', '?')} folder's flags. "
         "`bshd/bhsd`: the two rows' tokens/s, measured minutes apart; `bshd/bhsd paired`: the `layout/` "
         "row, the two layouts' calls alternating round by round in one row (the median of its rounds' "
         "ratios, the median over its repetitions): what L3 held and the host's bandwidth at the time "
         "move the first, not the second.\n"]
    seqs = sorted({a["skv"] for a in dec})
    for hq, hkv in shapes:
        rows = [a for a in dec if a["hq"] == hq and a["hkv"] == hkv]
        kind = "MHA" if hq == hkv else "MQA" if hkv == 1 else "GQA"
        L.append(f"### {hq}x{hkv} heads ({kind})\n")
        L.append("| variant | threads | layout | " + " | ".join(f"kv {s}" for s in seqs) + " |")
        L.append("|---|---|---|" + "---|" * len(seqs))
        find = lambda v, t, lay, s: next((a for a in rows if a["variant"] == v and a["t"] == t and a["layout"] == lay
                                          and a["skv"] == s), None)
        for v in variants_in(rows):
            for t in sorted({a["t"] for a in rows}):
                for lay in ("bhsd", "bshd"):
                    cells = []
                    for s in seqs:
                        a = find(v, t, lay, s)
                        cells.append("" if a is None else
                                     f"{fmt(a['tokens_per_s'], 0)} ({fmt(a['bw_frac'], 2)}){busy_mark(a)}")
                    if any(cells):
                        L.append(f"| {v} | {t} | {lay} | " + " | ".join(cells) + " |")
                ratio = []
                for s in seqs:
                    a, b = find(v, t, "bshd", s), find(v, t, "bhsd", s)
                    ratio.append("" if a is None or b is None or not b["tokens_per_s"] else
                                 f"{a['tokens_per_s'] / b['tokens_per_s']:.2f}")
                if any(ratio):
                    L.append(f"| {v} | {t} | bshd/bhsd | " + " | ".join(ratio) + " |")
                paired = []
                for s in seqs:
                    p = next((x for x in res.get("layout", []) if x["variant"] == v and x["t"] == t and x["skv"] == s
                              and x["hq"] == hq and x["hkv"] == hkv and x["kt"] == "f32"), None)
                    paired.append("" if p is None or p["ratio"] is None else f"{p['ratio']:.2f}{busy_mark(p)}")
                if any(paired):
                    L.append(f"| {v} | {t} | bshd/bhsd paired | " + " | ".join(paired) + " |")
                if v != "naive_decode":
                    for lay in ("bhsd", "bshd"):
                        sp = []
                        for s in seqs:
                            a, n = find(v, t, lay, s), find("naive_decode", t, lay, s)
                            sp.append("" if a is None or n is None or not n["tokens_per_s"] else
                                      f"{a['tokens_per_s'] / n['tokens_per_s']:.2f}x")
                        if any(sp):
                            L.append(f"| {v} | {t} | {lay} over naive | " + " | ".join(sp) + " |")
        L.append("")
    return L


def call_table(res):
    """Per-call latency of tiny decode calls: through simdattn_forward, through a plan, and
    naive_decode's loop (microseconds, and the ratio to the loop)."""
    calls = res.get("call", [])
    if not calls:
        return []
    shape = calls[0]
    seqs = sorted({a["skv"] for a in calls})
    L = ["## Per-call latency of small decode calls (us per call; x naive_decode's loop)\n",
         f"{shape['hq']}x{shape['hkv']} heads, head_dim {shape['d']}, one query row, 1 thread (a llama2.c-sized "
         "model's call per layer per token). `plan`: simdattn_plan_execute on a plan made once, caller's workspace; "
         "`forward`: simdattn_forward; `loop`: naive_decode.\n",
         "| variant | entry | " + " | ".join(f"kv {s}" for s in seqs) + " |", "|---|---|" + "---|" * len(seqs)]
    loop = {a["skv"]: a["us_per_call"] for a in calls if a["entry"] == "loop"}
    for v in variants_in(calls):
        for entry in ("plan", "forward", "loop"):
            cells = []
            for s in seqs:
                a = next((a for a in calls if a["variant"] == v and a["entry"] == entry and a["skv"] == s), None)
                if a is None or a["us_per_call"] is None:
                    cells.append("")
                    continue
                x = f" ({a['us_per_call'] / loop[s]:.2f}x)" if loop.get(s) and entry != "loop" else ""
                cells.append(f"{a['us_per_call']:.3g}{x}")
            if any(cells):
                L.append(f"| {v} | {entry} | " + " | ".join(cells) + " |")
    L.append("")
    return L


def varlen_tables(res):
    """Paged decode against the contiguous row of the same bytes, the ragged prefill batch against
    the dense call of its longest sequence, the serving step, and the chunk-invariant mode's cost."""
    L = []
    by = res["by_name"]
    def rate(r, k="tokens_per_s"):
        return r.get(k) if r and not r.get("error_occurred") else None
    paged = [(n, b, suf, r) for n, (b, suf, r) in res["suffixed"].items() if suf.startswith("paged")]
    if paged:
        L.append("## Ragged batches and paged caches\n")
        L.append("Paged decode (one sequence, 32x8 heads, d128, f32, shuffled blocks): tokens/s of the paged row over "
                 "the contiguous head-major (BHSD) row of the same bytes, same run (`paged16`, `paged1`: vLLM's "
                 "`[block][head][slot][d]`; `bshd/paged16`: FlashAttention's `[block][slot][head][d]`); targets "
                 ">= 0.95 at block size 16, >= 0.8 at 1.\n")
        cols = sorted({("bshd/" if b.endswith("/bshd") else "") + suf for n, b, suf, r in paged},
                      key=lambda c: (c.startswith("bshd"), -int(c.split("paged")[1])))
        def row_order(k):  # variant, then threads, then seq_kv as numbers
            m = re.search(r"/kv(\d+)/.*/t(\d+)$", k[0])
            return (k[0].split("/")[1], int(m[2]), int(m[1])) if m else (k[0], 0, 0)
        keys = sorted({(b.replace("/bshd", ""),) for n, b, suf, r in paged}, key=row_order)
        L.append("| contiguous row | tokens/s | " + " | ".join(cols) + " |")
        L.append("|---|---|" + "---|" * len(cols))
        for (base,) in keys:
            c = rate(by.get(base))
            cells = []
            for col in cols:
                name = base + ("/bshd" if col.startswith("bshd/") else "") + "/" + col.split("/")[-1]
                p = rate(by.get(name))
                cells.append("" if p is None or not c else f"{p / c:.2f}")
            L.append(f"| `{base}` | {fmt(c) if c else ''} | " + " | ".join(cells) + " |")
        L.append("")
        pp = res.get("paged_pair", {})
        if pp:
            L.append("Paired: the `layout/...[/bshd]/paged<N>` rows run the paged row's calls and the contiguous BHSD "
                     "row's alternately, round by round (`paged_over_bhsd`: the median of the rounds' ratios, the "
                     "median over the repetitions). The table above divides rows measured minutes apart, which the "
                     "host's memory bandwidth at the time moves by a third; this one does not.\n")
            L.append("| contiguous row | " + " | ".join(cols) + " |")
            L.append("|---|" + "---|" * len(cols))
            for (base,) in keys:
                cells = []
                for col in cols:
                    name = base + ("/bshd" if col.startswith("bshd/") else "") + "/" + col.split("/")[-1]
                    ratio, r = pp.get(name, (None, None))
                    cells.append("" if ratio is None else f"{ratio:.2f}{busy_mark(r)}")
                if any(cells):
                    L.append(f"| `{base}` | " + " | ".join(cells) + " |")
            L.append("")
    for g in res["batch"]:
        if g["kind"] != "ragged":
            continue
        if not any(l.startswith("## Ragged") for l in L):
            L.append("## Ragged batches and paged caches\n")
        dense = by.get(f"attn/{g['variant']}/{g['dt']}/d{g['d']}/q2048/kv2048/h{g['hq']}x{g['hkv']}/causal/t{g['t']}")
        dpf = dense.get("peak_frac") if dense and not dense.get("error_occurred") else None
        pk = run_peak(res, isa_of(g["variant"]), int(g["t"]))
        gp = g["GFLOPS"] / pk if pk and g.get("GFLOPS") else g.get("peak_frac")
        dp = dense["GFLOPS"] / pk if pk and dense and dense.get("GFLOPS") else dpf
        L.append(f"- `{g['name']}`: peak_frac {fmt(gp, 3) if gp else '?'} against the dense q2048 causal row's "
                 f"{fmt(dp, 3) if dp else '?'}: **{gp / dp:.2f}x** (target >= 0.9)" if gp and dp else f"- `{g['name']}`")
    steps = [g for g in res["batch"] if g["kind"] == "step"]
    if steps:
        L.append("\nServing step (31 decode sequences with 1024-8192 cached keys and a 512-query chunk over a "
                 "4096-key prefix; paged, block size 16; 32x8 heads d128 f32):\n")
        L.append("| row | tokens/s | GFLOPS |\n|---|---|---|")
        for g in steps:
            L.append(f"| `{g['name']}` | {fmt(g['tokens_per_s'])} | {fmt(g['GFLOPS'])} |")
    chunk = [(n, b, r) for n, (b, suf, r) in res["suffixed"].items() if suf == "chunkinv"]
    if chunk:
        L.append("\nThe chunk-invariant mode (`options.flags = SIMDATTN_CHUNK_INVARIANT`): tokens/s with it over "
                 "without, same run.\n")
        L.append("| row | without | with | with / without |\n|---|---|---|---|")
        for n, b, r in sorted(chunk):
            c, w = rate(by.get(b)), rate(r)
            L.append(f"| `{b}` | {fmt(c) if c else ''} | {fmt(w) if w else ''} | "
                     f"{'' if not c or not w else f'{w / c:.2f}'} |")
    L.append("")
    return L


def bwd_tables(res):
    allrows = res.get("bwd", [])
    rows = [a for a in allrows if a["kind"] == "bwd"]
    steps = [a for a in allrows if a["kind"] == "fwdbwd"]
    if not rows:
        return []
    L = ["## Backward pass (attn_bwd/), f32: GFLOPS (peak_frac); x blas_unfused's backward\n",
         "GFLOPS counts 2.5 times the forward's FLOPs (FlashAttention's convention); peak_frac as in the prefill "
         "tables. Every row was first judged against the float64 oracle's gradients (dq, dk, dv) with the rule. "
         "blas_unfused: P and dP materialised, five OpenBLAS sgemm per head (OpenBLAS runs the kernels named above).\n"]
    long_rows = [a for a in rows if a["sq"] >= 32768 and a["variant"] != "blas_unfused"]
    if long_rows:
        a = max(long_rows, key=lambda a: a["GFLOPS"])
        need = 2 * 4 * a["sq"] * a["skv"] * a["hq"]
        ws = a.get("workspace_bytes")
        L.append(f"At seq {a['sq']} (no blas_unfused row: its P and dP would take {need / 1e9:.1f} GB per call) the rows are "
                 "judged on 32 spread dq rows and dk, dv keys against the float64 gradients computed from the forward's "
                 "out and lse" + (f"; the backward's workspace is {ws / 1e6:.0f} MB" if ws else "") + ".\n")
    for d, mask, t in sorted({(a["d"], a["mask"], a["t"]) for a in rows}, key=lambda g: (g[0], g[1] != "full", g[2])):
        sel = [a for a in rows if a["d"] == d and a["mask"] == mask and a["t"] == t]
        seqs = sorted({a["sq"] for a in sel})
        heads = {a["sq"]: a["hq"] for a in sel}
        blas = {a["sq"]: a["GFLOPS"] for a in sel if a["variant"] == "blas_unfused"}
        L.append(f"### head_dim {d}, {mask}, {t} thread{'s' if t > 1 else ''}\n")
        L.append("| variant | " + " | ".join(f"{s} (h{heads[s]})" for s in seqs) + " |")
        L.append("|---|" + "---|" * len(seqs))
        for v in variants_in(sel):
            cells = []
            for s in seqs:
                a = next((a for a in sel if a["variant"] == v and a["sq"] == s), None)
                x = "" if a is None or v == "blas_unfused" or not blas.get(s) else f", {a['GFLOPS'] / blas[s]:.2f}x"
                cells.append("" if a is None else f"{fmt(a['GFLOPS'])} ({fmt(a['peak_frac'], 3)}{x})")
            L.append(f"| {v} | " + " | ".join(cells) + " |")
        L.append("")
    if steps:
        L.append("### A training step's attention (attn_fwdbwd/: the forward with lse, then the backward), seq 2048\n")
        L.append("GFLOPS over 3.5 times the forward's FLOPs; ms per step.\n")
        L.append("| variant | head_dim | mask | threads | GFLOPS (peak_frac) | ms per step |")
        L.append("|---|---|---|---|---|---|")
        for v in variants_in(steps):
            for a in sorted((a for a in steps if a["variant"] == v), key=lambda a: (a["d"], a["mask"] != "full", a["t"])):
                ms = 1e3 * a["sq"] / a["tokens_per_s"] if a.get("tokens_per_s") else None
                L.append(f"| {v} | {a['d']} | {a['mask']} | {a['t']} | {fmt(a['GFLOPS'])} ({fmt(a['peak_frac'], 3)}) | "
                         f"{fmt(ms, 2) if ms else ''} |")
        L.append("")
    return L


def write_report(res, out_dir):
    c = res["context"]
    L = []
    L.append(f"# simdattn benchmark: {c.get('cpu_model', '?')}\n")
    if is_emulated(res):
        L.append("> **Emulated run** (qemu): timings say nothing about real hardware; shown only to prove the sweep runs.\n")
    L.append(f"- date: {c.get('date', '?')}, host: {c.get('host_name', '?')}, threads (all): {c.get('threads_all', '?')}")
    L.append(f"- CPU features detected: {c.get('cpu_features', '?')}; auto-dispatch picks `{c.get('auto_variant', '?')}`")
    L.append(f"- simdattn {c.get('simdattn_version', '?')} at {c.get('git_commit', c.get('git_commit_built', '?'))}; "
             f"compiler {c.get('compiler', '?')}; flags `{c.get('build_flags', '?')}`")
    L.append(f"- OpenBLAS for blas_unfused: {c.get('blas_config', '?')} (threading: {c.get('blas_threading', '?')})"
             + (f"; kernels {c['blas_coretype']}" if c.get("blas_coretype") else ""))
    L.append(f"- heads: {c.get('heads_rule', '?')}")
    L.append(f"- check: {c.get('check_rule', '?')}\n")
    busy = [a for a in res["attn"] if a.get("busy")]
    if busy:
        L.append(f"> **{len(busy)} of {len(res['attn'])} rows ran while other processes used more than "
                 f"{res['foreign_max']:.0%} of the machine** (foreign_cpu: /proc/stat busy time minus this process's "
                 f"own; each was re-run up to {c.get('load_rule', 'a few times').split('at most ')[-1]} and the "
                 f"least disturbed run kept): their cells are marked{BUSY} and their points drawn hollow; "
                 "do not trust them. Rerun on a quiet machine.\n")
    elif any(a.get("foreign_cpu") is not None for a in res["attn"]):
        L.append(f"No row ran while other processes used more than {res['foreign_max']:.0%} of the machine "
                 "(foreign_cpu, every row).\n")
    L.append("## This CPU's limits, measured in the same run\n")
    L.append("| probe | threads | GFLOP/s or GB/s |\n|---|---|---|")
    for (isa, t), v in sorted(res["peak"].items()):
        L.append(f"| FMA peak {isa} | {t} | {fmt(v)} |")
    for t in sorted(set(res["stream"]) | {int(k[len("stream_gbps_t"):]) for k in res["context"]
                                           if k.startswith("stream_gbps_t")}):
        L.append(f"| stream read (best of the run) | {t} | {fmt(run_stream(res, t))} GB/s |")
    L.append("")

    pre = prefill(res)
    groups = sorted({(a["d"], a["mask"], a["t"]) for a in pre}, key=lambda g: (g[0], g[1] != "full", g[2]))
    if groups:
        L.append("## Prefill (seq_q = seq_kv), f32: GFLOPS (peak_frac)\n")
        L.append("peak_frac divides by the best FMA peak this run measured for the variant's ISA and thread "
                 "count (scalar rows and blas_unfused: the highest peak). Each cell is the row's best of its "
                 "repetitions (the full sweep runs every row three times, in random order).\n")
    for d, mask, t in groups:
        rows = [a for a in pre if a["d"] == d and a["mask"] == mask and a["t"] == t]
        seqs = sorted({a["sq"] for a in rows})
        heads = {a["sq"]: a["hq"] for a in rows}
        L.append(f"### head_dim {d}, {mask}, {t} thread{'s' if t > 1 else ''}\n")
        L.append("| variant | " + " | ".join(f"{s} (h{heads[s]})" for s in seqs) + " |")
        L.append("|---|" + "---|" * len(seqs))
        blas = {a["sq"]: a["GFLOPS"] for a in rows if a["variant"] == "blas_unfused"}
        for v in variants_in(rows):
            cells = []
            for s in seqs:
                a = next((a for a in rows if a["variant"] == v and a["sq"] == s), None)
                cells.append("" if a is None else f"{fmt(a['GFLOPS'])} ({fmt(a['peak_frac'], 3)}){busy_mark(a)}")
            L.append(f"| {v} | " + " | ".join(cells) + " |")
        if blas:
            L.append("\nSpeed-up over blas_unfused (same shape, same threads):\n")
            L.append("| variant | " + " | ".join(str(s) for s in seqs) + " |")
            L.append("|---|" + "---|" * len(seqs))
            for v in variants_in(rows):
                if v == "blas_unfused":
                    continue
                cells = []
                for s in seqs:
                    a = next((a for a in rows if a["variant"] == v and a["sq"] == s), None)
                    cells.append("" if a is None or not blas.get(s) else f"{a['GFLOPS'] / blas[s]:.2f}x")
                L.append(f"| {v} | " + " | ".join(cells) + " |")
        L.append("")

    dec = decode(res)
    if dec:
        L.append("## Decode (seq_q = 1), f32: GB/s of K and V read (bw_frac), tokens/s\n")
        L.append("bw_frac divides by the best stream read this run measured at the same thread count (at startup, "
                 "the stream rows, or just before the row).\n")
        seqs = sorted({a["skv"] for a in dec})
        shape = dec[0]
        L.append(f"{shape['hq']} query heads on {shape['hkv']} kv heads, head_dim {shape['d']}, f32 q and K/V "
                 "(f16 and bf16 K/V: see Dtypes side by side).\n")
        L.append("| variant | threads | " + " | ".join(f"kv {s}" for s in seqs) + " |")
        L.append("|---|---|" + "---|" * len(seqs))
        for v in variants_in(dec):
            for t in sorted({a["t"] for a in dec}):
                cells = []
                for s in seqs:
                    a = next((a for a in dec if a["variant"] == v and a["skv"] == s and a["t"] == t), None)
                    cells.append("" if a is None else
                                 f"{fmt(a['GBps'])} ({fmt(a['bw_frac'], 2)}), {fmt(a['tokens_per_s'], 0)} tok/s"
                                 f"{busy_mark(a)}")
                L.append(f"| {v} | {t} | " + " | ".join(cells) + " |")
        L.append("")
    L.extend(bwd_tables(res))
    L.extend(layout_tables(res))
    L.extend(call_table(res))
    L.extend(dtype_tables(res))
    L.extend(quant_limits(res))
    L.extend(quant_errors(res["folder"]))
    ws = [a for a in prefill(res) if a.get("workspace_bytes") is not None]
    if ws:
        L.append("## Extra memory per call (workspace_bytes, all threads)\n")
        seqs = sorted({a["sq"] for a in ws})
        d0 = min(a["d"] for a in ws)
        tmax = max(a["t"] for a in ws)
        L.append(f"head_dim {d0}, full, {tmax} threads, heads as in the tables above.\n")
        L.append("| variant | " + " | ".join(str(s) for s in seqs) + " |")
        L.append("|---|" + "---|" * len(seqs))
        for v in variants_in(ws):
            cells = []
            for s in seqs:
                a = next((a for a in ws if a["variant"] == v and a["sq"] == s and a["d"] == d0
                          and a["mask"] == "full" and a["t"] == tmax), None)
                cells.append("" if a is None else human_bytes(a["workspace_bytes"]))
            L.append(f"| {v} | " + " | ".join(cells) + " |")
        L.append("")
    L.extend(varlen_tables(res))
    if res["errors"]:
        L.append("## Rows reported as errors (never timed)\n")
        for name, msg in res["errors"]:
            L.append(f"- `{name}`: {msg}")
        L.append("")
    L.append("Plots: [throughput.svg](throughput.svg), [decode.svg](decode.svg).\n")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(L))


def human_bytes(b):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024.0


def setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "simdattn"  # reproducible SVG ids
    import matplotlib.pyplot as plt
    return plt


def style_for(variants):
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
    return {v: colors[i % len(colors)] for i, v in enumerate(variants)}


def plot_series(ax, pts, color, linestyle, label, marker="o"):
    """pts: (x, y, busy) sorted by x. A line through all of them; a busy point (other processes took
    more than foreign_cpu_max of the machine while it ran) is drawn hollow and larger."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    solid = [i for i, p in enumerate(pts) if not p[2]]
    ax.plot(xs, ys, marker=marker, markersize=3, color=color, linestyle=linestyle, label=label, markevery=solid)
    hollow = [p for p in pts if p[2]]
    if hollow:
        ax.plot([p[0] for p in hollow], [p[1] for p in hollow], linestyle="none", marker=marker, markersize=7,
                markerfacecolor="none", markeredgecolor=color)


def busy_note(fig, res):
    if any(a.get("busy") for a in res["attn"]):
        fig.text(0.01, 0.005, f"hollow points: other processes used more than {res['foreign_max']:.0%} of the "
                 "machine while the row ran (foreign_cpu); do not trust them", fontsize=8, color="#b00000")


def plot_throughput(res, out_dir):
    plt = setup_matplotlib()
    pre = prefill(res)
    panels = sorted({(a["d"], a["mask"]) for a in pre}, key=lambda p: (p[0], p[1] != "full"))
    if not panels:
        return
    threads = sorted({a["t"] for a in pre})
    variants = variants_in(pre)
    color = style_for(variants)
    cols = 2
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 4.2 * nrows), squeeze=False)
    for k, (d, mask) in enumerate(panels):
        ax = axes[k // cols][k % cols]
        for v in variants:
            for t in threads:
                pts = sorted((a["sq"], a["GFLOPS"], a.get("busy", False)) for a in pre
                             if a["variant"] == v and a["d"] == d and a["mask"] == mask and a["t"] == t)
                if pts:
                    plot_series(ax, pts, color[v], "-" if t == 1 else "--", f"{v} t{t}")
        for t in threads:
            pk = best_peak(res, t)
            if pk:
                ax.axhline(pk, color="black", linewidth=1, linestyle="-" if t == 1 else "--", alpha=0.6,
                           label=f"FMA peak t{t} ({pk:.0f})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"head_dim {d}, {mask}")
        ax.set_xlabel("sequence length (seq_q = seq_kv)")
        ax.set_ylabel("GFLOP/s")
        ax.grid(True, which="both", alpha=0.3)
    for k in range(len(panels), nrows * cols):
        axes[k // cols][k % cols].axis("off")
    h, l = axes[0][0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"Prefill throughput — {res['context'].get('cpu_model', '?')}"
                 + (" (EMULATED)" if is_emulated(res) else ""))
    fig.tight_layout(rect=(0, 0.08 + 0.02 * len(variants), 1, 0.97))
    busy_note(fig, res)
    fig.savefig(os.path.join(out_dir, "throughput.svg"), metadata={"Date": None})
    plt.close(fig)


def plot_decode(res, out_dir):
    plt = setup_matplotlib()
    dec = decode(res)
    if not dec:
        return
    threads = sorted({a["t"] for a in dec})
    every = decode(res, None)
    variants = variants_in(every)
    color = style_for(variants)
    dts = sorted({dtypes_of(a) for a in every}, key=dt_key)
    fig, axes = plt.subplots(1, 2 if len(dts) > 1 else 1, figsize=(15 if len(dts) > 1 else 8, 5.5), squeeze=False)
    ax = axes[0][0]
    for v in variants:
        for t in threads:
            pts = sorted((a["skv"], a["GBps"], a.get("busy", False)) for a in dec if a["variant"] == v and a["t"] == t)
            if pts:
                plot_series(ax, pts, color[v], "-" if t == 1 else "--", f"{v} t{t}")
    for t in threads:
        s = run_stream(res, t)
        if s:
            ax.axhline(s, color="black", linewidth=1, linestyle="-" if t == 1 else "--", alpha=0.6,
                       label=f"stream read t{t} ({s:.0f} GB/s)")
    a0 = dec[0]
    ax.set_xscale("log", base=2)
    ax.set_xlabel("seq_kv (seq_q = 1)")
    ax.set_ylabel("GB/s of K and V read")
    ax.set_title("f32: bandwidth")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    if len(dts) > 1:  # tokens/s per dtype pair, all threads
        ax = axes[0][1]
        tmax = max(threads)
        styles = ["-", "--", ":", "-."]
        markers = "osd^v"
        for v in variants:
            for k, dt in enumerate(dts):
                pts = sorted((a["skv"], a["tokens_per_s"], a.get("busy", False)) for a in every
                             if a["variant"] == v and a["t"] == tmax and dtypes_of(a) == dt)
                if pts:
                    plot_series(ax, pts, color[v], styles[k % 4], f"{v} {dt}", markers[k % 5])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("seq_kv (seq_q = 1)")
        ax.set_ylabel("tokens/s")
        ax.set_title(f"tokens/s by <q>-<K/V> dtype, {tmax} thread{'s' if tmax > 1 else ''}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Decode, {a0['hq']}x{a0['hkv']} heads, d{a0['d']} — {res['context'].get('cpu_model', '?')}"
                 + (" (EMULATED)" if is_emulated(res) else ""))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    busy_note(fig, res)
    fig.savefig(os.path.join(out_dir, "decode.svg"), metadata={"Date": None})
    plt.close(fig)


def compare(results, out_dir):
    native = [r for r in results if not is_emulated(r)]
    emulated = [r for r in results if is_emulated(r)]
    if native and emulated:
        sys.exit("report.py: refusing to put emulated results ("
                 + ", ".join(r["folder"] for r in emulated) + ") beside native ones: emulated timings mean nothing")
    plt = setup_matplotlib()
    os.makedirs(out_dir, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    L = ["# simdattn across CPUs\n", "Prefill, head_dim 128, full, 1 thread: GFLOPS (peak_frac)\n"]
    markers = "osd^v<>p*h"
    for ci, res in enumerate(results):
        rows = [a for a in prefill(res) if a["d"] == 128 and a["mask"] == "full" and a["t"] == 1]
        for v in variants_in(rows):
            pts = sorted((a["sq"], a["GFLOPS"], a["peak_frac"]) for a in rows if a["variant"] == v)
            lab = f"{v} — {cpu_label(res)}"
            axes[0].plot([p[0] for p in pts], [p[2] for p in pts], marker=markers[ci % len(markers)], label=lab)
            axes[1].plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[ci % len(markers)], label=lab)
            L.append(f"- {lab}: " + ", ".join(f"{p[0]}: {p[1]:.1f} ({p[2]:.3f})" for p in pts if p[2] is not None))
    for ax, yl in ((axes[0], "fraction of the CPU's own FMA peak"), (axes[1], "GFLOP/s")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length")
        ax.set_ylabel(yl)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Prefill, head_dim 128, full, 1 thread: normalised to each CPU's peak (left) and absolute (right)")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "compare.svg"), metadata={"Date": None})
    plt.close(fig)
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write("\n".join(L) + "\n\nPlot: [compare.svg](compare.svg)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="results folders holding bench.json")
    ap.add_argument("--out", help="with several folders: where compare.md and compare.svg go")
    args = ap.parse_args()
    results = [load(f) for f in args.folders]
    if len(results) == 1:
        res = results[0]
        write_report(res, res["folder"])
        plot_throughput(res, res["folder"])
        plot_decode(res, res["folder"])
        print(os.path.join(res["folder"], "report.md"))
    else:
        out = args.out or "results/compare"
        compare(results, out)
        print(os.path.join(out, "compare.md"))


if __name__ == "__main__":
    main()
