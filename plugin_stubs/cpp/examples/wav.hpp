// A PCM16 WAV reader for the example (RIFF chunks: fmt, data; anything else skipped).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace npc_talk {

struct Wav {
  int sample_rate = 0;
  int channels = 0;
  std::vector<std::int16_t> pcm;  // interleaved
};

inline std::uint32_t le32(const char* p) {
  return std::uint32_t(std::uint8_t(p[0])) | std::uint32_t(std::uint8_t(p[1])) << 8 |
         std::uint32_t(std::uint8_t(p[2])) << 16 | std::uint32_t(std::uint8_t(p[3])) << 24;
}

inline Wav read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0) {
    throw std::runtime_error(path + ": not a RIFF/WAVE file");
  }
  Wav wav;
  bool fmt = false;
  for (std::size_t at = 12; at + 8 <= b.size();) {
    std::string id = b.substr(at, 4);
    std::size_t size = le32(&b[at + 4]), body = at + 8;
    if (body + size > b.size()) size = b.size() - body;
    if (id == "fmt " && size >= 16) {
      int format = std::uint8_t(b[body]) | std::uint8_t(b[body + 1]) << 8;
      wav.channels = std::uint8_t(b[body + 2]) | std::uint8_t(b[body + 3]) << 8;
      wav.sample_rate = static_cast<int>(le32(&b[body + 4]));
      int bits = std::uint8_t(b[body + 14]) | std::uint8_t(b[body + 15]) << 8;
      if (format != 1 || bits != 16) throw std::runtime_error(path + ": not 16-bit PCM");
      fmt = true;
    } else if (id == "data" && fmt) {
      wav.pcm.resize(size / 2);
      std::memcpy(wav.pcm.data(), &b[body], wav.pcm.size() * 2);  // little-endian host
      return wav;
    }
    at = body + size + (size & 1);
  }
  throw std::runtime_error(path + ": no fmt and data chunks");
}

}  // namespace npc_talk
