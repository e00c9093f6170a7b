#!/usr/bin/env python3
"""Facts of the official Jenga HunyuanVideo-I2V script for tests/test_hunyuan_i2v_loop.cpp, read
from the Jenga checkout (dvlab-research/Jenga) without running a model:
  step_calc         jenga_hyi2v.py's computed-step list (ast of the module-level assignment)
  text_blocks       the default of block_sparse_attention(text_blocks=...) in
                    hyvideo_i2v/modules/attention_block_triton_diffres.py
  pad_*             its zero padding of image + text rows to a multiple of 128, for 720p x 125 frames
                    (704 x 1248 bucket: 32 x 44 x 78 tokens) and 396 text rows
  curve_*           gilbert.gilbert_mapping(T, H, W) on small grids and ra_forward's
                    first_frame_mask[hilbert_order] (frame 0 = the first H*W raster tokens)
Writes OUT/hyi2v_facts.json.

usage: tools/golden/jenga_hyi2v_facts.py --jenga /path/to/Jenga --out tests/data/jenga_core/
"""
import argparse
import ast
import json
import os
import sys


def module_assignment(path, name):
    tree = ast.parse(open(path).read())
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                value = ast.literal_eval(node.value)  # the last literal assignment wins, as at import
            except ValueError:
                pass
    return value


def default_arg(path, func, arg):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            args = node.args.args
            defaults = node.args.defaults
            for a, d in zip(args[len(args) - len(defaults):], defaults):
                if a.arg == arg:
                    return ast.literal_eval(d)
    raise KeyError(f"{func}({arg}=...) not found in {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jenga", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.jenga)
    import types
    for m in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"):  # gilbert.py: plots only
        sys.modules.setdefault(m, types.ModuleType(m))
    sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]
    sys.modules["mpl_toolkits.mplot3d"].Axes3D = object
    from gilbert import gilbert_mapping

    facts = {"step_calc": module_assignment(os.path.join(a.jenga, "jenga_hyi2v.py"), "step_calc"),
             "text_blocks": default_arg(os.path.join(a.jenga, "hyvideo_i2v/modules/attention_block_triton_diffres.py"),
                                        "block_sparse_attention", "text_blocks")}
    img, txt, block = 32 * 44 * 78, 396, 128
    ctx = img + txt
    facts["pad_image_tokens"], facts["pad_text_tokens"] = img, txt
    facts["pad_rows"] = block - (ctx % block) if ctx % block != 0 else 0  # the attention file's formula
    curves = []
    for t, h, w in [(3, 4, 6), (2, 6, 10), (5, 2, 4)]:
        _, hilbert_to_linear = gilbert_mapping(t, h, w)
        mask = [1 if r < h * w else 0 for r in hilbert_to_linear]  # first_frame_mask[hilbert_order]
        curves.append({"t": t, "h": h, "w": w, "order": list(hilbert_to_linear), "first_frame_mask": mask})
    facts["curves"] = curves
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "hyi2v_facts.json"), "w") as f:
        json.dump(facts, f)
    print("wrote", os.path.join(a.out, "hyi2v_facts.json"), len(facts["step_calc"]), "computed steps")


if __name__ == "__main__":
    main()
