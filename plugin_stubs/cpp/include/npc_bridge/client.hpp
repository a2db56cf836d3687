// Client: one engine connection to an NPC Bridge brain, on its own I/O thread.
//
// Every send function is thread-safe and returns at once: it queues the message (numbered
// in call order) for the I/O thread and never waits on the network. Every callback runs
// on the I/O thread; hand the data to the game thread from there (keep callbacks short).
// The public headers need only the C++17 standard library: libzmq and msgpack stay inside.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "npc_bridge/events.hpp"
#include "npc_bridge/value.hpp"

namespace npc_bridge {

constexpr int kProtocolVersion = 1;

struct ClientOptions {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string client_name = "npc-bridge-cpp/0.1";
  std::vector<std::string> capabilities;
  bool heartbeat = true;   // send `heartbeat` every welcome.heartbeat_ms
  bool rehello = true;     // on an unexpected `no-handshake`: hello again, reopen sessions
  // CURVE (PROTOCOL.md section 10): 40-character Z85 keys; empty server key = no CURVE.
  std::string curve_server_key, curve_public_key, curve_secret_key;
};

struct SessionOptions {
  std::string session;  // engine-chosen id, 1-128 characters
  std::string npc;      // "" = the default NPC
  std::string player = "player-1";
  int audio_out_rate = 24000;
  Value::Array actions;  // engine actions, OpenAI tools form (see action_tool)
  std::map<std::string, int> steer;
};

struct StreamOptions {
  int chunk_ms = 20;
  bool realtime = false;  // pace chunks at the audio's own speed
  bool end = true;        // send `audio-end` after the last chunk
};

// One engine action declaration: {"type": "function", "function": {name, description,
// parameters}}; `parameters` is a JSON Schema object as a Value map.
Value action_tool(const std::string& name, const std::string& description, Value parameters);

struct Callbacks {  // all optional; all run on the I/O thread
  std::function<void(const Welcome&)> on_welcome;
  std::function<void(const SessionOpened&)> on_session_opened;
  std::function<void(const SessionClosed&)> on_session_closed;
  std::function<void(const Transcript&)> on_transcript;
  std::function<void(const DialogueDelta&)> on_dialogue_delta;
  std::function<void(const DialogueFinal&)> on_dialogue_final;
  std::function<void(const ActionCall&)> on_action_call;
  std::function<void(const NpcAudio&)> on_npc_audio;
  std::function<void(const FaceHeader&)> on_face_header;
  std::function<void(const FaceFrames&)> on_face_frames;
  std::function<void(const Emotion&)> on_emotion;
  std::function<void(const Interrupted&)> on_interrupted;
  std::function<void(const TurnStart&)> on_turn_start;
  std::function<void(const TurnEnd&)> on_turn_end;
  std::function<void(const Error&)> on_error;
  std::function<void(double rtt_ms)> on_heartbeat;  // the brain echoed one of ours
  // Nothing heard from the brain for welcome.timeout_ms (once, until it answers again).
  std::function<void()> on_connection_lost;
  // A message of a type this client does not know (skipped; a newer brain), its header.
  std::function<void(const std::string& type, const Value& header)> on_other;
  // Library problems: undecodable messages, a callback that threw. For the engine's log.
  std::function<void(const std::string& line)> on_log;
};

struct ClientStats {
  std::uint64_t sent = 0;      // messages handed to ZeroMQ
  std::uint64_t received = 0;  // messages from the brain
  std::uint64_t gaps = 0;      // brain messages missing by their seq numbers
  std::uint64_t dropped = 0;   // audio chunks and heartbeats dropped while nothing took them
};

class Client {
 public:
  Client(ClientOptions options, Callbacks callbacks);
  ~Client();  // stop(true)
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connect and say `hello` (on the I/O thread); on_welcome follows. Call it before any
  // send: a message queued earlier goes out before `hello` and gets `no-handshake`.
  // Throws std::runtime_error for an endpoint or keys ZeroMQ refuses.
  void start();
  // Send `bye` (when asked and connected) and end the I/O thread; waits at most ~0.5 s.
  void stop(bool bye = true);
  // Blocks until `welcome` (or the timeout): for tools and tests, not the game thread.
  bool wait_welcome(std::chrono::milliseconds timeout);
  // The last welcome (empty before one).
  Welcome welcome() const;
  ClientStats stats() const;

  // Each returns the message's seq (what an error's ref_seq names).
  std::uint64_t open_session(const SessionOptions& options);
  std::uint64_t close_session(const std::string& session);
  // One chunk of PCM16 (interleaved when channels is 2), sent as is.
  std::uint64_t send_audio(const std::string& session, const std::int16_t* pcm,
                           std::size_t samples, int sample_rate, int channels = 1);
  std::uint64_t end_audio(const std::string& session);
  std::uint64_t send_text(const std::string& session, const std::string& text);
  std::uint64_t action_result(const std::string& session, const std::string& call_id, bool ok,
                              Value result = {}, const std::string& error = "");
  std::uint64_t steer(const std::string& session, const std::map<std::string, int>& attributes);
  std::uint64_t cancel(const std::string& session);
  std::uint64_t game_event(const std::string& name, Value payload = Value::Map{},
                           const std::string& session = "");
  // Any message: `type`, header fields (seq added) and binary frames, unchecked. For
  // tests (a malformed message) and message types newer than this client.
  std::uint64_t send_raw(const std::string& type, Value::Map fields,
                         std::vector<std::string> frames = {});

  // Stream a whole clip in chunk_ms chunks from the I/O thread (numbered as they go out,
  // so messages queued meanwhile may go between them); audio-end after it unless told.
  void stream_audio(const std::string& session, std::vector<std::int16_t> pcm, int sample_rate,
                    int channels = 1, StreamOptions options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace npc_bridge
