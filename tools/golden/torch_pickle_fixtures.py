#!/usr/bin/env python3
"""Fixtures for jenga's PyTorch checkpoint reader (src/io/torch_checkpoint.*), written by real
torch into tests/data/torch_pickle/:

  <name>.pt / .pth                       torch.save output (zip, legacy, several pickle protocols)
  <name>.expected.safetensors            every tensor jenga must read from it, flattened names,
                                         contiguous, same dtype and bytes
  bad/*.pt                               malicious or corrupt files, each refused with a clear error
  wan_t5_tiny.pth                        tests/data/wan_t5/tiny_t5.safetensors re-saved by torch.save,
                                         as Wan's models_t5_umt5-xxl-enc-bf16.pth is published

usage: tools/golden/torch_pickle_fixtures.py [--out tests/data/torch_pickle]
"""
import argparse
import collections
import io
import os
import struct
import zipfile

import torch
from safetensors.torch import load_file, save_file


def expected(path, tensors):
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, path)


def dtype_tensors():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(3, 5, generator=g)
    return {
        'f32': f,
        'f16': (f * 3).half(),
        'bf16': (f * 7).bfloat16(),
        'f64': f.double() / 3,
        'i64': torch.tensor([-(2 ** 40), -1, 0, 1, 2 ** 50], dtype=torch.int64),
        'i32': torch.tensor([[-7, 8], [2 ** 30, -(2 ** 31)]], dtype=torch.int32),
        'i16': torch.tensor([-300, 300], dtype=torch.int16),
        'i8': torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        'u8': torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'fp8_e4m3': (f * 10).to(torch.float8_e4m3fn),
        'fp8_e5m2': (f * 100).to(torch.float8_e5m2),
        'scalar': torch.tensor(2.5),                 # 0-dim
        'empty': torch.zeros(0, 4),                  # no elements
    }


def view_tensors():
    """Views of shared storages: offsets, transposes, strided slices, an expand, tied weights."""
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    cube = torch.arange(60, dtype=torch.bfloat16).reshape(3, 4, 5)
    col = torch.arange(5, dtype=torch.float32).reshape(5, 1)
    t = {
        'base': base,
        'rows': base[2:4],                 # contiguous, storage offset 16
        'transposed': base.t(),            # strides (1, 8)
        'column': base[:, 3],              # stride 8, offset 3
        'block': base[1:5, 2:7],           # offset 10, strides (8, 1), not contiguous
        'every_other': base[::2, 1::3],    # strides (16, 3)
        'cube_perm': cube.permute(2, 0, 1),
        'cube_slice': cube[1],             # bf16 view, offset 20
        'expanded': col.expand(5, 3),      # stride 0
        'tied_a': col,
        'tied_b': col,                     # the same tensor under two names
    }
    return t


def save_zip_as(obj, path, top):
    """torch.save names the zip's top folder after the file (or "archive" for a buffer)."""
    if top == 'archive':
        buf = io.BytesIO()
        torch.save(obj, buf)
        open(path, 'wb').write(buf.getvalue())
    else:
        torch.save(obj, path)


def strip_entries(src, dst, drop):
    """An older torch's zip (no byteorder / .format_version records): the same entries, minus some."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if not any(info.filename.endswith(d) for d in drop):
                zout.writestr(info.filename, zin.read(info.filename))


# ---- hand-made pickles for the malicious / corrupt cases --------------------------------------

def uni(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def glob(m, n):
    return b'c' + m.encode() + b'\n' + n.encode() + b'\n'


def long(n):
    return b'\x8a\x08' + struct.pack('<q', n)


def tup(xs):
    return b'(' + b''.join(long(x) for x in xs) + b't'


def storage(key, cls='FloatStorage', numel=4):
    return b'(' + uni('storage') + glob('torch', cls) + uni(key) + uni('cpu') + long(numel) + b'tQ'


def tensor(stor, offset, size, stride):
    return (glob('torch._utils', '_rebuild_tensor_v2') + b'(' + stor + long(offset) + tup(size) + tup(stride) +
            b'\x89' + glob('collections', 'OrderedDict') + b')R' + b'tR')


def state_dict(entries):
    return b'\x80\x02}(' + b''.join(uni(k) + v for k, v in entries) + b'u.'


def torch_zip(path, pkl, storages, top='bad', byteorder=b'little', compress=False):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr(f'{top}/data.pkl', pkl)
        z.writestr(f'{top}/byteorder', byteorder)
        for k, v in storages.items():
            z.writestr(f'{top}/data/{k}', v)
        z.writestr(f'{top}/version', b'3\n')


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def write_bad(out):
    os.makedirs(out, exist_ok=True)
    four = struct.pack('<4f', 1, 2, 3, 4)
    ok = tensor(storage('0'), 0, [4], [1])
    # Real torch.save of objects whose unpickling would run code.
    torch.save({'w': torch.ones(2), 'x': Evil(os.system, 'echo pwned')}, f'{out}/os_system.pt')
    torch.save({'w': torch.ones(2), 'x': Evil(eval, '__import__("os").system("echo pwned")')}, f'{out}/eval.pt')
    torch.save({'w': torch.ones(2), 'x': collections.Counter('ab')}, f'{out}/unknown_global.pt')
    # A storage class called instead of named in a persistent id.
    torch_zip(f'{out}/call_storage.pt', state_dict([('w', glob('torch', 'FloatStorage') + b'(' + long(4) + b'tR')]), {})
    # Nesting: 2000 MARKs; a list nested 10000 deep; dicts nested 200 deep holding a tensor.
    torch_zip(f'{out}/deep_marks.pt', b'\x80\x02' + b'(' * 2000 + b'.', {})
    torch_zip(f'{out}/deep_lists.pt', b'\x80\x02}' + uni('x') + b']' * 10000 + b'a' * 9999 + b's.', {})
    nested = b'\x80\x02}' + b''.join(uni('k') + b'}' for _ in range(200)) + uni('w') + ok + b's' * 201 + b'.'
    torch_zip(f'{out}/deep_dicts.pt', nested, {'0': four})
    # Memo tricks: a list that holds itself (fine: loads 'w'); a read of a memo slot never written.
    cyclic = b'\x80\x02}(' + uni('w') + ok + uni('loop') + b']q\x01h\x01a' + b'u.'
    torch_zip(f'{out}/cycle.pt', cyclic, {'0': four})
    torch_zip(f'{out}/memo_out_of_range.pt', b'\x80\x02}(' + uni('w') + b'h\xc8' + b'u.', {})
    # Doubling DAG: 30 levels of [(x, x)] over one tensor (2^30 paths; each container is visited once).
    lv = b'\x80\x02}(' + uni('w') + ok + b'r' + struct.pack('<I', 0)
    for i in range(30):
        lv += b']j' + struct.pack('<I', i) + b'j' + struct.pack('<I', i) + b'\x86ar' + struct.pack('<I', i + 1) + b'0'
    lv += uni('dag') + b'j' + struct.pack('<I', 30) + b'u.'
    torch_zip(f'{out}/doubling_dag.pt', lv, {'0': four})
    # Bad views and storages.
    torch_zip(f'{out}/offset_past_end.pt', state_dict([('w', tensor(storage('0'), 3, [2], [1]))]), {'0': four})
    torch_zip(f'{out}/stride_past_end.pt', state_dict([('w', tensor(storage('0'), 0, [2, 2], [1, 3]))]), {'0': four})
    torch_zip(f'{out}/huge_shape.pt', state_dict([('w', tensor(storage('0'), 0, [2 ** 62, 2 ** 62], [0, 0]))]),
              {'0': four})
    torch_zip(f'{out}/overflow_strides.pt', state_dict([('w', tensor(storage('0'), 0, [3, 3], [2 ** 62, 2 ** 62]))]),
              {'0': four})
    torch_zip(f'{out}/storage_too_small.pt', state_dict([('w', tensor(storage('0', numel=1000), 0, [4], [1]))]),
              {'0': four})
    torch_zip(f'{out}/missing_storage.pt', state_dict([('w', tensor(storage('7'), 0, [4], [1]))]), {'0': four})
    torch_zip(f'{out}/negative_stride.pt', state_dict([('w', tensor(storage('0'), 0, [2], [-1]))]), {'0': four})
    torch_zip(f'{out}/big_expand.pt', state_dict([('w', tensor(storage('0'), 0, [1 << 20, 1 << 10], [0, 0]))]),
              {'0': four})
    # Container problems.
    torch_zip(f'{out}/compressed.pt', state_dict([('w', ok)]), {'0': b'\0' * 1024}, compress=True)
    torch_zip(f'{out}/big_endian.pt', state_dict([('w', ok)]), {'0': four}, byteorder=b'big')
    torch_zip(f'{out}/no_tensors.pt', state_dict([('step', long(3))]), {})
    torch_zip(f'{out}/bare_tensor.pt', b'\x80\x02' + ok + b'.', {'0': four})  # torch.save(tensor): no dict
    torch_zip(f'{out}/protocol0.pt', b'(dp0\n.', {})
    with zipfile.ZipFile(f'{out}/not_torch.zip', 'w') as z:
        z.writestr('readme.txt', b'hello')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='tests/data/torch_pickle')
    ap.add_argument('--t5', default='tests/data/wan_t5/tiny_t5.safetensors')
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)

    d = dtype_tensors()
    torch.save(d, f'{out}/dtypes.pt')
    expected(f'{out}/dtypes.expected.safetensors', d)
    torch.save(d, f'{out}/dtypes_protocol5.pt', pickle_protocol=5)
    torch.save(d, f'{out}/dtypes_protocol4.pt', pickle_protocol=4)
    save_zip_as(d, f'{out}/dtypes_archive.pt', 'archive')
    strip_entries(f'{out}/dtypes.pt', f'{out}/dtypes_old_zip.pt', ['/byteorder', '/.format_version', '/.storage_alignment'])
    legacy = {k: v for k, v in d.items() if k not in ('fp8_e4m3', 'fp8_e5m2')}
    torch.save(legacy, f'{out}/dtypes_legacy.pt', _use_new_zipfile_serialization=False)

    v = view_tensors()
    torch.save(v, f'{out}/views.pt')
    torch.save(v, f'{out}/views_legacy.pt', _use_new_zipfile_serialization=False)
    expected(f'{out}/views.expected.safetensors', v)

    # Nested dicts, a real module's state dict (OrderedDict with _metadata: BUILD), a Parameter,
    # lists, and entries that are not tensors.
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    nested = {
        'model': {'blocks': {'0': {'weight': torch.ones(2, 2)}, '1': {'weight': torch.full((2,), 3.0)}}},
        'net': net.state_dict(),
        'param': torch.nn.Parameter(torch.tensor([1.5, -2.5])),
        'pair': [torch.tensor([1, 2]), torch.tensor([3])],
        'step': 1000, 'lr': 1e-4, 'name': 'run-7', 'flags': (True, None), 'shape': torch.Size([2, 3]),
        'blob': b'\x00\xffbytes', 'device': torch.device('cpu'),
    }
    torch.save(nested, f'{out}/nested.pt')
    flat = {'model.blocks.0.weight': torch.ones(2, 2), 'model.blocks.1.weight': torch.full((2,), 3.0),
            'param': nested['param'].detach(), 'pair.0': nested['pair'][0], 'pair.1': nested['pair'][1]}
    flat.update({f'net.{k}': t for k, t in net.state_dict().items()})
    expected(f'{out}/nested.expected.safetensors', flat)

    # Training checkpoints: DeepSpeed-like {"module": sd, ...}; {"module", "ema"}; {"state_dict"}.
    sd = {'blocks.0.w': torch.arange(4.0), 'final.b': torch.tensor([7.0])}
    ema = {'blocks.0.w': torch.arange(4.0) + 0.5, 'final.b': torch.tensor([7.5])}
    torch.save({'module': sd, 'buffer_names': [], 'optimizer': None, 'ds_version': '0.10.0',
                'param_shapes': [collections.OrderedDict([('blocks.0.w', torch.Size([4]))])], 'global_steps': 5},
               f'{out}/module_wrapper.pt')
    expected(f'{out}/module.expected.safetensors', sd)
    torch.save({'module': sd, 'ema': ema}, f'{out}/ema_module.pt')
    expected(f'{out}/ema.expected.safetensors', ema)
    torch.save({'state_dict': sd, 'epoch': 3}, f'{out}/state_dict_wrapper.pt')

    # The tiny umT5 of tests/data/wan_t5 as a .pth, the way Wan publishes its text encoder.
    t5 = load_file(a.t5)
    torch.save(t5, f'{out}/wan_t5_tiny.pth')

    write_bad(f'{out}/bad')

    # Each good file must load back in torch with the expected values (weights_only: no code).
    for name, exp in [('dtypes', 'dtypes'), ('views', 'views'), ('nested', None)]:
        got = torch.load(f'{out}/{name}.pt', weights_only=True)
        assert got is not None
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(out) for f in fs)
    print(f'wrote {out}: {total / 1024:.0f} KiB')


if __name__ == '__main__':
    main()
