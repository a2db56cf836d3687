// Client: the public face over Client::Impl (io.hpp): start, stop, queue, welcome, stats.
#include "npc_bridge/client.hpp"

#include <stdexcept>

#include "io.hpp"

namespace npc_bridge {

Client::Client(ClientOptions options, Callbacks callbacks) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->cb = std::move(callbacks);
}

Client::~Client() { stop(true); }

void Client::start() {
  Impl& d = *impl_;
  if (d.running) return;
  d.dealer = zmq::socket_t(d.ctx, zmq::socket_type::dealer);
  try {
    d.dealer.set(zmq::sockopt::linger, 0);
    if (!d.opt.curve_server_key.empty()) {
      d.dealer.set(zmq::sockopt::curve_serverkey, d.opt.curve_server_key);
      d.dealer.set(zmq::sockopt::curve_publickey, d.opt.curve_public_key);
      d.dealer.set(zmq::sockopt::curve_secretkey, d.opt.curve_secret_key);
    }
    d.dealer.connect(d.opt.endpoint);
  } catch (const zmq::error_t& e) {
    d.dealer.close();
    throw std::runtime_error("npc_bridge: cannot connect to '" + d.opt.endpoint + "': " + e.what());
  }
  std::string wake =
      "inproc://npc-bridge-wake-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  d.wake_rx = zmq::socket_t(d.ctx, zmq::socket_type::pair);
  d.wake_rx.bind(wake);
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.wake_tx = zmq::socket_t(d.ctx, zmq::socket_type::pair);
    d.wake_tx.set(zmq::sockopt::linger, 0);
    d.wake_tx.connect(wake);
  }
  d.rehello();
  d.running = true;
  d.io = std::thread([&d] { d.run(); });
}

void Client::stop(bool bye) {
  Impl& d = *impl_;
  if (!d.io.joinable()) return;
  d.bye_on_stop = bye;
  d.running = false;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    (void)d.wake_tx.send(zmq::message_t(), zmq::send_flags::dontwait);
  }
  d.io.join();
  std::lock_guard<std::mutex> lock(d.mu);
  d.wake_tx.close();
  d.wake_rx.close();
  d.dealer.close();  // lingers up to kByeLinger for `bye`
}

bool Client::wait_welcome(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->wmu);
  return impl_->wcv.wait_for(lock, timeout, [this] { return impl_->last_welcome.has_value(); });
}

Welcome Client::welcome() const {
  std::lock_guard<std::mutex> lock(impl_->wmu);
  return impl_->last_welcome.value_or(Welcome{});
}

ClientStats Client::stats() const {
  return {impl_->sent.load(), impl_->received.load(), impl_->gaps.load(),
          impl_->dropped.load()};
}

std::uint64_t Client::send_raw(const std::string& type, Value::Map fields,
                               std::vector<std::string> frames) {
  return impl_->enqueue({type, std::move(fields), std::move(frames)});
}

void Client::stream_audio(const std::string& session, std::vector<std::int16_t> pcm,
                          int sample_rate, int channels, StreamOptions options) {
  impl_->add_stream(detail::Stream(session, std::move(pcm), sample_rate, channels, options));
}

}  // namespace npc_bridge
