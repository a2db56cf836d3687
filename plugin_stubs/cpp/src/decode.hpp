// Internal: one brain message (header Value + binary frames) to its struct and callback.
#pragma once

#include <string_view>
#include <vector>

#include "npc_bridge/client.hpp"

namespace npc_bridge::detail {

// Calls the callback for the message's type (on_other for an unknown type). Throws
// std::runtime_error when a known type's binary frames are missing or the wrong size.
void dispatch(const std::string& type, const Value& header,
              const std::vector<std::string_view>& frames, const Callbacks& cb);

// The welcome header as a struct (the client keeps the last one).
Welcome welcome_of(const Value& header);

}  // namespace npc_bridge::detail
