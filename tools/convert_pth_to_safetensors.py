#!/usr/bin/env python3
"""One-time conversion of published .pth/.pt state dicts (Wan2.1_VAE.pth,
models_t5_umt5-xxl-enc-bf16.pth, HunyuanVideo's transformers/mp_rank_00_model_states.pt, whose
state dict sits under "module") to safetensors with the same key names and dtypes, which jenga
reads. Loads with torch.load(weights_only=True), so no pickled code is executed.

usage: tools/convert_pth_to_safetensors.py IN.pth OUT.safetensors
"""
import os
import sys

USAGE = 'usage: tools/convert_pth_to_safetensors.py IN.pth OUT.safetensors'


def main():
    if len(sys.argv) == 2 and sys.argv[1] in ('-h', '--help'):
        print(__doc__.strip())
        print('needs: python3 with torch and safetensors (pip install torch safetensors)')
        return 0
    if len(sys.argv) != 3:
        print(USAGE, file=sys.stderr)
        return 2
    # torch is imported only for real work, so --help and usage errors need neither package.
    try:
        import torch
        from safetensors.torch import save_file
    except ImportError as e:
        print(f'error: this conversion needs torch and safetensors ({e.name} is missing): '
              'pip install torch safetensors', file=sys.stderr)
        return 1
    src, dst = sys.argv[1], sys.argv[2]
    if not os.path.isfile(src):
        print(f'error: {src}: not a regular file', file=sys.stderr)
        return 1
    sd = torch.load(src, map_location='cpu', weights_only=True)
    # A training checkpoint wraps the state dict (HunyuanVideo: {"module": ...}).
    for key in ('module', 'model', 'state_dict'):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
            break
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        print(f'error: {src} is not a state dict of tensors', file=sys.stderr)
        return 1
    tmp = dst + '.tmp'
    save_file({k: v.contiguous() for k, v in sd.items()}, tmp)
    os.replace(tmp, dst)
    print(f'wrote {dst}: {len(sd)} tensors')
    return 0


if __name__ == '__main__':
    sys.exit(main())
