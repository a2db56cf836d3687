// Internal: Client::Impl, the I/O thread's state and loop, and the numbered command queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "codec.hpp"
#include "decode.hpp"
#include "npc_bridge/client.hpp"
#include "stream.hpp"

namespace npc_bridge {

namespace detail {
using Clock = std::chrono::steady_clock;
constexpr int kBatch = 1000;  // messages read per wake before other work
constexpr auto kByeLinger = std::chrono::milliseconds(500);  // for `bye` at stop
constexpr auto kIdleWait = std::chrono::milliseconds(100);   // longest poll
// Messages ZeroMQ has not taken yet (no brain to send to): past this, new audio chunks and
// heartbeats are dropped (counted in ClientStats::dropped); other messages always wait.
constexpr std::size_t kMaxPending = 10000;

inline double now_s() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}
}  // namespace detail


struct Client::Impl {
  using Clock = detail::Clock;
  using Outgoing = detail::Outgoing;
  static constexpr int kBatch = detail::kBatch;
  static constexpr auto kByeLinger = detail::kByeLinger;
  static constexpr auto kIdleWait = detail::kIdleWait;
  static constexpr std::size_t kMaxPending = detail::kMaxPending;
  static double now_s() { return detail::now_s(); }

  struct Queued {
    std::uint64_t seq;
    Outgoing msg;
  };

  ClientOptions opt;
  Callbacks cb;
  zmq::context_t ctx;
  zmq::socket_t dealer, wake_rx, wake_tx;
  std::thread io;
  std::atomic<bool> running{false};
  bool bye_on_stop = true;  // written before `running` goes false

  std::mutex mu;  // guards queue, next_seq, wake_tx, streams_in
  std::deque<Queued> queue;
  std::vector<detail::Stream> streams_in;
  std::uint64_t next_seq = 0;

  mutable std::mutex wmu;  // guards last_welcome
  std::condition_variable wcv;
  std::optional<Welcome> last_welcome;
  std::atomic<std::uint64_t> sent{0}, received{0}, gaps{0}, dropped{0};

  // I/O thread only from here on.
  std::deque<std::vector<std::string>> pending;  // encoded, not yet taken by ZeroMQ
  std::vector<detail::Stream> streams;
  std::map<std::string, std::pair<std::uint64_t, Value::Map>> sessions;  // open seq, fields
  std::uint64_t last_in = 0;
  bool welcomed = false, lost = false;
  int heartbeat_ms = 1000, timeout_ms = 5000;
  Clock::time_point last_recv, next_beat;

  void log(const std::string& line) const {
    if (cb.on_log) cb.on_log(line);
  }

  std::uint64_t enqueue(Outgoing msg) {
    std::lock_guard<std::mutex> lock(mu);
    std::uint64_t seq = ++next_seq;
    bool wake = queue.empty();
    queue.push_back({seq, std::move(msg)});
    if (wake && wake_tx) (void)wake_tx.send(zmq::message_t(), zmq::send_flags::dontwait);
    return seq;
  }

  void add_stream(detail::Stream stream) {
    std::lock_guard<std::mutex> lock(mu);
    streams_in.push_back(std::move(stream));
    if (wake_tx) (void)wake_tx.send(zmq::message_t(), zmq::send_flags::dontwait);
  }

  void drain_queue() {
    std::deque<Queued> batch;
    {
      std::lock_guard<std::mutex> lock(mu);
      batch.swap(queue);
      for (auto& s : streams_in) streams.push_back(std::move(s));
      streams_in.clear();
    }
    for (Queued& q : batch) {
      const std::string& type = q.msg.type;
      if (pending.size() >= kMaxPending && (type == "audio-chunk" || type == "heartbeat")) {
        ++dropped;
        continue;
      }
      const std::string session = Value(q.msg.fields)["session"].as_string();
      if (type == "session-open") sessions[session] = {q.seq, q.msg.fields};
      if (type == "session-close") sessions.erase(session);
      std::vector<std::string> frames{detail::encode_header(q.msg, q.seq)};
      for (std::string& f : q.msg.frames) frames.push_back(std::move(f));
      pending.push_back(std::move(frames));
    }
  }

  void flush() {
    while (!pending.empty()) {
      std::vector<std::string>& frames = pending.front();
      for (std::size_t i = 0; i < frames.size(); ++i) {
        auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
        if (i == 0) flags = flags | zmq::send_flags::dontwait;
        // A multipart message is atomic: once its first frame is taken, the rest are too.
        if (!dealer.send(zmq::buffer(frames[i]), flags)) return;
      }
      pending.pop_front();
      ++sent;
    }
  }

  void rehello() {
    welcomed = false;
    enqueue({"hello", {{"protocol", kProtocolVersion}, {"client", opt.client_name},
                       {"capabilities", caps()}}, {}});
    for (auto& [id, open] : sessions) open.first = enqueue({"session-open", open.second, {}});
  }

  Value caps() const {
    Value::Array out(opt.capabilities.begin(), opt.capabilities.end());
    return Value(std::move(out));
  }

  void on_welcome(const Value& h) {
    welcomed = true;
    heartbeat_ms = std::max(10, static_cast<int>(h["heartbeat_ms"].as_int(1000)));
    timeout_ms = static_cast<int>(h["timeout_ms"].as_int(5000));
    if (h["protocol"].as_int() != kProtocolVersion) {
      log("welcome speaks protocol " + h["protocol"].to_json());
    }
  }

  void on_error(const Value& h) {
    const std::string& code = h["code"].as_string();
    if (code == "no-handshake" && welcomed && opt.rehello) {
      log("the brain forgot this connection: hello again, reopening sessions");
      return rehello();
    }
    std::int64_t ref = h["ref_seq"].as_int(-1);
    if (code == "session-exists" || ref < 0) return;
    for (auto it = sessions.begin(); it != sessions.end(); ++it) {
      if (static_cast<std::int64_t>(it->second.first) == ref) {
        sessions.erase(it);  // that session-open failed
        return;
      }
    }
  }

  void handle(std::vector<zmq::message_t>& parts) {
    ++received;
    last_recv = Clock::now();
    lost = false;
    try {
      Value h = detail::decode_header(parts[0].data(), parts[0].size());
      const std::string type = h["type"].as_string();
      auto seq = static_cast<std::uint64_t>(h["seq"].as_int());
      if (last_in && seq > last_in + 1) gaps += seq - last_in - 1;
      last_in = seq;  // restarts at 1 when the brain forgets the connection
      if (type == "heartbeat") {
        if (cb.on_heartbeat) cb.on_heartbeat((now_s() - h["time"].as_float()) * 1000.0);
        return;
      }
      if (type == "welcome") on_welcome(h);
      if (type == "error") on_error(h);
      if (type == "session-closed") sessions.erase(h["session"].as_string());
      std::vector<std::string_view> frames;
      for (std::size_t i = 1; i < parts.size(); ++i) {
        frames.emplace_back(static_cast<const char*>(parts[i].data()), parts[i].size());
      }
      detail::dispatch(type, h, frames, cb);
      if (type == "welcome") {
        std::lock_guard<std::mutex> lock(wmu);
        last_welcome = detail::welcome_of(h);
        wcv.notify_all();
      }
    } catch (const std::exception& e) {
      log(std::string("message from the brain skipped: ") + e.what());
    }
  }

  void timers(Clock::time_point now) {
    for (auto& s : streams) {
      while (!s.done() && s.due(now)) enqueue(s.next());
      if (s.done() && s.options.end) enqueue({"audio-end", {{"session", s.session}}, {}});
    }
    streams.erase(std::remove_if(streams.begin(), streams.end(),
                                 [](const detail::Stream& s) { return s.done(); }),
                  streams.end());
    if (opt.heartbeat && now >= next_beat) {
      enqueue({"heartbeat", {{"time", now_s()}}, {}});
      next_beat = now + std::chrono::milliseconds(heartbeat_ms);
    }
    if (welcomed && !lost && now - last_recv > std::chrono::milliseconds(timeout_ms)) {
      lost = true;
      if (cb.on_connection_lost) cb.on_connection_lost();
    }
  }

  Clock::duration wait_for(Clock::time_point now) const {
    Clock::time_point until = now + kIdleWait;
    if (opt.heartbeat) until = std::min(until, next_beat);
    for (const auto& s : streams) until = std::min(until, s.next_due);
    return std::max(Clock::duration::zero(), until - now);
  }

  void run() {
    last_recv = Clock::now();
    next_beat = last_recv + std::chrono::milliseconds(heartbeat_ms);
    std::vector<zmq::message_t> parts;
    while (running) {
      try {
        step(parts);
      } catch (const zmq::error_t& e) {  // EINTR from a signal, mostly: go on
        if (e.num() == ETERM) break;
        log(std::string("ZeroMQ: ") + e.what());
      }
    }
    if (bye_on_stop && welcomed) {
      enqueue({"bye", {}, {}});
      drain_queue();
      try {
        flush();
        dealer.set(zmq::sockopt::linger, static_cast<int>(kByeLinger.count()));
      } catch (const zmq::error_t& e) {
        log(std::string("ZeroMQ at bye: ") + e.what());
      }
    }
  }

  // One turn of the I/O loop: send, wait, read, timers.
  void step(std::vector<zmq::message_t>& parts) {
    drain_queue();
    flush();
    auto timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(wait_for(Clock::now()));
    short events = static_cast<short>(ZMQ_POLLIN | (pending.empty() ? 0 : ZMQ_POLLOUT));
    zmq::pollitem_t items[] = {{dealer.handle(), 0, events, 0},
                               {wake_rx.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, timeout);
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_rx.recv(m, zmq::recv_flags::dontwait)) {}
    }
    for (int i = 0; i < kBatch; ++i) {
      parts.clear();
      auto got = zmq::recv_multipart(dealer, std::back_inserter(parts),
                                     zmq::recv_flags::dontwait);
      if (!got) break;
      handle(parts);
    }
    timers(Clock::now());
    timers(Clock::now());
  }
};

}  // namespace npc_bridge
