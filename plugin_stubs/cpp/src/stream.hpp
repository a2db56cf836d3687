// Internal: a clip streamed from the I/O thread in fixed chunks, paced or as fast as possible.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "codec.hpp"
#include "npc_bridge/client.hpp"

namespace npc_bridge::detail {

struct Stream {
  using Clock = std::chrono::steady_clock;

  Stream(std::string session_, std::vector<std::int16_t> pcm_, int rate_, int channels_,
         StreamOptions options_)
      : session(std::move(session_)), pcm(std::move(pcm_)), rate(rate_),
        channels(std::max(1, channels_)), options(options_), started(Clock::now()),
        next_due(started) {
    step = std::max<std::size_t>(1, std::size_t(rate) * std::max(1, options.chunk_ms) / 1000) *
           std::size_t(channels);
  }

  bool done() const { return pos >= pcm.size(); }
  bool due(Clock::time_point now) const { return !options.realtime || now >= next_due; }

  // The next chunk's audio-chunk message; moves the due time on by one chunk.
  Outgoing next() {
    std::size_t n = std::min(step, pcm.size() - pos);
    std::string bytes(reinterpret_cast<const char*>(pcm.data() + pos), n * sizeof(std::int16_t));
    pos += n;
    ++index;
    next_due = started + std::chrono::milliseconds(std::int64_t(index) * options.chunk_ms);
    return {"audio-chunk",
            {{"session", session}, {"sample_rate", rate}, {"channels", channels}},
            {std::move(bytes)}};
  }

  std::string session;
  std::vector<std::int16_t> pcm;
  int rate, channels;
  StreamOptions options;
  Clock::time_point started, next_due;
  std::size_t step = 0, pos = 0, index = 0;
};

}  // namespace npc_bridge::detail
