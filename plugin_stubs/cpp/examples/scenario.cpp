// Scenario: each step sends through the client and checks what the brain sent back.
#include "scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace npc_talk {

using npc_bridge::Value;
using ms = std::chrono::milliseconds;

namespace {
constexpr ms kWait{10000};     // one expected message
constexpr ms kTurnWait{30000};  // a whole heard turn (Whisper on a small CPU)
const char* const kSession = "talk-1";
constexpr std::int64_t kSoakEnough = 5;  // lines answered after a reopen that end a soak

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

std::vector<const Event*> of(const std::vector<Event>& events, const std::string& type) {
  std::vector<const Event*> out;
  for (const Event& e : events) {
    if (e.type == type) out.push_back(&e);
  }
  return out;
}

std::string final_line(const std::vector<Event>& events) {
  auto finals = of(events, "dialogue-final");
  check(finals.size() == 1, "one dialogue-final in the turn");
  return finals[0]->info["text"].as_string();
}

void check_done(const std::vector<Event>& events) {
  check(events.back().info["reason"].as_string() == "done", "the turn ends done");
  check(of(events, "error").empty(), "no error in the turn");
}
}  // namespace

Event Scenario::next(ms timeout, const std::string& waiting_for) {
  while (true) {
    std::optional<Event> e = inbox_.next(timeout);
    if (!e) throw std::runtime_error("nothing in " + std::to_string(timeout.count()) +
                                     " ms while waiting for " + waiting_for);
    if (json_) {
      Value::Map line{{"type", e->type}};
      for (const auto& kv : e->info.as_map()) line.push_back(kv);
      std::printf("%s\n", Value(std::move(line)).to_json().c_str());
    }
    std::int64_t turn = e->info["turn"].as_int();
    if (e->type == "turn-end") last_ended_ = std::max(last_ended_, turn);
    // A reply fully sent but still playing is cut by the next line: its `interrupted`
    // comes alone, after its turn-end (PROTOCOL.md 5.5). The engine stops that audio.
    if (e->type == "interrupted" && turn <= last_ended_) {
      late_stops_.push_back(e->info["stop_sample"].as_int());
      continue;
    }
    return std::move(*e);
  }
}

Event Scenario::expect(const std::string& type, ms timeout) {
  Event e = next(timeout, type);
  check(e.type == type, "expected " + type + ", got " + e.type + " " + e.info.to_json());
  ++checks_;
  return e;
}

std::vector<Event> Scenario::turn(ms timeout) {
  std::vector<Event> events;
  do {
    events.push_back(next(timeout, "turn-end"));
  } while (events.back().type != "turn-end");
  return events;
}

void Scenario::open(const std::string& session, const std::string& npc, bool actions) {
  check(client_.wait_welcome(welcome_wait_),
        "welcome within " + std::to_string(welcome_wait_.count()) + " ms");
  Event w = expect("welcome", kWait);
  check(w.info["protocol"].as_int() == npc_bridge::kProtocolVersion, "welcome protocol 1");
  npc_bridge::SessionOptions so;
  so.session = session;
  so.npc = npc;
  so.player = "npc_talk";
  if (actions) {
    Value color = Value::object({{"type", "string"}, {"enum", Value::Array{"red", "blue"}}});
    so.actions.push_back(npc_bridge::action_tool(
        "paint_mech", "Paint the player's mech.",
        Value::object({{"type", "object"},
                       {"properties", Value::object({{"color", color}})},
                       {"required", Value::Array{"color"}}})));
  }
  client_.open_session(so);
  Event opened = expect("session-opened", kWait);
  check(opened.info["session"].as_string() == session, "session-opened names the session");
  if (actions) {
    const auto& names = opened.info["actions"].as_array();
    bool paint = std::any_of(names.begin(), names.end(),
                             [](const Value& n) { return n.as_string() == "paint_mech"; });
    check(paint, "the session may call paint_mech");
  }
}

Value Scenario::talk(const std::string& npc, const Wav& wav, bool realtime) {
  auto started = std::chrono::steady_clock::now();
  open(kSession, npc, true);

  // 1. The WAV, streamed in 20 ms chunks, then audio-end (push-to-talk released).
  client_.stream_audio(kSession, wav.pcm, wav.sample_rate, wav.channels, {20, realtime, true});
  std::vector<Event> heard = turn(kTurnWait);
  check_done(heard);
  auto transcripts = of(heard, "transcript");
  check(!transcripts.empty() && transcripts.back()->info["final"].as_bool(), "a final transcript");
  std::string transcript = transcripts.back()->info["text"].as_string();
  check(!transcript.empty(), "the transcript has words");
  auto starts = of(heard, "turn-start");
  auto first = std::find_if(heard.begin(), heard.end(),
                            [](const Event& e) { return e.type != "transcript"; });
  check(starts.size() == 1 && first != heard.end() && first->type == "turn-start",
        "turn-start first in the NPC's turn");
  std::string turn_npc = starts.empty() ? "" : starts[0]->info["npc"].as_string();
  std::string turn_cause = starts.empty() ? "" : starts[0]->info["cause"].as_string();
  check(heard.back().info["npc"].as_string() == turn_npc, "turn-end names the turn's NPC");
  std::string said = final_line(heard);
  check(said.rfind("You said: ", 0) == 0, "the echo brain says 'You said: ...', got: " + said);
  auto headers = of(heard, "face-header");
  check(headers.size() == 1, "one face-header");
  const auto& channels = headers[0]->channels;
  auto jaw = std::find(channels.begin(), channels.end(), "jawOpen") - channels.begin();
  check(channels.size() >= 52 && jaw == 17, "ARKit channels, jawOpen at 17");
  std::int64_t frames = 0, last_time = -1;
  float jaw_max = 0.0f;
  for (const Event* f : of(heard, "face-frames")) {
    std::size_t count = f->times.size();
    check(f->weights.size() == count * channels.size(), "weights = count x channels");
    for (std::size_t i = 0; i < count; ++i) {
      check(f->times[i] > last_time, "frame times increase");
      last_time = f->times[i];
      jaw_max = std::max(jaw_max, f->weights[i * channels.size() + std::size_t(jaw)]);
    }
    frames += std::int64_t(count);
  }
  check(frames > 0 && jaw_max > 0.0f, "face frames with the jaw moving");
  std::int64_t samples = 0;
  for (const Event* a : of(heard, "npc-audio")) {
    check(a->info["start_sample"].as_int() == samples, "NPC audio chunks follow each other");
    samples += a->info["samples"].as_int();
  }
  check(samples > 0 && samples == heard.back().info["audio_samples"].as_int(),
        "NPC audio adds up to turn-end.audio_samples");
  checks_ += 10;

  // 2. An engine action: the echo brain calls paint_mech, the engine answers.
  client_.send_text(kSession, R"(call paint_mech {"color": "red"})");
  check(expect("turn-start", kWait).info["npc"].as_string() == turn_npc, "the same NPC acts");
  Event call = expect("action-call", kWait);
  check(call.info["name"].as_string() == "paint_mech", "the call names paint_mech");
  check(call.info["arguments"]["color"].as_string() == "red", "the call's color is red");
  Value result = Value::object({{"color", "red"}, {"coats", 2}});
  client_.action_result(kSession, call.info["call_id"].as_string(), true, result);
  std::vector<Event> acted = turn(kWait);
  check_done(acted);
  std::string outcome = final_line(acted);
  check(outcome.find("paint_mech done") != std::string::npos, "the NPC reports the result");

  // 3. A malformed message: a steer level outside 0-4. One error, nothing else changes.
  std::uint64_t bad = client_.steer(kSession, {{"humor", 9}});
  Event error = expect("error", kWait);
  check(error.info["code"].as_string() == "bad-field", "the bad steer gets bad-field");
  check(error.info["ref_seq"].as_int() == std::int64_t(bad), "the error names its seq");

  // 4. The session still works.
  client_.send_text(kSession, "still here");
  std::vector<Event> after = turn(kWait);
  check_done(after);
  std::string still = final_line(after);
  check(still == "still here", "the line after the error is echoed");

  client_.close_session(kSession);
  Event closed = expect("session-closed", kWait);
  check(closed.info["reason"].as_string() == "closed", "session-closed reason closed");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int beats = inbox_.heartbeats();
  int period = client_.welcome().heartbeat_ms;
  check(secs * 1000 < 2.0 * period || beats > 0, "heartbeats echoed");
  checks_ += 10;
  return Value::object(
      {{"ok", true}, {"checks", checks_}, {"transcript", transcript}, {"dialogue", said},
       {"action", call.info}, {"action_reply", outcome}, {"face_frames", frames},
       {"face_channels", std::int64_t(channels.size())}, {"audio_samples", samples},
       {"error", Value::object({{"code", error.info["code"]}, {"ref_seq", error.info["ref_seq"]},
                                {"seq", std::int64_t(bad)}})},
       {"after_error", still}, {"heartbeats", beats}, {"turn_npc", turn_npc},
       {"turn_cause", turn_cause},
       {"late_interruptions", std::int64_t(late_stops_.size())}, {"seconds", secs}});
}

Value Scenario::bench(const std::string& npc, int rounds, int warmup) {
  open("bench-1", npc, false);
  Value::Array times;
  for (int i = 0; i < warmup + rounds; ++i) {
    std::string text = "ping " + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    client_.send_text("bench-1", text);
    Event e = next(kWait, "dialogue-final");
    while (e.type != "dialogue-final") e = next(kWait, "dialogue-final");
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - t0);
    check(e.info["text"].as_string() == text, "the bench line comes back");
    check(next(kWait, "turn-end").type == "turn-end", "turn-end after the line");
    if (i >= warmup) times.emplace_back(std::int64_t(ns.count()));
  }
  return Value::object({{"client", "cpp"}, {"rounds", rounds}, {"times_ns", times}});
}

Value Scenario::soak(const std::string& npc, int seconds) {
  using Clock = std::chrono::steady_clock;
  open("soak-1", npc, false);
  std::int64_t sent = 0, answered = 0, after_reopen = 0, welcomes = 1, reopened = 0;
  Value::Array codes;
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline && after_reopen < kSoakEnough) {
    std::string text = "soak " + std::to_string(sent++);
    client_.send_text("soak-1", text);
    auto until = Clock::now() + ms(200);
    while (Clock::now() < until) {
      auto left = std::chrono::duration_cast<ms>(until - Clock::now());
      std::optional<Event> e = inbox_.next(std::max(ms(1), left));
      if (!e) break;
      if (e->type == "welcome") ++welcomes;
      if (e->type == "session-opened") ++reopened;
      if (e->type == "error") codes.emplace_back(e->info["code"]);
      if (e->type == "dialogue-final" && e->info["text"].as_string() == text) {
        ++answered;
        after_reopen += reopened ? 1 : 0;
      }
    }
  }
  return Value::object({{"sent", sent}, {"answered", answered}, {"welcomes", welcomes},
                        {"reopened", reopened}, {"answered_after_reopen", after_reopen},
                        {"errors", std::move(codes)}});
}

}  // namespace npc_talk
