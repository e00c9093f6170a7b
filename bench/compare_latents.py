#!/usr/bin/env python3
"""Relative L2 between the `latents` (and any common step_<i>) of two safetensors files, e.g.
`jenga debug denoise` output against the official loop's (tools/golden/jenga_wan_pipeline.py).
Prints one JSON line."""
import json
import sys

from safetensors.torch import load_file

a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
out = {"ours": sys.argv[1], "reference": sys.argv[2]}
for k in sorted(set(a) & set(b)):
    if k == "latents" or k.startswith("step_"):
        x, y = a[k].float(), b[k].float()
        out[k] = float((x - y).norm() / y.norm()) if x.shape == y.shape else "shape %s vs %s" % (list(x.shape), list(y.shape))
if "teacache_computed" in a and "teacache_computed" in b and a["teacache_computed"].shape == b["teacache_computed"].shape:
    out["teacache_same"] = bool((a["teacache_computed"].int() == b["teacache_computed"].int()).all())
print(json.dumps(out))
