// Feeds arbitrary bytes to the PyTorch checkpoint reader (zip container, restricted unpickler,
// legacy format, view checks): it must throw jenga::Error or succeed, never crash, hang, leak
// or read out of bounds. Every tensor it accepts is read in full, views included.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // Borrow the input as the "mapping" (no deleter: libFuzzer owns it).
    auto mapping = std::make_shared<jenga::Buffer>(const_cast<uint8_t*>(data), size, jenga::Device::CPU, nullptr);
    auto f = jenga::TorchFile::from_mapping(mapping, "fuzz.pt");
    uint64_t sum = 0;
    for (const auto& t : f->tensors()) {
      if (t.nbytes() > (1u << 16) && t.end - t.begin != t.nbytes()) continue;  // a big strided copy: slow, not new
      const auto b = f->bytes(t);
      for (uint8_t x : b.bytes) sum += x;
    }
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const jenga::Error&) {
  }
  return 0;
}
