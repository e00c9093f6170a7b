#include "models/wan/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "io/file_checks.h"
#include "models/wan/text_clean.h"

#ifdef JENGA_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace jenga::wan {

namespace fs = std::filesystem;

bool UmT5Tokenizer::available() {
#ifdef JENGA_HAVE_SENTENCEPIECE
  return true;
#else
  return false;
#endif
}

UmT5Tokenizer UmT5Tokenizer::open(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail("tokenizer {} does not exist; expected the umT5 spiece.model (google/umt5-xxl/ in the Wan2.1 checkpoint)", path);
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    // The folder itself, or a Wan2.1 checkpoint folder holding google/umt5-xxl/.
    file = (fs::path(path) / "spiece.model").string();
    if (!fs::exists(file, ec) && fs::exists(fs::path(path) / "google" / "umt5-xxl" / "spiece.model", ec))
      file = (fs::path(path) / "google" / "umt5-xxl" / "spiece.model").string();
    if (!fs::exists(file, ec)) {
      if (fs::exists(fs::path(path) / "tokenizer.json", ec))
        fail("tokenizer folder {} has a tokenizer.json but no spiece.model; jenga reads umT5's SentencePiece model "
             "(google/umt5-xxl/spiece.model in the Wan2.1 checkpoint)",
             path);
      fail("tokenizer folder {} has no spiece.model (umT5's, google/umt5-xxl/ in the Wan2.1 checkpoint)", path);
    }
  }
  require_regular_file(file, "tokenizer");  // a FIFO would block the reader
#ifdef JENGA_HAVE_SENTENCEPIECE
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->Load(file);
  if (!status.ok()) {
    // sentencepiece's own text names its source lines ("sentencepiece_processor.cc(1101)
    // [model_proto->ParseFromArray(...)]"): say what it means instead.
    std::string why = status.message();
    if (fs::file_size(file, ec) == 0) why = "the file is empty";
    else if (why.find("ParseFromArray") != std::string::npos || why.find(".cc(") != std::string::npos)
      why = "it does not parse: truncated, or another kind of file";
    fail("{} is not a SentencePiece tokenizer model ({}); expected the umT5 spiece.model (google/umt5-xxl/ of "
         "Wan-AI/Wan2.1-T2V-1.3B): download it again", file, why);
  }
  UmT5Tokenizer t;
  t.eos_ = sp->PieceToId("</s>");
  t.pad_ = sp->PieceToId("<pad>");
  if (sp->IdToPiece(static_cast<int>(t.eos_)) != "</s>" || sp->IdToPiece(static_cast<int>(t.pad_)) != "<pad>")
    fail("{}: the SentencePiece model has no </s> or <pad> piece; expected a T5-style tokenizer", file);
  // The added tokens the HF tokenizer splits on (control and unknown pieces), longest first;
  // found once here (umT5 has 256k pieces), not per prompt.
  for (int id = 0; id < sp->GetPieceSize(); ++id)
    if (sp->IsControl(id) || sp->IsUnknown(id)) t.specials_.emplace_back(sp->IdToPiece(id), id);
  std::sort(t.specials_.begin(), t.specials_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  t.sp_ = sp;
  return t;
#else
  fail("cannot read {}: this jenga was built without SentencePiece; install libsentencepiece-dev and rebuild", file);
#endif
}

int64_t UmT5Tokenizer::vocab_size() const {
#ifdef JENGA_HAVE_SENTENCEPIECE
  return static_cast<const sentencepiece::SentencePieceProcessor*>(sp_.get())->GetPieceSize();
#else
  return 0;
#endif
}

#ifdef JENGA_HAVE_SENTENCEPIECE
namespace {

std::vector<int> encode_piece(const sentencepiece::SentencePieceProcessor& sp, std::string_view text) {
  std::vector<int> ids;
  if (text.empty()) return ids;
  const auto status = sp.Encode(text, &ids);
  if (!status.ok()) fail("tokenizer failed on the prompt: {}", status.ToString());
  return ids;  // edge spaces beside a special token add nothing, in both (the goldens check it)
}

// The HF tokenizer splits the text on its added tokens (<pad>, </s>, <unk>: leftmost, longest
// first) before the model sees it, so "</s>" written in a prompt is that token; each piece between
// them is encoded on its own.
std::vector<int> encode_with_specials(const sentencepiece::SentencePieceProcessor& sp,
                                     const std::vector<std::pair<std::string, int>>& specials, const std::string& text) {
  std::vector<int> ids;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto hit = std::find_if(specials.begin(), specials.end(), [&](const auto& sp_) {
      return !sp_.first.empty() && text.compare(i, sp_.first.size(), sp_.first) == 0;
    });
    if (hit == specials.end()) {
      ++i;
      continue;
    }
    for (int id : encode_piece(sp, std::string_view(text).substr(start, i - start))) ids.push_back(id);
    ids.push_back(hit->second);
    i += hit->first.size();
    start = i;
  }
  for (int id : encode_piece(sp, std::string_view(text).substr(start))) ids.push_back(id);
  return ids;
}

}  // namespace
#endif

TokenizedPrompt UmT5Tokenizer::encode(std::string_view prompt, int64_t text_len) const {
  if (text_len < 1 || text_len > 1 << 20) usage_fail("text length {} is out of range; use 1..1048576 (Wan uses 512)", text_len);
  TokenizedPrompt out;
#ifdef JENGA_HAVE_SENTENCEPIECE
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(sp_.get());
  const std::vector<int> ids = encode_with_specials(*sp, specials_, clean_prompt_whitespace(prompt));
  const size_t keep = std::min(ids.size(), static_cast<size_t>(text_len - 1));
  out.dropped = static_cast<int64_t>(ids.size() - keep);
  out.ids.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep));
  out.ids.push_back(eos_);
  out.mask.assign(out.ids.size(), 1);
  out.ids.resize(static_cast<size_t>(text_len), pad_);
  out.mask.resize(static_cast<size_t>(text_len), 0);
#else
  (void)prompt;
  fail("this jenga was built without SentencePiece; install libsentencepiece-dev and rebuild");
#endif
  return out;
}

}  // namespace jenga::wan
