#!/usr/bin/env python3
"""Goldens for the umT5 encoder: runs the official T5Encoder (wan/modules/t5.py) at a tiny size
on CPU in f32, with the masking and truncation of T5EncoderModel.__call__, and saves weights
(official key names), ids/mask and the context to tests/data/wan_t5/.

usage: tools/golden/wan_t5_golden.py --wan third_party_ref [--out tests/data/wan_t5]
(--wan is a folder holding wan/modules/{t5,tokenizers}.py exported from Wan-Video/Wan2.1.)
"""
import argparse
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--wan', required=True)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'data', 'wan_t5'))
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.wan))
    # T5EncoderModel's default argument calls torch.cuda.current_device() at import time.
    torch.cuda.current_device = lambda: 'cpu'
    from wan.modules import t5  # noqa: E402  (the official module; needs ftfy, regex, transformers)

    torch.manual_seed(4321)
    # umt5_xxl's structure (shared_pos False, 32 buckets, gated GELU) at a tiny size.
    model = t5.T5Encoder(vocab=300, dim=32, dim_attn=32, dim_ffn=48, num_heads=4, num_layers=3,
                         num_buckets=32, shared_pos=False, dropout=0.1).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif 'pos_embedding' in name:
                p.copy_(torch.randn_like(p))  # make the relative bias matter at this size
    os.makedirs(args.out, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(args.out, 'tiny_t5.safetensors'))
    # The official bucket of every (key - query) distance in [-300, 300], for the XXL config too.
    rel = torch.arange(-300, 301).unsqueeze(0)
    save_file({'rel': rel.squeeze(0).contiguous(),
               'bucket': model.blocks[0].pos_embedding._relative_position_bucket(rel).squeeze(0).contiguous()},
              os.path.join(args.out, 'buckets.safetensors'))

    # (valid tokens, padded length): partial, full, single token, longer than max_dist 128.
    cases = {'encode_a': (10, 24), 'encode_b': (24, 24), 'encode_c': (1, 8), 'encode_d': (150, 160)}
    saved = []
    with torch.no_grad():
        for case, (valid, text_len) in cases.items():
            ids = torch.zeros(1, text_len, dtype=torch.long)
            ids[0, :valid - 1] = torch.randint(3, 300, (valid - 1,))
            ids[0, valid - 1] = 1  # </s>, as the tokenizer appends
            mask = torch.zeros(1, text_len, dtype=torch.long)
            mask[0, :valid] = 1
            # T5EncoderModel.__call__: full padded sequence with the mask, then keep the valid rows.
            seq_lens = mask.gt(0).sum(dim=1).long()
            context = model(ids, mask)
            context = [u[:v] for u, v in zip(context, seq_lens)][0]
            save_file({'ids': ids, 'mask': mask, 'context': context.contiguous()},
                      os.path.join(args.out, case + '.safetensors'))
            print(case, tuple(ids.shape), '->', tuple(context.shape))
            saved.append((ids, mask, context))
    # After all inputs are drawn (building the HF model consumes the RNG).
    for ids, mask, context in saved:
        check_hf_layout(model, ids, mask, context)
    print('HF UMT5EncoderModel with the diffusers key names agrees on', len(saved), 'cases')
    write_hf_max_distance_case(model, *saved[3][:2], args.out)


# Official key -> HF UMT5EncoderModel key (the diffusers text_encoder/ layout the C++ also reads).
HF_RULES = [
    (r'^token_embedding\.weight$', 'shared.weight'),
    (r'^norm\.weight$', 'encoder.final_layer_norm.weight'),
    (r'^blocks\.(\d+)\.norm1\.weight$', r'encoder.block.\1.layer.0.layer_norm.weight'),
    (r'^blocks\.(\d+)\.attn\.([qkvo])\.weight$', r'encoder.block.\1.layer.0.SelfAttention.\2.weight'),
    (r'^blocks\.(\d+)\.pos_embedding\.embedding\.weight$',
     r'encoder.block.\1.layer.0.SelfAttention.relative_attention_bias.weight'),
    (r'^blocks\.(\d+)\.norm2\.weight$', r'encoder.block.\1.layer.1.layer_norm.weight'),
    (r'^blocks\.(\d+)\.ffn\.gate\.0\.weight$', r'encoder.block.\1.layer.1.DenseReluDense.wi_0.weight'),
    (r'^blocks\.(\d+)\.ffn\.fc1\.weight$', r'encoder.block.\1.layer.1.DenseReluDense.wi_1.weight'),
    (r'^blocks\.(\d+)\.ffn\.fc2\.weight$', r'encoder.block.\1.layer.1.DenseReluDense.wo.weight'),
]


def hf_model(model, max_distance=128):
    """The official weights under the HF names in transformers' UMT5EncoderModel."""
    import re
    from transformers import UMT5Config, UMT5EncoderModel
    cfg = UMT5Config(vocab_size=model.token_embedding.num_embeddings, d_model=model.dim,
                     d_kv=model.dim_attn // model.num_heads, d_ff=model.dim_ffn, num_layers=model.num_layers,
                     num_heads=model.num_heads, relative_attention_num_buckets=model.num_buckets,
                     relative_attention_max_distance=max_distance, feed_forward_proj='gated-gelu', dropout_rate=0.0,
                     layer_norm_epsilon=1e-6)
    hf = UMT5EncoderModel(cfg).eval()
    sd = {}
    for k, v in model.state_dict().items():
        for pat, rep in HF_RULES:
            if re.match(pat, k):
                sd[re.sub(pat, rep, k)] = v
    sd['encoder.embed_tokens.weight'] = sd['shared.weight']
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return hf


def write_hf_max_distance_case(model, ids, mask, out_dir):
    """A diffusers text_encoder/ folder written by transformers with relative_attention_max_distance 64
    (the official encoder fixes 128), and its output on 150 tokens, where distances past 64 matter."""
    hf = hf_model(model, max_distance=64)
    folder = os.path.join(out_dir, 'hf_maxdist64')
    hf.save_pretrained(folder, safe_serialization=True)
    valid = int(mask.sum())
    with torch.no_grad():
        context = hf(input_ids=ids, attention_mask=mask).last_hidden_state[0, :valid]
        base = hf_model(model)(input_ids=ids, attention_mask=mask).last_hidden_state[0, :valid]
    assert float((context - base).abs().max()) > 1e-2  # the max distance changes the output here
    save_file({'ids': ids, 'mask': mask, 'context': context.contiguous()},
              os.path.join(out_dir, 'hf_maxdist64_case.safetensors'))
    print('hf_maxdist64', tuple(ids.shape), '->', tuple(context.shape))


def check_hf_layout(model, ids, mask, context):
    """The same weights under the HF names in transformers' UMT5EncoderModel give the same context."""
    hf = hf_model(model)
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=mask).last_hidden_state[0, :context.shape[0]]
    err = float((out - context).abs().max() / context.abs().max())
    assert err < 1e-5, err


if __name__ == '__main__':
    sys.exit(main())
