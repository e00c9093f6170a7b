// Feeds arbitrary bytes to the safetensors parser: it must throw jenga::Error or succeed,
// never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = jenga::parse_safetensors({data, size}, "fuzz");
    // Touch every tensor's bytes the way the reader would.
    uint64_t sum = 0;
    for (const auto& t : h.tensors)
      for (uint64_t i = t.begin; i < t.end && i < t.begin + 64; ++i) sum += data[h.data_offset + i];
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const jenga::Error&) {
  }
  return 0;
}
