#!/usr/bin/python3
"""tests/check_bench_json.py BENCH_JSON: validates attn-bench's JSON (never its speed).
Every row's name follows the grammar (peak/<isa>/ for an ISA the context's `isas` lists: the ISA
table's rows this build has); attn/ and attn_bwd/ (the backward pass) rows carry GFLOPS, peak_frac, tokens_per_s, workspace_bytes
and foreign_cpu in [0, 1] (decode rows also GBps and bw_frac; `/bshd` marks the interleaved cache;
naive_decode is a baseline in the same names); call/ rows (per-call latency: forward, plan, or
naive_decode's loop) carry us_per_call; layout/ rows (a decode shape's BHSD and BSHD calls paired
round by round) bshd_over_bhsd and its best-round twin, positive, each side's tokens_per_s, at least
7 rounds and foreign_cpu (a paged decode row's paired twin, `layout/.../paged<N>`: paged_over_bhsd...); limit/ rows
(a quantized decode row over the limits measured beside it, round by round) over_limit, its best-round twin, tokens_per_s
and limit_tokens_per_s, positive, fma_bound in [0, 1], at least 9 rounds and foreign_cpu; peak/ rows GFLOPS, stream/ rows GBps; no row
errored; peak_frac lies in (0, 3] (natively and uninstrumented only: under emulation or in a
sanitizer build, which slows the peak probe 8x but not OpenBLAS, timings mean nothing). 3, not 1:
this is a check of units and FLOP counts, not of speed; on a loaded machine the peak probe can
catch a busy core and read half the real peak (seen once in ctest -j2); the
context names the CPU, its features, the compiler, the commit and the auto-dispatch pick."""
import json
import os
import re
import sys

ATTN = re.compile(r"^attn/[a-z0-9_]+/(f32|f16|bf16)-(f32|f16|bf16|q8_0|q4_0|fp8e4m3|fp8e5m2)(\+(q8_0|q4_0|fp8e4m3|fp8e5m2|f32|f16|bf16))?/d\d+/q\d+/kv\d+/h\d+x\d+/(full|causal)/t\d+(/bshd)?(/paged\d+|/chunkinv)?$")
BWD = re.compile(r"^attn_(bwd|fwdbwd)/[a-z0-9_]+/(f32|f16|bf16)-(f32|f16|bf16)/d\d+/q\d+/kv\d+/h\d+x\d+/(full|causal)/t\d+$")
RAGGED = re.compile(r"^(ragged/[a-z0-9_]+/(f32|f16|bf16)-(f32|f16|bf16)/d\d+/n\d+/q\d+-\d+/h\d+x\d+/(full|causal)/t\d+"
                    r"|step/[a-z0-9_]+/(f32|f16|bf16)-(f32|f16|bf16)/d\d+/n\d+/h\d+x\d+/t\d+)$")
CALL = re.compile(r"^call/([a-z0-9_]+)/(forward|plan|loop)/d\d+/kv\d+/h\d+x\d+/t\d+$")
STREAM = re.compile(r"^stream/t\d+$")
LIMIT = re.compile(r"^limit/[a-z0-9_]+/(f32|f16|bf16)-(q8_0|q4_0|fp8e4m3|fp8e5m2)(\+(q8_0|q4_0|fp8e4m3|fp8e5m2))?/d\d+/q1/kv\d+/h\d+x\d+/causal/t\d+$")
LAYOUT = re.compile(r"^layout/[a-z0-9_]+/(f32|f16|bf16)-(f32|f16|bf16)/d\d+/q1/kv\d+/h\d+x\d+/(full|causal)/t\d+((/bshd)?/paged\d+)?$")

def paired_row(n, r, positive, fractions, min_rounds, bad):
    """A layout/ or limit/ row (calls paired round by round): counters `positive` > 0, `fractions`
    and foreign_cpu in [0, 1], at least min_rounds rounds."""
    for c in positive:
        if not (isinstance(r.get(c), (int, float)) and r[c] > 0):
            bad.append(f"{n}: counter {c} {r.get(c)!r} not positive")
    for c in fractions + ("foreign_cpu",):
        if not (isinstance(r.get(c), (int, float)) and 0 <= r[c] <= 1):
            bad.append(f"{n}: {c} {r.get(c)!r} outside [0, 1]")
    if not (isinstance(r.get("rounds"), (int, float)) and r["rounds"] >= min_rounds):
        bad.append(f"{n}: rounds {r.get('rounds')!r} below {min_rounds}")


def main():
    data = json.load(open(sys.argv[1]))
    ctx, rows = data["context"], data["benchmarks"]
    bad = []
    for key in ("cpu_model", "cpu_features", "compiler", "build_flags", "git_commit_built", "auto_variant",
                "threads_all", "emulated", "sanitized", "heads_rule", "simdattn_version", "isas", "foreign_cpu_max", "naive_decode_isa"):
        if key not in ctx:
            bad.append(f"context lacks {key}")
    # the OpenBLAS kernels blas_unfused ran, and where their choice came from (attn-bench runs itself
    # again with OPENBLAS_CORETYPE when OpenBLAS fell back to kernels below this CPU's ISA)
    core = ctx.get("blas_coretype", "")
    if not core:
        bad.append("context lacks blas_coretype")
    elif "set by attn-bench" in core and f" {core.split(':')[0]} " not in ctx.get("blas_config", ""):
        bad.append(f"blas_coretype {core!r} but blas_config {ctx.get('blas_config')!r}")
    isas = [i for i in ctx.get("isas", "").split(",") if i]
    peak = re.compile(r"^peak/(" + "|".join(map(re.escape, isas or ["-"])) + r")/t\d+$")
    native = ctx.get("emulated") != "yes" and ctx.get("sanitized") != "yes"
    kinds = {"attn": 0, "peak": 0, "stream": 0, "decode": 0, "blas": 0, "naive": 0, "bshd": 0, "call": 0, "layout": 0, "paged": 0, "ragged": 0, "bwd": 0, "limit": 0}
    for r in rows:
        n = r["name"]
        if r.get("error_occurred"):
            bad.append(f"{n}: error: {r.get('error_message')}")
            continue
        if ATTN.match(n):
            kinds["attn"] += 1
            kinds["blas"] += "/blas_unfused/" in n
            kinds["naive"] += "/naive_decode/" in n
            kinds["bshd"] += n.endswith("/bshd")
            kinds["paged"] += "/paged" in n
            need = ["GFLOPS", "peak_frac", "tokens_per_s", "workspace_bytes", "foreign_cpu"]
            if "/q1/" in n:
                kinds["decode"] += 1
                need += ["GBps", "bw_frac"]
            for c in need:
                if not isinstance(r.get(c), (int, float)):
                    bad.append(f"{n}: no counter {c}")
            fc = r.get("foreign_cpu")
            if isinstance(fc, (int, float)) and not 0 <= fc <= 1:
                bad.append(f"{n}: foreign_cpu {fc} outside [0, 1]")
            pf = r.get("peak_frac")
            if native and isinstance(pf, (int, float)) and not 0 < pf <= 3.0:
                bad.append(f"{n}: peak_frac {pf} outside (0, 3]")
        elif RAGGED.match(n) or BWD.match(n):  # (the backward's rows carry the same counters)
            kinds["bwd" if BWD.match(n) else "ragged"] += 1
            for c in ("GFLOPS", "peak_frac", "tokens_per_s", "workspace_bytes", "foreign_cpu"):
                if not isinstance(r.get(c), (int, float)):
                    bad.append(f"{n}: no counter {c}")
            pf = r.get("peak_frac")
            if native and isinstance(pf, (int, float)) and not 0 < pf <= 3.0:
                bad.append(f"{n}: peak_frac {pf} outside (0, 3]")
        elif CALL.match(n):
            kinds["call"] += 1
            m = CALL.match(n)
            if (m.group(1) == "naive_decode") != (m.group(2) == "loop"):
                bad.append(f"{n}: 'loop' is naive_decode's entry, forward/plan the library's")
            for c in ("us_per_call", "GFLOPS", "tokens_per_s", "foreign_cpu"):
                if not isinstance(r.get(c), (int, float)):
                    bad.append(f"{n}: no counter {c}")
            if isinstance(r.get("us_per_call"), (int, float)) and not r["us_per_call"] > 0:
                bad.append(f"{n}: us_per_call {r['us_per_call']} not positive")
        elif LAYOUT.match(n):
            kinds["layout"] += 1
            side = "paged" if "/paged" in n else "bshd"  # a paged decode row paired with its BHSD row
            paired_row(n, r, (f"{side}_over_bhsd", f"{side}_over_bhsd_best", "bhsd_tokens_per_s",
                              f"{side}_tokens_per_s"), (), 7, bad)
        elif LIMIT.match(n):
            kinds["limit"] += 1
            paired_row(n, r, ("over_limit", "over_limit_best", "tokens_per_s", "limit_tokens_per_s"),
                       ("fma_bound",), 9, bad)
        elif peak.match(n):
            kinds["peak"] += 1
            if not r.get("GFLOPS", 0) > 0:
                bad.append(f"{n}: no GFLOPS")
        elif STREAM.match(n):
            kinds["stream"] += 1
            if not r.get("GBps", 0) > 0:
                bad.append(f"{n}: no GBps")
        else:
            bad.append(f"{n}: name outside the grammar")
    # (a filtered quick sweep, under sanitizers or an emulator, leaves the ragged/ rows out)
    needed = ("attn", "peak", "stream", "decode", "naive", "bshd", "call", "layout", "paged", "ragged", "limit")
    flt = os.environ.get("SA_BENCH_FILTER", "")
    needed = tuple(k for k in needed if not (k in ("ragged", "limit") and f"{k}/" in flt))
    for k in needed:
        if kinds[k] == 0:
            bad.append(f"no {k} rows")
    for b in bad:
        print("BAD:", b)
    print(f"{len(rows)} rows ({kinds}); {len(bad)} problems")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
