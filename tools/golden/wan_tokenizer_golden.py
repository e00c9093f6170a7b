#!/usr/bin/env python3
"""Goldens for the umT5 tokenizer path: the official HuggingfaceTokenizer (wan/modules/tokenizers.py,
clean='whitespace', EOS appended, padded/truncated to text_len, mask) on the tiny SentencePiece
model in tests/data/wan_t5/tiny_spm.model (trained with spm_train, unigram, byte fallback, as umT5).

The HF backend is a `tokenizers` Tokenizer converted from the .model with byte_fallback kept on,
as in umT5's shipped tokenizer.json (transformers 5's T5Tokenizer rebuilds the model from the vocab
and drops byte fallback, turning emoji and rare characters into <unk>; the script checks that the
ids it saves equal libsentencepiece's on the cleaned text).

usage: tools/golden/wan_tokenizer_golden.py --wan third_party_ref [--out tests/data/wan_t5]

The tiny model was trained once from tests/data/wan_t5/tiny_spm_corpus.txt with:
  spm_train --input=tiny_spm_corpus.txt --model_prefix=tiny_spm --model_type=unigram --vocab_size=700 \
    --byte_fallback=true --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --pad_piece='<pad>' \
    --eos_piece='</s>' --unk_piece='<unk>' --hard_vocab_limit=false --character_coverage=1.0
(ids 0/1/2 = <pad>/</s>/<unk> as in T5; default nmt_nfkc normalisation).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

PROMPTS = [
    'A corgi runs across a sunny meadow.',
    '',
    '   ',
    'a  cat\t\tsits\n\non a   mat',
    'Tom &amp; Jerry',
    '&amp;amp;lt;b&amp;amp;gt;',
    '5 &lt; 6 and 7 &gt; 3',
    '<b>bold</b> &amp; text',
    'caf&eacute; cr&egrave;me br&ucirc;l&eacute;e',
    '&#72;&#x65;llo &#128512;',
    '\u201cCurly quotes\u201d and \u2018single\u2019 quotes',
    '一只柯基犬在阳光明媚的草地上奔跑',
    '色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，'
    '丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，'
    '杂乱的背景，三条腿，背景人很多，倒着走',
    'Emoji party \U0001F389\U0001F436\U0001F680 with friends',
    '東京の夜の街を歩く人々',
    '서울의 밤거리',
    'Кошка сидит на подоконнике',
    '\ufb01ne \ufb02owers',
    '\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48\u3000\uff54\uff45\uff58\uff54',
    'A timelapse of clouds moving over a green valley, ultra realistic. ' * 6,
    'line1\r\nline2\rline3\u2028line4',
    'tab\tseparated\u00a0nbsp\u3000ideographic',
    'control\x07chars\x1bhere',
    'zero\u200bwidth',
    'BOM\ufeffinside',
    'Numbers 0123456789 and symbols !?.,;:\'"()[]{}-_+=*/&%$#@',
    'Mixed English 和 中文 text',
    '   leading and trailing spaces   ',
    '&nbsp;&nbsp;spaces&nbsp;',
    '\u00dcn\u00efc\u00f6d\u00e9 \u00e0ccents \u00f1 \u00e7',
    'A',
    '&notanentity; & &amp no semicolon',
    'e\u0301 combining accent',
    'I\u2019m here, it\u2019s fine',
    '&quot;quoted&quot; &apos;single&apos; &copy; 2024 &mdash; &hellip;',
    'Ｈｅｌｌｏ！',
    # Special-token text: the HF tokenizer splits on its added tokens (<pad>, </s>, <unk>).
    '<pad></s><unk> specials in text',
    'a cat</s>sits on <unk> mat',
    'x </s> y',
    '</s>',
    'ends with a special </s>',
    '&lt;/s&gt; decoded first',
    # C1 controls: ftfy reads them as Windows-1252 (U+0085 is an ellipsis, before line breaks).
    '\x85',
    'price \x80 5, \x93quoted\x94 \x96 dash \x97 end',
    'undefined \x81\x8d\x8f\x90\x9d C1',
    # HTML5 names beyond Latin-1 and ftfy's upper-cased forms.
    '&Pcy;&Racute; &scirc; &xrarr; &NotEqualTilde; &fjlig; &ALPHA; &SZLIG; &EACUTE;',
    'BUNDESSTRA&SZLIG;E &Jscr;ohn &HilbertSpace;ancock',
]
SPECIAL_TEXT = ('<pad>', '</s>', '<unk>')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--wan', required=True)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'data', 'wan_t5'))
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.wan))
    import sentencepiece as spm
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    from wan.modules.tokenizers import HuggingfaceTokenizer

    model = os.path.join(args.out, 'tiny_spm.model')
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(model, os.path.join(tmp, 'spiece.model'))
        with open(os.path.join(tmp, 'tokenizer_config.json'), 'w') as f:
            json.dump({'tokenizer_class': 'T5Tokenizer', 'extra_ids': 0, 'eos_token': '</s>',
                       'unk_token': '<unk>', 'pad_token': '<pad>'}, f)
        tok = HuggingfaceTokenizer(tmp, seq_len=32, clean='whitespace')
        spec = json.loads(tok.tokenizer.backend_tokenizer.to_str())
        spec['model']['byte_fallback'] = True
        backend = Tokenizer.from_str(json.dumps(spec))
        tok.tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token='</s>', unk_token='<unk>',
                                                pad_token='<pad>')
    finally:
        shutil.rmtree(tmp)
    sp = spm.SentencePieceProcessor(model_file=model)

    cases = [(p, 32) for p in PROMPTS] + [(PROMPTS[12] * 20, 512), (PROMPTS[0], 512)]
    out = []
    for text, text_len in cases:
        tok.seq_len = text_len
        ids, mask = tok(text, return_mask=True, add_special_tokens=True)
        ids, mask = ids[0].tolist(), mask[0].tolist()
        ref = (sp.encode(tok._clean(text))[:text_len - 1] + [1])
        n = sum(mask)
        if not any(t in tok._clean(text) for t in SPECIAL_TEXT):  # libsentencepiece has no added tokens
            assert ids[:n] == ref, (text, ids[:n], ref)
        out.append({'text': text, 'cleaned': tok._clean(text), 'text_len': text_len, 'ids': ids, 'mask': mask})
    with open(os.path.join(args.out, 'tokenizer_golden.json'), 'w') as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
    print(len(out), 'cases')


if __name__ == '__main__':
    sys.exit(main())
