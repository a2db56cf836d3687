// Value: typed reads, JSON text, and msgpack encoding and decoding of headers.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <msgpack.hpp>

#include "codec.hpp"
#include "npc_bridge/value.hpp"

namespace npc_bridge {

namespace {
const std::string kEmptyString;
const Value::Array kEmptyArray;
const Value::Map kEmptyMap;
const Value kNil;

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void json(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Value::Kind::Nil: out += "null"; break;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::Int: out += std::to_string(v.as_int()); break;
    case Value::Kind::Float: {
      double d = v.as_float();
      if (!std::isfinite(d)) {
        out += "null";
        break;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", d);  // short when it reads back the same
      if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof buf, "%.17g", d);
      out += buf;
      break;
    }
    case Value::Kind::String: json_string(v.as_string(), out); break;
    case Value::Kind::Array: {
      out += '[';
      bool first = true;
      for (const Value& item : v.as_array()) {
        if (!first) out += ',';
        first = false;
        json(item, out);
      }
      out += ']';
      break;
    }
    case Value::Kind::Map: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_map()) {
        if (!first) out += ',';
        first = false;
        json_string(key, out);
        out += ':';
        json(item, out);
      }
      out += '}';
      break;
    }
  }
}

using Packer = msgpack::packer<msgpack::sbuffer>;

void pack(const Value& v, Packer& pk) {
  switch (v.kind()) {
    case Value::Kind::Nil: pk.pack_nil(); break;
    case Value::Kind::Bool: v.as_bool() ? pk.pack_true() : pk.pack_false(); break;
    case Value::Kind::Int: pk.pack_int64(v.as_int()); break;  // smallest msgpack width
    case Value::Kind::Float: pk.pack_double(v.as_float()); break;
    case Value::Kind::String: pk.pack(v.as_string()); break;  // str, never bin
    case Value::Kind::Array:
      pk.pack_array(static_cast<std::uint32_t>(v.as_array().size()));
      for (const Value& item : v.as_array()) pack(item, pk);
      break;
    case Value::Kind::Map:
      pk.pack_map(static_cast<std::uint32_t>(v.as_map().size()));
      for (const auto& [key, item] : v.as_map()) {
        pk.pack(key);
        pack(item, pk);
      }
      break;
  }
}

Value from_msgpack(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::BOOLEAN: return Value(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return Value(double(o.via.u64));
      return Value(static_cast<std::int64_t>(o.via.u64));
    case msgpack::type::NEGATIVE_INTEGER: return Value(static_cast<std::int64_t>(o.via.i64));
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return Value(o.via.f64);
    case msgpack::type::STR: return Value(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN: return Value(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY: {
      Value::Array items;
      items.reserve(o.via.array.size);
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        items.push_back(from_msgpack(o.via.array.ptr[i]));
      }
      return Value(std::move(items));
    }
    case msgpack::type::MAP: {
      Value::Map items;
      items.reserve(o.via.map.size);
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        std::string key = kv.key.type == msgpack::type::STR
                              ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                              : from_msgpack(kv.key).to_json();
        items.emplace_back(std::move(key), from_msgpack(kv.val));
      }
      return Value(std::move(items));
    }
    default: return Value();  // nil, ext
  }
}

}  // namespace

bool Value::as_bool(bool fallback) const {
  const bool* b = std::get_if<bool>(&v_);
  return b ? *b : fallback;
}

std::int64_t Value::as_int(std::int64_t fallback) const {
  const std::int64_t* i = std::get_if<std::int64_t>(&v_);
  return i ? *i : fallback;
}

double Value::as_float(double fallback) const {
  if (const double* d = std::get_if<double>(&v_)) return *d;
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*i);
  return fallback;
}

const std::string& Value::as_string() const {
  const std::string* s = std::get_if<std::string>(&v_);
  return s ? *s : kEmptyString;
}

const Value::Array& Value::as_array() const {
  const Array* a = std::get_if<Array>(&v_);
  return a ? *a : kEmptyArray;
}

const Value::Map& Value::as_map() const {
  const Map* m = std::get_if<Map>(&v_);
  return m ? *m : kEmptyMap;
}

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : as_map()) {
    if (k == key) return &v;
  }
  return nullptr;
}

const Value& Value::operator[](std::string_view key) const {
  const Value* v = find(key);
  return v ? *v : kNil;
}

std::string Value::to_json() const {
  std::string out;
  json(*this, out);
  return out;
}

namespace detail {

std::string encode_header(const Outgoing& msg, std::uint64_t seq) {
  std::uint32_t fields = 0;
  for (const auto& [key, value] : msg.fields) fields += value.is_nil() ? 0 : 1;
  msgpack::sbuffer buf;
  Packer pk(buf);
  pk.pack_map(2 + fields);
  pk.pack("type");
  pk.pack(msg.type);
  pk.pack("seq");
  pk.pack_uint64(seq);
  for (const auto& [key, value] : msg.fields) {
    if (value.is_nil()) continue;
    pk.pack(key);
    pack(value, pk);
  }
  return std::string(buf.data(), buf.size());
}

Value decode_header(const void* data, std::size_t size) {
  try {
    msgpack::object_handle handle =
        msgpack::unpack(static_cast<const char*>(data), size);
    return from_msgpack(handle.get());
  } catch (const msgpack::unpack_error& e) {
    throw std::runtime_error(std::string("header is not msgpack: ") + e.what());
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("header is not msgpack (bad length)");
  }
}

}  // namespace detail
}  // namespace npc_bridge
