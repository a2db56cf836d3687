// Scenario: npc_talk's scripted conversation with checks, and its round-trip bench.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "inbox.hpp"
#include "npc_bridge/client.hpp"
#include "wav.hpp"

namespace npc_talk {

class Scenario {
 public:
  Scenario(npc_bridge::Client& client, Inbox& inbox, bool json,
           std::chrono::milliseconds welcome_wait)
      : client_(client), inbox_(inbox), json_(json), welcome_wait_(welcome_wait) {}

  // The checked conversation; returns the summary (throws std::runtime_error on a failure).
  npc_bridge::Value talk(const std::string& npc, const Wav& wav, bool realtime);
  // `rounds` timed text-input -> dialogue-final round trips after `warmup` untimed ones.
  npc_bridge::Value bench(const std::string& npc, int rounds, int warmup);
  // A typed line every 200 ms for `seconds`, through whatever happens to the server
  // (a restart: the client says hello again and reopens the session by itself); ends
  // early once 5 lines were answered after a reopen.
  npc_bridge::Value soak(const std::string& npc, int seconds);

 private:
  Event next(std::chrono::milliseconds timeout, const std::string& waiting_for);
  Event expect(const std::string& type, std::chrono::milliseconds timeout);
  std::vector<Event> turn(std::chrono::milliseconds timeout);
  void open(const std::string& session, const std::string& npc, bool actions);

  npc_bridge::Client& client_;
  Inbox& inbox_;
  bool json_;
  std::chrono::milliseconds welcome_wait_;
  int checks_ = 0;
  std::int64_t last_ended_ = 0;          // the last turn whose turn-end arrived
  std::vector<std::int64_t> late_stops_;  // interrupted after turn-end: stop samples
};

}  // namespace npc_talk
