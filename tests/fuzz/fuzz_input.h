// Splitting one fuzzer input into pieces, shared by the fuzz targets.
#ifndef BERTH_TESTS_FUZZ_FUZZ_INPUT_H_
#define BERTH_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace berth::fuzz {

// Reads length-prefixed pieces (one byte of length, then that many bytes;
// a short tail is the last piece) so that one input can carry a sequence
// of messages and the fuzzer can grow and splice them.
class Pieces {
 public:
  Pieces(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  bool Next(std::string_view* piece) {
    if (rest_.empty()) return false;
    const size_t n =
        std::min<size_t>(static_cast<uint8_t>(rest_[0]), rest_.size() - 1);
    *piece = rest_.substr(1, n);
    rest_.remove_prefix(1 + n);
    return true;
  }

 private:
  std::string_view rest_;
};

}  // namespace berth::fuzz

#endif  // BERTH_TESTS_FUZZ_FUZZ_INPUT_H_
