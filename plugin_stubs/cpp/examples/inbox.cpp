// Inbox: callbacks to Events (the fields as Values, as `npc-bridge talk --json` shows them).
#include "inbox.hpp"

namespace npc_talk {

using npc_bridge::Value;

namespace {
Value bytes(std::size_t n) { return Value::object({{"bytes", std::int64_t(n)}}); }

Value strings(const std::vector<std::string>& items) {
  Value::Array out(items.begin(), items.end());
  return Value(std::move(out));
}
}  // namespace

npc_bridge::Callbacks Inbox::callbacks() {
  namespace nb = npc_bridge;
  nb::Callbacks cb;
  cb.on_welcome = [this](const nb::Welcome& w) {
    put("welcome", Value::object({{"protocol", w.protocol}, {"server", w.server},
                                   {"npcs", strings(w.npcs)},
                                   {"heartbeat_ms", w.heartbeat_ms}}));
  };
  cb.on_session_opened = [this](const nb::SessionOpened& m) {
    put("session-opened", Value::object({{"session", m.session}, {"npc", m.npc},
                                          {"npc_name", m.npc_name},
                                          {"audio_out_rate", m.audio_out_rate},
                                          {"actions", strings(m.actions)}}));
  };
  cb.on_session_closed = [this](const nb::SessionClosed& m) {
    put("session-closed", Value::object({{"session", m.session}, {"reason", m.reason}}));
  };
  cb.on_transcript = [this](const nb::Transcript& m) {
    put("transcript", Value::object({{"session", m.session}, {"turn", m.turn},
                                      {"text", m.text}, {"final", m.final}}));
  };
  cb.on_dialogue_delta = [this](const nb::DialogueDelta& m) {
    put("dialogue-delta", Value::object({{"turn", m.turn}, {"text", m.text}}));
  };
  cb.on_dialogue_final = [this](const nb::DialogueFinal& m) {
    put("dialogue-final", Value::object({{"turn", m.turn}, {"text", m.text}}));
  };
  cb.on_action_call = [this](const nb::ActionCall& m) {
    put("action-call", Value::object({{"session", m.session}, {"turn", m.turn},
                                       {"call_id", m.call_id}, {"name", m.name},
                                       {"arguments", m.arguments}}));
  };
  cb.on_npc_audio = [this](const nb::NpcAudio& m) {
    put("npc-audio", Value::object({{"turn", m.turn}, {"sample_rate", m.sample_rate},
                                     {"start_sample", m.start_sample},
                                     {"samples", std::int64_t(m.pcm.size())},
                                     {"pcm", bytes(2 * m.pcm.size())}}));
  };
  cb.on_face_header = [this](const nb::FaceHeader& m) {
    put("face-header",
         Value::object({{"turn", m.turn}, {"channels", std::int64_t(m.channels.size())},
                        {"fps", m.fps}, {"sample_rate", m.sample_rate}}),
         {}, {}, m.channels);
  };
  cb.on_face_frames = [this](const nb::FaceFrames& m) {
    put("face-frames",
         Value::object({{"turn", m.turn}, {"count", m.count},
                        {"times", bytes(8 * m.times.size())},
                        {"weights", bytes(4 * m.weights.size())}}),
         m.weights, m.times);
  };
  cb.on_emotion = [this](const nb::Emotion& m) {
    put("emotion", Value::object({{"turn", m.turn}, {"emotion", m.emotion},
                                   {"intensity", m.intensity}}));
  };
  cb.on_interrupted = [this](const nb::Interrupted& m) {
    put("interrupted", Value::object({{"turn", m.turn}, {"stop_sample", m.stop_sample},
                                       {"reason", m.reason}}));
  };
  cb.on_turn_start = [this](const nb::TurnStart& m) {
    put("turn-start", Value::object({{"turn", m.turn}, {"npc", m.npc}, {"player", m.player},
                                      {"cause", m.cause}}));
  };
  cb.on_turn_end = [this](const nb::TurnEnd& m) {
    put("turn-end", Value::object({{"session", m.session}, {"turn", m.turn},
                                    {"npc", m.npc}, {"reason", m.reason},
                                    {"audio_samples", m.audio_samples}}));
  };
  cb.on_error = [this](const nb::Error& m) {
    put("error", Value::object({{"code", m.code}, {"reason", m.reason},
                                 {"session", m.session}, {"ref_seq", m.ref_seq},
                                 {"stage", m.stage}}));
  };
  cb.on_heartbeat = [this](double) {
    std::lock_guard<std::mutex> lock(mu_);
    ++heartbeats_;
  };
  cb.on_connection_lost = [this] { put("connection-lost", Value::Map{}); };
  cb.on_log = [this](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    log_ += line + "\n";
  };
  return cb;
}

void Inbox::put(std::string type, Value info, std::vector<float> weights,
                std::vector<std::int64_t> times, std::vector<std::string> channels) {
  Event e{std::move(type), std::move(info), std::move(weights), std::move(times),
          std::move(channels)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

std::optional<Event> Inbox::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

int Inbox::heartbeats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return heartbeats_;
}

std::string Inbox::log_lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

}  // namespace npc_talk
