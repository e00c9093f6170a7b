// PyTorch checkpoints (.pt/.pth) read natively: files written by real torch (tools/golden/
// torch_pickle_fixtures.py: zip and legacy formats, pickle protocols 2/4/5, every stored dtype,
// nested dicts, training-checkpoint wrappers, shared storages and strided views) give the same
// tensors as the safetensors the script saved beside them; malicious and corrupt files give a
// one-line Error and never run anything or crash.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/pickle_reader.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "io/torch_zip.h"
#include "models/wan/t5_encoder.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::run_jenga;
using jenga::test::TempDir;

namespace {

const std::string kDir = std::string(JENGA_TEST_DATA) + "/torch_pickle/";

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An in-memory file image as a mapping (copied, so ASan sees reads past its end).
std::shared_ptr<Buffer> image(const std::vector<uint8_t>& bytes, size_t n) {
  auto b = Buffer::allocate(n, Device::CPU);
  if (n) std::memcpy(b->data(), bytes.data(), n);
  return std::make_shared<Buffer>(b->data(), n, Device::CPU, [b](void*) {});
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every tensor of `expected` is in `ck` with the same dtype, shape and bytes, and nothing else is.
void expect_same_tensors(const Checkpoint& ck, const std::string& expected_path,
                         const std::vector<std::string>& not_in_file = {}) {
  const auto want = SafetensorsFile::open(expected_path);
  std::vector<std::string> names;
  for (const auto& t : want->tensors())
    if (std::find(not_in_file.begin(), not_in_file.end(), t.name) == not_in_file.end()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(ck.names(), names) << ck.path();
  for (const auto& n : names) {
    if (!ck.contains(n)) continue;
    const TensorInfo& w = want->info(n);
    const TensorInfo& g = ck.info(n);
    EXPECT_EQ(g.dtype_name, w.dtype_name) << ck.path() << " " << n;
    EXPECT_EQ(g.shape, w.shape) << ck.path() << " " << n;
    const TensorBytes got = ck.bytes(n);  // keeps a strided view's copy alive
    const auto gb = got.bytes;
    const auto wb = want->raw(w);
    ASSERT_EQ(gb.size(), wb.size()) << ck.path() << " " << n;
    EXPECT_EQ(std::memcmp(gb.data(), wb.data(), wb.size()), 0) << ck.path() << " " << n << ": bytes differ";
    if (g.dtype && g.shape.size() <= kMaxDims) {  // the load path (conversion included) agrees too
      EXPECT_EQ(ck.load(n, DType::F32).to_f32_vector(), want->load(n, DType::F32).to_f32_vector()) << n;
    }
  }
}

}  // namespace

struct GoodFile {
  const char* file;
  const char* expected;
  std::vector<std::string> not_in_file;
};

class TorchCheckpointGood : public ::testing::TestWithParam<GoodFile> {};

TEST_P(TorchCheckpointGood, SameTensorsAsTorchWrote) {
  const GoodFile& p = GetParam();
  expect_same_tensors(Checkpoint::open(kDir + p.file), kDir + p.expected, p.not_in_file);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, TorchCheckpointGood,
    ::testing::Values(GoodFile{"dtypes.pt", "dtypes.expected.safetensors", {}},
                      GoodFile{"dtypes_archive.pt", "dtypes.expected.safetensors", {}},
                      GoodFile{"dtypes_old_zip.pt", "dtypes.expected.safetensors", {}},
                      GoodFile{"dtypes_protocol4.pt", "dtypes.expected.safetensors", {}},
                      GoodFile{"dtypes_protocol5.pt", "dtypes.expected.safetensors", {}},
                      GoodFile{"dtypes_legacy.pt", "dtypes.expected.safetensors", {"fp8_e4m3", "fp8_e5m2"}},
                      GoodFile{"views.pt", "views.expected.safetensors", {}},
                      GoodFile{"views_legacy.pt", "views.expected.safetensors", {}},
                      GoodFile{"nested.pt", "nested.expected.safetensors", {}},
                      GoodFile{"module_wrapper.pt", "module.expected.safetensors", {}},
                      GoodFile{"ema_module.pt", "module.expected.safetensors", {}},
                      GoodFile{"state_dict_wrapper.pt", "module.expected.safetensors", {}}));

TEST(TorchCheckpoint, FormatsAndWrappersAreReported) {
  auto zip = TorchFile::open(kDir + "dtypes_archive.pt");
  EXPECT_STREQ(zip->format(), "torch zip");
  EXPECT_EQ(zip->unwrapped(), "");
  EXPECT_STREQ(TorchFile::open(kDir + "views_legacy.pt")->format(), "torch legacy");
  EXPECT_EQ(TorchFile::open(kDir + "module_wrapper.pt")->unwrapped(), "module");
  EXPECT_EQ(TorchFile::open(kDir + "state_dict_wrapper.pt")->unwrapped(), "state_dict");
}

TEST(TorchCheckpoint, EmaOnlyWhenAsked) {
  CheckpointOptions ema;
  ema.state_key = "ema";
  expect_same_tensors(Checkpoint::open(kDir + "ema_module.pt", ema), kDir + "ema.expected.safetensors");
  CheckpointOptions nope;
  nope.state_key = "nope";
  const std::string e = error_of([&] { Checkpoint::open(kDir + "ema_module.pt", nope); });
  EXPECT_NE(e.find("has no 'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find("module, ema"), std::string::npos) << e;  // names what is there
  // A safetensors file has no state dicts to pick from.
  EXPECT_NE(error_of([&] { Checkpoint::open(kDir + "module.expected.safetensors", ema); }).find("--state-key"),
            std::string::npos);
}

TEST(TorchCheckpoint, ContiguousTensorsAreZeroCopyViewsAreCopies) {
  const Checkpoint ck = Checkpoint::open(kDir + "views.pt");
  const auto& file = *ck.files()[0];
  auto in_file = [&](const void* p) {
    const auto m = ck.bytes("base");  // a contiguous tensor: a span of the mapping
    return m.owner && p >= m.owner->data() &&
           p < static_cast<const uint8_t*>(m.owner->data()) + m.owner->bytes();
  };
  for (const char* n : {"base", "rows", "cube_slice", "tied_a", "tied_b", "column"}) {
    const Tensor t = ck.load(n);
    const bool contiguous = std::string(n) != "column";
    EXPECT_EQ(in_file(t.data()), contiguous) << n;
  }
  // Views of one storage share its bytes: rows = base[2:4] starts 16 floats in.
  EXPECT_EQ(file.info("rows").begin, file.info("base").begin + 16 * 4);
  EXPECT_EQ(ck.bytes("rows").bytes.data(), ck.bytes("base").bytes.data() + 16 * 4);
  EXPECT_EQ(ck.bytes("tied_a").bytes.data(), ck.bytes("tied_b").bytes.data());
  EXPECT_FALSE(in_file(ck.load("transposed").data()));
  EXPECT_FALSE(in_file(ck.load("expanded").data()));
}

TEST(TorchCheckpoint, StoredOnlyDtypesAreListedButNotComputed) {
  const Checkpoint ck = Checkpoint::open(kDir + "dtypes.pt");
  EXPECT_EQ(ck.info("f64").dtype_name, "F64");
  EXPECT_FALSE(ck.info("f64").dtype.has_value());
  EXPECT_EQ(ck.info("bool").dtype_name, "BOOL");
  EXPECT_EQ(ck.info("fp8_e4m3").dtype, DType::F8E4M3);
  EXPECT_EQ(ck.info("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(ck.load("scalar").to_f32_vector(), std::vector<float>{2.5f});
  EXPECT_EQ(ck.load("empty").numel(), 0);
  const std::string e = error_of([&] { ck.load("f64"); });
  EXPECT_NE(e.find("F64"), std::string::npos) << e;
}

struct BadFile {
  const char* file;
  const char* expect;  // a piece of the one-line error
};

class TorchCheckpointBad : public ::testing::TestWithParam<BadFile> {};

TEST_P(TorchCheckpointBad, OneLineErrorNoCrash) {
  const std::string path = kDir + "bad/" + GetParam().file;
  const std::string e = error_of([&] { Checkpoint::open(path); });
  ASSERT_FALSE(e.empty()) << path << " loaded";
  EXPECT_NE(e.find(GetParam().expect), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, TorchCheckpointBad,
    ::testing::Values(
        BadFile{"os_system.pt", "refusing to load"}, BadFile{"os_system.pt", "calls posix.system"},
        BadFile{"eval.pt", "eval; jenga only loads tensor state dicts"},
        BadFile{"unknown_global.pt", "calls collections.Counter"},
        BadFile{"call_storage.pt", "calls torch.FloatStorage"}, BadFile{"deep_marks.pt", "nested deeper than"},
        BadFile{"deep_lists.pt", "nested deeper than 64"}, BadFile{"deep_dicts.pt", "nested deeper than 64"},
        BadFile{"memo_out_of_range.pt", "memo index 200"}, BadFile{"offset_past_end.pt", "past its end"},
        BadFile{"stride_past_end.pt", "past its end"}, BadFile{"huge_shape.pt", "absurd shape"},
        BadFile{"overflow_strides.pt", "overflow"}, BadFile{"storage_too_small.pt", "storage of 1000 elements"},
        BadFile{"missing_storage.pt", "storage '7'"}, BadFile{"negative_stride.pt", "stride"},
        BadFile{"big_expand.pt", "does not expand"}, BadFile{"compressed.pt", "is compressed"},
        BadFile{"big_endian.pt", "big-endian"}, BadFile{"no_tensors.pt", "holds no tensors"},
        BadFile{"bare_tensor.pt", "holds a tensor, not a dict of tensors"},
        BadFile{"protocol0.pt", "PROTO"}, BadFile{"not_torch.zip", "not a PyTorch checkpoint"}));

TEST(TorchCheckpoint, SharedAndCyclicStructuresLoadOnce) {
  // A list that holds itself, and 30 levels of [(x, x)] (2^30 paths): each container is walked once.
  EXPECT_EQ(Checkpoint::open(kDir + "bad/cycle.pt").names(), std::vector<std::string>{"w"});
  const Checkpoint dag = Checkpoint::open(kDir + "bad/doubling_dag.pt");
  EXPECT_EQ(dag.names().size(), 3u);
  EXPECT_TRUE(dag.contains("w"));
}

TEST(TorchCheckpoint, EveryTruncationIsAnError) {
  for (const char* f : {"views.pt", "views_legacy.pt", "dtypes_legacy.pt"}) {
    const auto bytes = read_bytes(kDir + f);
    ASSERT_GT(bytes.size(), 100u);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string e = error_of([&] { TorchFile::from_mapping(image(bytes, n), f); });
      EXPECT_FALSE(e.empty()) << f << " cut to " << n << " bytes loaded";
    }
    EXPECT_TRUE(error_of([&] { TorchFile::from_mapping(image(bytes, bytes.size()), f); }).empty());
  }
}

TEST(TorchCheckpoint, EveryFlippedByteIsSafe) {
  // Not a proof (the fuzzer runs longer), but each corrupt byte must give an Error or a file
  // whose every tensor reads within bounds (ASan checks this in the sanitizer build).
  for (const char* f : {"views.pt", "views_legacy.pt"}) {
    const auto bytes = read_bytes(kDir + f);
    for (size_t i = 0; i < bytes.size(); ++i) {
      auto b = bytes;
      b[i] ^= 0x5a;
      try {
        auto t = TorchFile::from_mapping(image(b, b.size()), f);
        for (const auto& info : t->tensors()) {
          uint64_t sum = 0;
          for (uint8_t x : t->bytes(info).bytes) sum += x;
          (void)sum;
        }
      } catch (const Error&) {
      }
    }
  }
}

TEST(TorchCheckpoint, StorageHeadersAreReadOnLoad) {
  // Opening reads the central directory and data.pkl only; a storage's local header is checked
  // when one of its tensors is loaded, and a corrupt one is an Error then.
  auto bytes = read_bytes(kDir + "views.pt");
  const auto entries = read_stored_zip(bytes, "views.pt");
  const auto it = std::find_if(entries.begin(), entries.end(), [](const ZipEntry& e) { return e.name == "views/data/0"; });
  ASSERT_NE(it, entries.end());
  bytes[it->local_header] ^= 0xff;  // the signature
  auto f = TorchFile::from_mapping(image(bytes, bytes.size()), "views.pt");
  const std::string e = error_of([&] { f->load("base"); });
  EXPECT_NE(e.find("no local header"), std::string::npos) << e;
  EXPECT_EQ(f->load("cube_slice").numel(), 20);  // another storage is fine
}

TEST(TorchCheckpoint, FifoAndFolderAreErrorsNotHangs) {
  TempDir dir;
  const std::string fifo = dir / "weights.pt";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of([&] { Checkpoint::open(fifo); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { TorchFile::open(dir.path().string()); }).find("not a regular file"), std::string::npos);
}

TEST(TorchCheckpoint, FolderWithOneTorchFile) {
  TempDir dir;
  std::filesystem::copy_file(kDir + "module_wrapper.pt", dir / "mp_rank_00_model_states.pt");
  expect_same_tensors(Checkpoint::open(dir.path().string()), kDir + "module.expected.safetensors");
  std::filesystem::copy_file(kDir + "ema_module.pt", dir / "other.pt");
  const std::string e = error_of([&] { Checkpoint::open(dir.path().string()); });
  EXPECT_NE(e.find("mp_rank_00_model_states.pt, other.pt"), std::string::npos) << e;
}

TEST(TorchCheckpoint, WanTextEncoderLoadsFromPth) {
  // The same weights as a .pth (as Wan publishes models_t5_umt5-xxl-enc-bf16.pth) encode identically.
  const auto st = wan::T5Encoder::open(std::string(JENGA_TEST_DATA) + "/wan_t5/tiny_t5.safetensors");
  const auto pt = wan::T5Encoder::open(kDir + "wan_t5_tiny.pth");
  const std::vector<int64_t> ids{5, 17, 3, 99, 1, 0, 0}, mask{1, 1, 1, 1, 1, 0, 0};
  EXPECT_EQ(pt.encode(ids, mask).to_f32_vector(), st.encode(ids, mask).to_f32_vector());
}

TEST(PickleReader, ValuesAndLimits) {
  struct Refuse : pickle::PickleHooks {
    pickle::Object* find_class(pickle::Arena&, const std::string& m, const std::string& n) override {
      fail("refused {}.{}", m, n);
    }
    pickle::Object* reduce(pickle::Arena&, pickle::Object*, pickle::Object*) override { fail("no"); }
    pickle::Object* persistent_load(pickle::Arena&, pickle::Object*) override { fail("no"); }
  } hooks;
  std::vector<std::unique_ptr<pickle::Arena>> arenas;  // keep each result's objects alive
  auto run = [&](std::vector<uint8_t> bytes, const pickle::Limits& limits = {}) {
    arenas.push_back(std::make_unique<pickle::Arena>(limits.max_objects));
    size_t pos = 0;
    const pickle::Object* o = pickle::unpickle(bytes, pos, *arenas.back(), hooks, "t", limits);
    EXPECT_EQ(pos, bytes.size());
    return o;
  };
  // (-2 as LONG1, 3.5 as BINFLOAT, 'hé', True, None)
  const auto& t = *run({0x80, 2, '(', 0x8a, 1, 0xfe, 'G', 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x8c, 3, 'h', 0xc3, 0xa9, 0x88, 'N', 't', '.'});
  ASSERT_EQ(t.kind, pickle::Kind::Tuple);
  ASSERT_EQ(t.items.size(), 5u);
  EXPECT_EQ(t.items[0]->integer, -2);
  EXPECT_EQ(t.items[1]->real, 3.5);
  EXPECT_EQ(t.items[2]->str, "h\xc3\xa9");
  EXPECT_TRUE(t.items[3]->boolean);
  EXPECT_EQ(t.items[4]->kind, pickle::Kind::None);
  EXPECT_NE(error_of([&] { run({0x80, 2, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'}); }).find("refused os.system"),
            std::string::npos);
  EXPECT_NE(error_of([&] { run({0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, '.'}); }).find("byte string"), std::string::npos);
  EXPECT_NE(error_of([&] { run({0x80, 2, 'X', 9, 0, 0, 0, 'a', '.'}); }).find("needs 9 more bytes"), std::string::npos);
  EXPECT_NE(error_of([&] { run({0x80, 2, 'N', 'N', '.'}); }).find("exactly one"), std::string::npos);
  EXPECT_NE(error_of([&] { run({0x80, 2, 'R', '.'}); }).find("empty stack"), std::string::npos);
  EXPECT_NE(error_of([&] { run({0x80, 2, 0x81, '.'}); }).find("opcode 0x81"), std::string::npos);  // NEWOBJ
  EXPECT_NE(error_of([&] { run({0x80, 9, 'N', '.'}); }).find("protocol 9"), std::string::npos);
  pickle::Limits small;
  small.max_objects = 3;
  EXPECT_NE(error_of([&] { run({0x80, 2, 'N', 'N', 'N', 'N', 't', '.'}, small); }).find("more than 3 objects"),
            std::string::npos);
}

TEST(TorchCheckpointCli, InspectAndConvert) {
  TempDir dir;
  auto i = run_jenga("inspect " + kDir + "module_wrapper.pt");
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("blocks.0.w"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("state dict under 'module'"), std::string::npos) << i.output;
  auto ie = run_jenga("inspect --state-key ema " + kDir + "ema_module.pt");
  EXPECT_EQ(ie.exit_code, 0) << ie.output;

  const std::string out = dir / "views.safetensors";
  auto c = run_jenga("convert " + kDir + "views.pt " + out);
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("11 tensors"), std::string::npos) << c.output;
  expect_same_tensors(Checkpoint::open(out), kDir + "views.expected.safetensors");
  const std::string out2 = dir / "dtypes.safetensors";
  ASSERT_EQ(run_jenga("convert " + kDir + "dtypes_legacy.pt " + out2).exit_code, 0);
  expect_same_tensors(Checkpoint::open(out2), kDir + "dtypes.expected.safetensors", {"fp8_e4m3", "fp8_e5m2"});

  // Refused inputs and unwritable outputs leave nothing behind.
  const std::string bad_out = dir / "evil.safetensors";
  auto r = run_jenga("convert " + kDir + "bad/os_system.pt " + bad_out);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: refusing to load", 0), 0u) << r.output;
  EXPECT_FALSE(std::filesystem::exists(bad_out));
  EXPECT_FALSE(std::filesystem::exists(bad_out + ".tmp"));
  auto u = run_jenga("convert " + kDir + "views.pt " + (dir / "no/such/folder/x.safetensors"));
  EXPECT_EQ(u.exit_code, 2) << u.output;
  EXPECT_NE(u.output.find("not writable"), std::string::npos) << u.output;
  EXPECT_EQ(run_jenga("convert " + kDir + "views.pt " + dir.path().string()).exit_code, 2);
  EXPECT_EQ(run_jenga("convert " + out + " " + out).exit_code, 2);  // onto its own input
  auto bin = run_jenga("convert " + kDir + "views.pt " + (dir / "x.bin"));  // safetensors under another name
  EXPECT_EQ(bin.exit_code, 2) << bin.output;
  EXPECT_NE(bin.output.find("name the output .safetensors"), std::string::npos) << bin.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.bin"));
  // A safetensors input's metadata is kept (format is set to pt, as torch's save_file writes it).
  {
    jenga::SafetensorsWriter st;
    st.add("w", jenga::Tensor::from_f32(std::vector<float>{1, 2}, jenga::Shape{2}));
    st.set_metadata("modelspec.title", "a model");
    st.write(dir / "meta.safetensors");
  }
  ASSERT_EQ(run_jenga("convert " + (dir / "meta.safetensors") + " " + (dir / "meta2.safetensors")).exit_code, 0);
  const auto meta = jenga::SafetensorsFile::open(dir / "meta2.safetensors")->header().metadata;
  EXPECT_EQ(meta.count("modelspec.title") ? meta.at("modelspec.title") : "", "a model");
  EXPECT_EQ(meta.count("format") ? meta.at("format") : "", "pt");
  // An empty file and random bytes under a torch name: said as such (not "not a valid safetensors").
  {
    std::ofstream(dir / "empty.pt");
    std::ofstream(dir / "garbage.pt", std::ios::binary) << std::string(300, '\x5a');
  }
  for (const auto& [file, says] : {std::pair{"empty.pt", "the file is empty"}, {"garbage.pt", "neither a PyTorch checkpoint"}}) {
    auto g = run_jenga("convert " + (dir / file) + " " + (dir / "g.safetensors"));
    EXPECT_EQ(g.exit_code, 1) << g.output;
    EXPECT_NE(g.output.find(says), std::string::npos) << g.output;
  }
  // A whole model folder: one component is named instead of merging them (Wan) or finding none
  // (HunyuanVideo's subfolders).
  for (const auto& [family, says] : {std::pair{"wan", "a Wan2.1 model folder"}, {"hunyuan", "a HunyuanVideo model folder"}}) {
    const std::string model = dir / family;
    ASSERT_EQ(run_jenga(std::string("debug make-tiny --family ") + family + " --out " + model).exit_code, 0);
    auto f = run_jenga("convert " + model + " " + (dir / "whole.safetensors"));
    EXPECT_EQ(f.exit_code, 2) << f.output;
    EXPECT_NE(f.output.find(says), std::string::npos) << f.output;
    EXPECT_NE(f.output.find("jenga convert " + model + "/"), std::string::npos) << f.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "whole.safetensors"));
  }
}
