// Brain messages to structs: fields by name, binary frames copied out raw (little-endian).
#include <cstring>
#include <stdexcept>

#include "decode.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the wire's PCM and arrays are little-endian; this client copies them as they are"
#endif

namespace npc_bridge::detail {

namespace {

std::string str(const Value& h, std::string_view key) { return h[key].as_string(); }
int num(const Value& h, std::string_view key) { return static_cast<int>(h[key].as_int()); }

std::vector<std::string> strings(const Value& v) {
  std::vector<std::string> out;
  for (const Value& item : v.as_array()) out.push_back(item.as_string());
  return out;
}

template <typename T>
std::vector<T> array_of(std::string_view frame, std::size_t count, const char* what) {
  if (frame.size() != count * sizeof(T)) {
    throw std::runtime_error(std::string(what) + ": " + std::to_string(frame.size()) +
                             " bytes, expected " + std::to_string(count * sizeof(T)));
  }
  std::vector<T> out(count);
  if (count) std::memcpy(out.data(), frame.data(), frame.size());
  return out;
}

void need_frames(const std::string& type, const std::vector<std::string_view>& frames,
                 std::size_t n) {
  if (frames.size() != n) {
    throw std::runtime_error(type + " carries " + std::to_string(n) + " binary frames, got " +
                             std::to_string(frames.size()));
  }
}

template <typename F, typename T>
void call(const F& fn, const T& event) {
  if (fn) fn(event);
}

}  // namespace

Welcome welcome_of(const Value& h) {
  Welcome w;
  w.protocol = h["protocol"].as_int();
  w.server = str(h, "server");
  w.capabilities = strings(h["capabilities"]);
  w.npcs = strings(h["npcs"]);
  for (const Value& r : h["sample_rates"].as_array()) w.sample_rates.push_back(int(r.as_int()));
  w.heartbeat_ms = static_cast<int>(h["heartbeat_ms"].as_int(1000));
  w.timeout_ms = static_cast<int>(h["timeout_ms"].as_int(5000));
  for (const auto& [k, v] : h["limits"].as_map()) w.limits[k] = v.as_int();
  return w;
}

namespace {

Error error(const Value& h) {
  Error e;
  e.code = str(h, "code");
  e.reason = str(h, "reason");
  e.session = str(h, "session");
  e.ref_seq = h["ref_seq"].as_int(-1);
  e.stage = str(h, "stage");
  e.fatal = h["fatal"].as_bool();
  e.retryable = h["retryable"].as_bool();
  return e;
}

TurnEnd turn_end(const Value& h) {
  TurnEnd t;
  t.session = str(h, "session");
  t.turn = num(h, "turn");
  t.npc = str(h, "npc");
  t.reason = str(h, "reason");
  t.audio_samples = h["audio_samples"].as_int();
  for (const auto& [k, v] : h["latency_ms"].as_map()) t.latency_ms[k] = v.as_float();
  return t;
}

FaceFrames face_frames(const std::string& type, const Value& h,
                       const std::vector<std::string_view>& frames) {
  need_frames(type, frames, 2);
  FaceFrames f{str(h, "session"), num(h, "turn"), num(h, "count"), {}, {}};
  if (f.count < 0) throw std::runtime_error("face-frames: negative count");
  f.times = array_of<std::int64_t>(frames[0], std::size_t(f.count), "face-frames times");
  std::size_t row = f.count ? frames[1].size() / (4 * std::size_t(f.count)) : 0;
  f.weights = array_of<float>(frames[1], std::size_t(f.count) * row, "face-frames weights");
  return f;
}

}  // namespace

void dispatch(const std::string& type, const Value& h,
              const std::vector<std::string_view>& frames, const Callbacks& cb) {
  if (type == "npc-audio") {
    need_frames(type, frames, 1);
    if (frames[0].size() % 2) throw std::runtime_error("npc-audio: odd PCM length");
    call(cb.on_npc_audio,
         NpcAudio{str(h, "session"), num(h, "turn"), num(h, "sample_rate"),
                  h["start_sample"].as_int(),
                  array_of<std::int16_t>(frames[0], frames[0].size() / 2, "npc-audio")});
    return;
  }
  if (type == "face-frames") return call(cb.on_face_frames, face_frames(type, h, frames));
  static const char* const kHeaderOnly[] = {
      "welcome", "error", "session-opened", "session-closed", "transcript", "dialogue-delta",
      "dialogue-final", "action-call", "face-header", "emotion", "interrupted", "turn-start",
      "turn-end"};
  bool known = false;
  for (const char* name : kHeaderOnly) known = known || type == name;
  if (!known) {
    if (cb.on_other) cb.on_other(type, h);  // a newer brain's message: skip it
    return;
  }
  need_frames(type, frames, 0);
  if (type == "welcome") {
    call(cb.on_welcome, welcome_of(h));
  } else if (type == "error") {
    call(cb.on_error, error(h));
  } else if (type == "session-opened") {
    call(cb.on_session_opened,
         SessionOpened{str(h, "session"), str(h, "npc"), str(h, "npc_name"), str(h, "player"),
                       num(h, "audio_out_rate"), strings(h["actions"])});
  } else if (type == "session-closed") {
    call(cb.on_session_closed, SessionClosed{str(h, "session"), str(h, "reason")});
  } else if (type == "transcript") {
    call(cb.on_transcript, Transcript{str(h, "session"), num(h, "turn"), str(h, "text"),
                                      h["final"].as_bool()});
  } else if (type == "dialogue-delta") {
    call(cb.on_dialogue_delta, DialogueDelta{str(h, "session"), num(h, "turn"), str(h, "text")});
  } else if (type == "dialogue-final") {
    call(cb.on_dialogue_final, DialogueFinal{str(h, "session"), num(h, "turn"), str(h, "text")});
  } else if (type == "action-call") {
    const Value* args = h.find("arguments");
    call(cb.on_action_call,
         ActionCall{str(h, "session"), num(h, "turn"), str(h, "call_id"), str(h, "name"),
                    args && args->is_map() ? *args : Value(Value::Map{})});
  } else if (type == "face-header") {
    call(cb.on_face_header, FaceHeader{str(h, "session"), num(h, "turn"),
                                       strings(h["channels"]), h["fps"].as_float(),
                                       num(h, "sample_rate")});
  } else if (type == "emotion") {
    call(cb.on_emotion, Emotion{str(h, "session"), num(h, "turn"), str(h, "emotion"),
                                h["intensity"].as_float(), h["start_sample"].as_int()});
  } else if (type == "interrupted") {
    call(cb.on_interrupted, Interrupted{str(h, "session"), num(h, "turn"),
                                        h["stop_sample"].as_int(), str(h, "reason")});
  } else if (type == "turn-start") {
    call(cb.on_turn_start, TurnStart{str(h, "session"), num(h, "turn"), str(h, "npc"),
                                     str(h, "player"), str(h, "cause")});
  } else if (type == "turn-end") {
    call(cb.on_turn_end, turn_end(h));
  }
}

}  // namespace npc_bridge::detail
