// Inbox: the example's bridge from the client's I/O thread to its main thread.
// Each callback turns its message into an Event (type + fields as a Value, binary frames
// summarised) and queues it; the main thread waits on the queue. A game would do the
// same with its own task queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "npc_bridge/client.hpp"

namespace npc_talk {

struct Event {
  std::string type;
  npc_bridge::Value info;  // the message's fields; binary frames as {"bytes": n}
  std::vector<float> weights;  // face-frames only
  std::vector<std::int64_t> times;  // face-frames only
  std::vector<std::string> channels;  // face-header only
};

class Inbox {
 public:
  // Callbacks that fill this inbox (every message type the client delivers).
  npc_bridge::Callbacks callbacks();

  // The next event, or nothing after `timeout`.
  std::optional<Event> next(std::chrono::milliseconds timeout);

  int heartbeats() const;
  std::string log_lines() const;

 private:
  void put(std::string type, npc_bridge::Value info, std::vector<float> weights = {},
           std::vector<std::int64_t> times = {}, std::vector<std::string> channels = {});
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  int heartbeats_ = 0;
  std::string log_;
};

}  // namespace npc_talk
