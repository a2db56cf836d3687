// Internal: msgpack <-> Value, and one wire message's frames.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "npc_bridge/value.hpp"

namespace npc_bridge::detail {

// A message before numbering: its type, header fields, and binary frames.
struct Outgoing {
  std::string type;
  Value::Map fields;
  std::vector<std::string> frames;
};

// The header frame: {type, seq, fields...} as a msgpack map; nil fields left out.
std::string encode_header(const Outgoing& msg, std::uint64_t seq);

// The header frame as a Value; throws std::runtime_error when it is not msgpack.
Value decode_header(const void* data, std::size_t size);

}  // namespace npc_bridge::detail
