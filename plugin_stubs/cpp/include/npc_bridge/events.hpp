// What the brain sends, one struct per message type (docs/PROTOCOL.md section 6).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "npc_bridge/value.hpp"

namespace npc_bridge {

struct Welcome {
  std::int64_t protocol = 0;
  std::string server;
  std::vector<std::string> capabilities;
  std::vector<std::string> npcs;  // the first is the default NPC
  std::vector<int> sample_rates;
  int heartbeat_ms = 1000;
  int timeout_ms = 5000;
  std::map<std::string, std::int64_t> limits;
};

struct SessionOpened {
  std::string session, npc, npc_name, player;
  int audio_out_rate = 0;
  std::vector<std::string> actions;
};

struct SessionClosed {
  std::string session;
  std::string reason;  // "closed", "bye", "heartbeat-timeout", "shutdown", "error"
};

struct Transcript {
  std::string session;
  int turn = 0;
  std::string text;  // the whole utterance so far: replace, do not append
  bool final = false;
};

struct DialogueDelta {  // append to the turn's text
  std::string session;
  int turn = 0;
  std::string text;
};

struct DialogueFinal {  // the NPC's whole line for the turn
  std::string session;
  int turn = 0;
  std::string text;
};

struct ActionCall {  // answer with Client::action_result(session, call_id, ...)
  std::string session;
  int turn = 0;
  std::string call_id;
  std::string name;
  Value arguments;  // a map
};

struct NpcAudio {
  std::string session;
  int turn = 0;
  int sample_rate = 0;
  std::int64_t start_sample = 0;  // on the turn's audio timeline (PROTOCOL.md section 7)
  std::vector<std::int16_t> pcm;  // mono
};

struct FaceHeader {
  std::string session;
  int turn = 0;
  std::vector<std::string> channels;  // ARKit 52 in canonical order, then head channels
  double fps = 0.0;
  int sample_rate = 0;
};

struct FaceFrames {
  std::string session;
  int turn = 0;
  int count = 0;
  std::vector<std::int64_t> times;  // count sample positions
  std::vector<float> weights;       // count x channels, row-major
  // Channels per frame (the face-header's channel count); 0 when count is 0.
  std::size_t channels() const { return count > 0 ? weights.size() / count : 0; }
};

struct Emotion {
  std::string session;
  int turn = 0;
  std::string emotion;  // "neutral", "joy", "anger", "sadness", "fear", "surprise", "disgust"
  double intensity = 0.0;
  std::int64_t start_sample = 0;
};

struct Interrupted {
  std::string session;
  int turn = 0;
  std::int64_t stop_sample = 0;
  std::string reason;  // "barge-in", "cancel"
};

// First in every NPC turn: whose voice, face, text and actions the turn's messages are.
struct TurnStart {
  std::string session;
  int turn = 0;
  std::string npc;     // the NPC speaking (one of the session's npcs)
  std::string player;  // the player it answers or speaks to ("" in a banter)
  std::string cause;   // "player", "script" or "banter"
};

struct TurnEnd {
  std::string session;
  int turn = 0;
  std::string npc;  // the NPC whose turn ended
  std::string reason;  // "done", "interrupted", "cancelled", "error"
  std::int64_t audio_samples = 0;
  std::map<std::string, double> latency_ms;
};

struct Error {
  std::string code;    // stable (PROTOCOL.md section 8)
  std::string reason;  // for people, not for parsing
  std::string session;       // "" when none
  std::int64_t ref_seq = -1;  // -1 when absent
  std::string stage;
  bool fatal = false;
  bool retryable = false;
};

}  // namespace npc_bridge
