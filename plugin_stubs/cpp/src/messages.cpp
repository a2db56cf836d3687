// Client's typed send functions: each builds one message (PROTOCOL.md section 6) and queues it.
#include <string>

#include "codec.hpp"
#include "npc_bridge/client.hpp"

namespace npc_bridge {

Value action_tool(const std::string& name, const std::string& description, Value parameters) {
  return Value::object({{"type", "function"},
                        {"function", Value::object({{"name", name},
                                                    {"description", description},
                                                    {"parameters", std::move(parameters)}})}});
}

std::uint64_t Client::open_session(const SessionOptions& o) {
  Value::Map steer;
  for (const auto& [name, level] : o.steer) steer.emplace_back(name, level);
  return send_raw("session-open", {{"session", o.session},
                                   {"npc", o.npc},
                                   {"player", o.player},
                                   {"audio_out_rate", o.audio_out_rate},
                                   {"actions", o.actions},
                                   {"steer", std::move(steer)}});
}

std::uint64_t Client::close_session(const std::string& session) {
  return send_raw("session-close", {{"session", session}});
}

std::uint64_t Client::send_audio(const std::string& session, const std::int16_t* pcm,
                                 std::size_t samples, int sample_rate, int channels) {
  std::string bytes(reinterpret_cast<const char*>(pcm), samples * sizeof(std::int16_t));
  return send_raw("audio-chunk",
                  {{"session", session}, {"sample_rate", sample_rate}, {"channels", channels}},
                  {std::move(bytes)});
}

std::uint64_t Client::end_audio(const std::string& session) {
  return send_raw("audio-end", {{"session", session}});
}

std::uint64_t Client::send_text(const std::string& session, const std::string& text) {
  return send_raw("text-input", {{"session", session}, {"text", text}});
}

std::uint64_t Client::action_result(const std::string& session, const std::string& call_id,
                                    bool ok, Value result, const std::string& error) {
  Value::Map fields{{"session", session}, {"call_id", call_id}, {"ok", ok}};
  if (!result.is_nil()) fields.emplace_back("result", std::move(result));
  if (!error.empty()) fields.emplace_back("error", error);
  return send_raw("action-result", std::move(fields));
}

std::uint64_t Client::steer(const std::string& session,
                            const std::map<std::string, int>& attributes) {
  Value::Map levels;
  for (const auto& [name, level] : attributes) levels.emplace_back(name, level);
  return send_raw("steer", {{"session", session}, {"attributes", std::move(levels)}});
}

std::uint64_t Client::cancel(const std::string& session) {
  return send_raw("cancel", {{"session", session}});
}

std::uint64_t Client::game_event(const std::string& name, Value payload,
                                 const std::string& session) {
  Value::Map fields{{"name", name}, {"payload", std::move(payload)}};
  if (!session.empty()) fields.emplace_back("session", session);
  return send_raw("game-event", std::move(fields));
}

}  // namespace npc_bridge
