// Value: a msgpack value as the protocol uses it (action arguments, results, declarations).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace npc_bridge {

class Value {
 public:
  using Array = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;  // string keys, in order
  enum class Kind { Nil, Bool, Int, Float, String, Array, Map };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(std::int64_t{i}) {}
  Value(std::int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Map m) : v_(std::move(m)) {}

  // Value::object({{"color", "red"}, {"coats", 2}})
  static Value object(std::initializer_list<std::pair<std::string, Value>> items) {
    return Value(Map(items));
  }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_nil() const { return kind() == Kind::Nil; }
  bool is_map() const { return kind() == Kind::Map; }

  // Typed reads with a fallback for a missing or differently typed value (ints read as
  // floats too; nothing else converts).
  bool as_bool(bool fallback = false) const;
  std::int64_t as_int(std::int64_t fallback = 0) const;
  double as_float(double fallback = 0.0) const;
  const std::string& as_string() const;  // "" unless a string
  const Array& as_array() const;         // empty unless an array
  const Map& as_map() const;             // empty unless a map

  // The value under `key` in a map, or nullptr.
  const Value* find(std::string_view key) const;
  // The value under `key`, or nil.
  const Value& operator[](std::string_view key) const;

  // Compact JSON (for logs and tools); non-finite floats become null.
  std::string to_json() const;

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Map> v_;
};

}  // namespace npc_bridge
