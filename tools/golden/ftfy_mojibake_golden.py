#!/usr/bin/env python3
"""Goldens for our ftfy port (src/models/wan/mojibake.cpp, text_clean.cpp): ftfy 6.3's fix_encoding,
fix_text and the whole Wan2.1 prompt cleaning (wan/modules/tokenizers.py, clean='whitespace':
ftfy.fix_text -> html.unescape twice -> strip -> regex '\\s+' -> ' ' -> strip) over a corpus meant to
catch mistakes: clean multilingual sentences turned into mojibake through every charmap ftfy tries,
double mojibake, 0xA0 turned into a space, lossy U+FFFD / '?' sequences, mojibake embedded in good
text, CESU-8 and Java's C0 80, C1 controls, legitimate text that must stay as it is, and seeded
random strings (mixed scripts; mojibake-prone characters) against false positives of is_bad.

Each case: {"t": text, "e": fix_encoding(t), "f": fix_text(t), "c": the official cleaning}; "e",
"f", "c" are left out when equal to the previous field ("e" to "t", "f" to "e", "c" to "f").
"nfc_cases" in the summary counts the cases where ftfy's NFC step changes the cleaning.

usage: tools/golden/ftfy_mojibake_golden.py --ftfy FTFY_SITE_DIR [--out tests/data/wan_t5]
       (or FTFY_PATH=FTFY_SITE_DIR; the directory holds ftfy 6.3.x and the `regex` module:
        pip install --target /tmp/ftfy/pylib ftfy==6.3.1 regex)
"""
import argparse
import html
import json
import os
import random
import sys

SENTENCES = [
    'café crème brûlée à la carte',
    'Voilà, ça coûte 5 € — très cher!',
    'Größe, Übermaß und schön',
    'Ağaçların üzerindeki kuşlar şarkı söylüyor',
    'Zażółć gęślą jaźń',
    'Příliš žluťoučký kůň úpěl ďábelské ódy',
    'Η γρήγορη καφέ αλεπού πηδάει',
    'Съешь же ещё этих мягких французских булок',
    'Ветер дует, и листья кружатся',
    '一只柯基犬在阳光明媚的草地上奔跑',
    'かわいい猫が寝ています',
    '고양이가 잔디 위에서 잔다',
    'A dog 🐕 runs to the 🌅 sunset',
    '∑ x² ≤ ∞ and √2 ≈ 1.414 ± 0.001',
    '“Curly quotes” and ‘single’ ones…',
    'non\u00a0breaking\u00a0spaces here',
    'Señor Muñoz, ¿qué tal? ¡Hola!',
    'Þú ert góður og æðislegur',
    'naïve coöperation façade',
    'Æsir, Øresund, Åland',
    'मराठी भाषा',
    'العربية لغة جميلة',
    '½ cup • 3 × 4 ° ©®™',
    'Ünïcödé wïth ãçcéñts everywhere',
]

LEGIT = [
    'Ã la carte', 'à la carte', 'Á la mode', 'voilà le travail', 'àquele homem', 'às vezes',
    'Þetta er íslenska', 'ÐÑÒÓ are Latin capitals', 'naïve', 'Mötley Crüe', 'Zürich', 'Łódź',
    '£5 and €10, 100°C, ±3, ×2', '© 2024 Company™', '¯\\_(ツ)_/¯', '(╯°□°)╯︵ ┻━┻', 'ಠ_ಠ',
    '“quoted” — dash – en…', '‘single’ ‚low‘', '• bullet point', '¿Dónde está?', '«guillemets»',
    'œuvre', 'Œdipe', 'ÉCOLE', 'ß', 'µ-law', '3½ inches', '¼ + ¾', 'x² + y³', 'a·b', 'soft\u00adhyphen',
    'Ελληνικά', 'русский', 'ВГРС', 'βeta', 'āmen', 'MÜNCHEN', 'Ärger', 'ça', 'Ça va', 'ñandú',
    'ĳsselmeer', 'ﬁnal ﬂow', 'Ｗｉｄｅ　ｔｅｘｔ', 'ﾊﾝｶｸ', 'ŉ', 'ǅ', '\x1b[31mred\x1b[0m', '\x1b[٣m',
    'a\r\nb\rc\u2028d\u2029e', 'tab\tand\x0bvt', '\ufeffBOM', 'x\u200by', '&amp;amp; &lt;b&gt;', 'P&EACUTE;REZ',
    '&Atilde;&copy;', '<b>&eacute;</b> caf&eacute;', 'line one\n<tag>\n&eacute;', 'Â', 'Ã', 'Â ', ' Ã ',
    'â€', 'â€™', 'Ã©', 'Ã©\n', 'Ã\n', '', ' ', '\n', '\n\n', 'plain ascii only',
]

# Hand-made mojibake for the special paths.
SPECIAL = [
    'cafÃ©', 'sÃ³', 'schÃ¶n', 'voilÃ le travail', 'Ã la mode', 'fÃ cil', 'Ã\xa0 la carte', 'Ã quele', 'Ã s vezes',
    'â€œ like this â€�', 'â€œquotedâ€\x9d', 'â€œquotedâ€?', 'Ã?', 'â€?', 'I â\x9d¤ NY', 'âœ” No problems',
    '&macr;\\_(ã\x83\x84)_/&macr;', 'The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.',
    'Ã¢â‚¬Å“Hello worldÃ¢â‚¬Â', 'Il y a du caf\u00c3\u00a9 et des cr\u00c3\u00aapes', 'ÐŸÑ€Ð¸Ð²ÐµÑ‚', 'Ð¿Ñ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€',
    'Ã¼ber', 'good text then Ã©tÃ© then more', 'ã\x81\x8aã\x81¯ã\x82\x88ã\x81\x86', 'Ã¢â‚¬Ëœ', 'ÃƒÆ’Ã‚Â©',
    # CESU-8 (a surrogate pair of U+1F600 as UTF-8) and Java's C0 80, read as Windows-1252 / Latin-1
    '\u00ed\u00a0\u00bd\u00ed\u00b8\u0080 smile Ã©', 'í\xa0½í¸\x80', 'null À\x80 here Ã©', 'nul Ã© À\x80',
    'Ã©À\n', 'Ã©À', 'Ã©í\xa0½í¸\n', 'Ã© í\xa0½', 'Ã© í\xa0½í\xb8', 'Ã© í\xb8\x80',
    # C1 controls and Latin-1 read for Windows-1252
    '\x93quoted\x94', 'price \x80 5', 'it\x92s', 'a\x85b', 'x\x81y', '\x81\x93z\x94', 'Ã\x83Â©', 'cafÃ\x83Â©',
    # 0xA0 made a space in other sequences
    'Ã  la', 'Â Â ', 'Ï€ Ïƒ', 'Ð  ', 'â€ ', 'â  ¢', 'ð Ÿ˜€', 'ðŸ ˜€', 'ðŸ˜ ', 'à¤ ', 'à ¤ ',
    # lossy sequences
    'â€�', 'â€?', 'Ã�', 'Ã?', 'ð\x9f�\x80', 'ð�\x98\x80', 'ð\x9f\x98?', '\ufffd alone', 'â?¦', 'í?\x80í\xb0?',
    'í\xa0?í\xb0\x80', 'Ã© \x1a', 'x\x1aÃ©',
    # other charmaps
    'ÃƒÂ©', 'РїСЂРёРІРµС‚', 'Ð\xa0Ñ—Ð\xa0Ñ\x9f', 'Г©', 'Ă©', 'Î±Î²Î³', 'Ä\x8d', 'â\x88\x9a', 'Ã©tÃ©', 'C\u0327a',
    'Ã¶ÃŸ', 'Ã©Ã¨', 'ÃŽ', 'ÃŸ', 'Ã—Â²', 'Ã˜Â§Ã™â€žÃ˜Â¹Ã˜Â±Ã˜Â¨Ã™Å Ã˜Â©', 'Ã\xa0Â²', 'â€¦', 'Ã¢â‚¬Â¦',
    'Ã‡', 'Ã‰cole', 'Ã‰COLE', 'Ã¸', '√©', '‚Äú', '‚Äù', '√∂', 'Ã\u0301', 'e\u0301', 'Ã©\u0301', 'â€œmixed\nâ€\x9d',
]

# Mojibake-prone characters: every character the charmaps can produce, plus the badness classes.
PRONE_EXTRA = '∂†≠®™´≤≥¥µø≈°¢π‚ÄéìîïòôúùûàäêâóвЂГўВ.ΒΓΞΟβ€āÂÃÎÐØÙ×²³Œœ'


def load(path):
    if path:
        sys.path.insert(0, path)
    import ftfy
    import regex
    assert ftfy.__version__.startswith('6.3'), ftfy.__version__
    return ftfy, regex


def mojibake_variants(s, ftfy):
    from ftfy.chardata import CHARMAP_ENCODINGS
    b = s.encode('utf-8')
    out = []
    for enc in CHARMAP_ENCODINGS + ['windows-1252', 'cp1252-replace', 'windows-1251', 'cp850', 'iso-8859-15']:
        try:
            if enc == 'cp1252-replace':
                m = b.decode('windows-1252', errors='replace')
            else:
                m = b.decode(enc)
        except UnicodeDecodeError:
            continue
        out.append(m)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ftfy', default=os.environ.get('FTFY_PATH'))
    ap.add_argument('--out', default='tests/data/wan_t5')
    args = ap.parse_args()
    ftfy, regex = load(args.ftfy)

    def clean(t, normalization):
        t = ftfy.fix_text(t, normalization=normalization)
        t = html.unescape(html.unescape(t)).strip()
        return regex.sub(r'\s+', ' ', t).strip()

    texts = []
    for s in SENTENCES:
        texts.append(s)
        for m in mojibake_variants(s, ftfy):
            texts.append(m)
        m1252 = s.encode('utf-8').decode('sloppy-windows-1252')
        texts.append(m1252.replace('\xa0', ' '))                       # 0xA0 became a space
        texts.append(m1252.encode('utf-8').decode('sloppy-windows-1252'))  # double mojibake
        texts.append(s.encode('utf-8').decode('latin-1').encode('utf-8').decode('sloppy-windows-1252'))
        texts.append(s.encode('utf-8').decode('windows-1252', errors='replace').replace('\ufffd', '?'))
        texts.append('Good: ' + s + ' / bad: ' + m1252)                 # good and bad mixed
        texts.append(s + ' ' + s.encode('utf-8').decode('sloppy-windows-1251'))
        texts.append(m1252 + '\n' + s + '\n' + s.encode('utf-8').decode('macroman'))
    texts += LEGIT + SPECIAL

    rng = random.Random(20261207)
    prone = sorted({c for enc in ftfy.chardata.CHARMAP_ENCODINGS for c in bytes(range(0x80, 0x100)).decode(enc)}
                   | set(PRONE_EXTRA))
    scripts = ['abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', ' ' * 8 + '\n\t.,!?\'"&;<>',
               'αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ',
               'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯђѓєѕіїјљњћќўџ',
               '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没',
               'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ',
               '│┌┐┘├┤┬┼═║╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬▀▄█▌▐░▒▓', '😀🐕🌅✔❤★☃♥', '∑∏∂∆√∞∫≈≠≡≤≥±×÷°²³¹½¼¾µ',
               '\x80\x81\x85\x8d\x90\x93\x94\x9d\x9f\xa0\xad\u200b\ufffd\x1a\x1b\x00', '\u0301\u0308\u0327']
    for i in range(150):  # mixed scripts
        texts.append(''.join(rng.choice(rng.choice(scripts)) for _ in range(rng.randint(1, 24))))
    for i in range(150):  # mojibake-prone characters, with some ASCII
        pool = prone if i % 3 else prone + list('abcdefxyz ')
        texts.append(''.join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
    for i in range(100):  # random text turned into mojibake, then damaged
        s = ''.join(rng.choice(rng.choice(scripts[:9])) for _ in range(rng.randint(1, 10)))
        m = rng.choice(mojibake_variants(s, ftfy) or [s])
        k = rng.randrange(4)
        if k == 1:
            m = m.replace('\xa0', ' ')
        elif k == 2 and m:
            j = rng.randrange(len(m))
            m = m[:j] + rng.choice('\ufffd?') + m[j + 1:]
        elif k == 3:
            m = rng.choice(scripts[0:5]) + m + ' ' + s
        texts.append(m)

    seen, cases = set(), []
    counts = {'changed_by_fix_encoding': 0, 'nfc_cases': 0}
    for t in texts:
        if t in seen:
            continue
        seen.add(t)
        e = ftfy.fix_encoding(t)
        f = ftfy.fix_text(t)
        c = clean(t, 'NFC')
        counts['nfc_cases'] += c != clean(t, None)
        case = {'t': t}
        if e != t:
            case['e'] = e
            counts['changed_by_fix_encoding'] += 1
        if f != e:
            case['f'] = f
        if c != f:
            case['c'] = c
        cases.append(case)
    path = os.path.join(args.out, 'mojibake_golden.json')
    with open(path, 'w', encoding='utf-8') as fp:
        json.dump(cases, fp, ensure_ascii=False, indent=0)
        fp.write('\n')
    print(f'{path}: {len(cases)} cases, {counts}, {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
