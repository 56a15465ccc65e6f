#include "json/strict_json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace macp::json {
namespace {

// nlohmann refuses a number that overflows a double; JSON.parse reads it as ±Infinity.
struct Overflow {
  std::size_t ordinal;  // among the document's number tokens
  bool negative;
};

bool is_json_number(std::string_view t) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.' && (++i, !digits())) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// Copies `text` with every overflowing number token replaced by 0, and says which ones they were, in order.
template <class String>
std::vector<Overflow> replace_overflows(std::string_view text, String& out, ParseWork& work) {
  std::vector<Overflow> found;
  std::size_t ordinal = 0;
  String token;  // one buffer for every token: strtod wants a terminating NUL
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"') {  // copy a string as is, escapes included
      std::size_t j = i + 1;
      while (j < text.size() && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, text.size());
      out.append(text.substr(i, j - i));
      i = j;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t j = i;
      while (j < text.size() && std::string_view("+-0123456789.eE").find(text[j]) != std::string_view::npos) ++j;
      token.assign(text.substr(i, j - i));
      ++work.number_conversions;
      if (is_json_number(token) && std::isinf(std::strtod(token.c_str(), nullptr))) {
        found.push_back({ordinal, c == '-'});
        out += '0';
      } else {
        out += token;
      }
      ++ordinal;
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return found;
}

constexpr std::size_t kObjectMembersUpFront = 8;

// Builds an ordered DOM (Json or SecretJson) from SAX events and refuses what JSON.parse would
// silently accept: duplicated keys and unbounded nesting.
template <class J>
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(std::size_t max_depth, ParseWork& work, std::vector<Overflow> overflows = {})
      : max_depth_(max_depth), work_(work), overflows_(std::move(overflows)) {}

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(typename J::number_integer_t v) { return number(J(v)); }
  bool number_unsigned(typename J::number_unsigned_t v) { return number(J(v)); }
  // The text comes as string_t from the JSON lexer, as std::string from nlohmann's binary readers (never used).
  template <class Text>
  bool number_float(typename J::number_float_t v, const Text& /*text*/) {
    return number(integral_or_float(v));
  }
  bool string(typename J::string_t& v) { return add(std::move(v)); }
  bool binary(typename J::binary_t& /*v*/) { return fail(ParseError::kSyntax); }

  bool start_object(std::size_t /*size*/) { return open(J::value_t::object); }
  bool start_array(std::size_t /*size*/) { return open(J::value_t::array); }
  bool key(typename J::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    if (has_duplicate_key(stack_.back()->template get_ref<const typename J::object_t&>())) {
      return fail(ParseError::kDuplicateKey);
    }
    stack_.pop_back();
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/, const nlohmann::detail::exception& e) {
    constexpr int kNumberOverflow = 406;
    number_overflowed_ = e.id == kNumberOverflow;
    return fail(ParseError::kSyntax);
  }

  J take_root() { return std::move(root_); }
  ParseError error() const { return error_.value_or(ParseError::kSyntax); }
  bool number_overflowed() const { return number_overflowed_; }

 private:
  bool number(J&& value) {
    const std::size_t ordinal = numbers_seen_++;
    // The overflows are in document order: only the next one can be this number.
    if (next_overflow_ < overflows_.size()) {
      ++work_.overflow_checks;
      if (const Overflow& next = overflows_[next_overflow_]; next.ordinal == ordinal) {
        value = next.negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        ++next_overflow_;
      }
    }
    add_node(std::move(value));
    return true;
  }

  static J integral_or_float(double v) {
    constexpr double kTwo63 = 9223372036854775808.0;
    if (std::isfinite(v) && std::trunc(v) == v && v >= -kTwo63 && v < kTwo63) {
      return J(static_cast<std::int64_t>(v));
    }
    if (std::isfinite(v) && std::trunc(v) == v && v >= kTwo63 && v < 2 * kTwo63) {
      return J(static_cast<std::uint64_t>(v));
    }
    return J(v);
  }

  static bool has_duplicate_key(const typename J::object_t& object) {
    if (object.size() < 2) return false;
    // Request objects are small: compare pairwise without allocating; sort only the large ones.
    constexpr std::size_t kPairwiseMax = 16;
    if (object.size() <= kPairwiseMax) {
      for (auto a = object.begin(); a != object.end(); ++a) {
        for (auto b = std::next(a); b != object.end(); ++b) {
          if (a->first == b->first) return true;
        }
      }
      return false;
    }
    std::vector<std::string_view> keys;
    keys.reserve(object.size());
    for (const auto& member : object) keys.emplace_back(member.first);
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
  }

  bool fail(ParseError e) {
    if (!error_) error_ = e;
    return false;
  }

  bool open(typename J::value_t type) {
    if (stack_.size() >= max_depth_) return fail(ParseError::kTooDeep);
    J* node = add_node(J(type));
    // Room for a request's members up front: each regrowth copies the keys, which are const.
    if (node->is_object()) node->template get_ref<typename J::object_t&>().reserve(kObjectMembersUpFront);
    stack_.push_back(node);
    return true;
  }

  template <class V>
  bool add(V&& v) {
    add_node(J(std::forward<V>(v)));
    return true;
  }

  // The parent never grows while a child is open, so pointers on the stack stay valid.
  J* add_node(J&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    J& parent = *stack_.back();
    if (parent.is_array()) {
      auto& array = parent.template get_ref<typename J::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    // Append without the ordered_map's linear search; duplicates are found at end_object.
    auto& members = static_cast<typename J::object_t::Container&>(parent.template get_ref<typename J::object_t&>());
    members.emplace_back(std::move(key_), std::move(value));
    return &members.back().second;
  }

  std::size_t max_depth_;
  ParseWork& work_;
  J root_;
  std::vector<J*> stack_;
  typename J::string_t key_;
  std::optional<ParseError> error_;
  std::vector<Overflow> overflows_;
  std::size_t next_overflow_ = 0;
  std::size_t numbers_seen_ = 0;
  bool number_overflowed_ = false;
};

template <class J>
Result<J, ParseError> parse_as(std::string_view text, std::size_t max_depth, ParseWork& work) {
  ++work.passes;
  StrictDomBuilder<J> builder(max_depth, work);
  if (J::sax_parse(text.begin(), text.end(), &builder)) return builder.take_root();
  if (!builder.number_overflowed()) return Failure{builder.error()};
  // Rare path: parse again with the overflowing numbers marked, to read them as infinities.
  typename J::string_t rewritten;
  auto overflows = replace_overflows(text, rewritten, work);
  ++work.passes;
  StrictDomBuilder<J> again(max_depth, work, std::move(overflows));
  if (J::sax_parse(rewritten.begin(), rewritten.end(), &again)) return again.take_root();
  return Failure{again.error()};
}

}  // namespace

Result<Json, ParseError> parse_strict(std::string_view text, std::size_t max_depth, ParseWork* work) {
  ParseWork uncounted;
  return parse_as<Json>(text, max_depth, work != nullptr ? *work : uncounted);
}

Result<SecretJson, ParseError> parse_strict_secret(std::string_view text, std::size_t max_depth) {
  // nlohmann's lexer also keeps each token's raw text in a std::vector<char> it grows and frees unwiped. Between
  // two strings as long as the text, that buffer grows before the key arrives and is overwritten after it.
  const std::size_t pad = text.size();
  WipedString padded;
  padded.reserve(text.size() + 2 * pad + 8);
  padded.append("[\"").append(pad, ' ').append("\",").append(text).append(",\"").append(pad, ' ').append("\"]");
  ParseWork uncounted;
  auto wrapped = parse_as<SecretJson>(padded, max_depth + 1, uncounted);
  if (!wrapped) return Failure{wrapped.error()};
  auto& items = wrapped->get_ref<SecretJson::array_t&>();
  if (items.size() != 3) return Failure{ParseError::kSyntax};
  return std::move(items[1]);
}

namespace {

// nlohmann builds a shared output adapter and a 512-byte indent string for every serializer, and
// a Json for every string it escapes: each thread keeps one of each, writing into scratch space.
class ThreadSerializer {
 public:
  void append(std::string& out, const Json& value) {
    scratch_.clear();
    serializer_.dump(value, /*pretty_print=*/false, /*ensure_ascii=*/false, /*indent_step=*/0);
    out += scratch_;
  }

  void append_string(std::string& out, std::string_view utf8) {
    literal_.get_ref<Json::string_t&>().assign(utf8);
    append(out, literal_);
  }

 private:
  std::string scratch_;
  nlohmann::detail::serializer<Json> serializer_{nlohmann::detail::output_adapter<char>(scratch_), ' ',
                                                 nlohmann::json::error_handler_t::strict};
  Json literal_ = Json::string_t();
};

ThreadSerializer& thread_serializer() {
  thread_local ThreadSerializer serializer;
  return serializer;
}

}  // namespace

std::string dump(const Json& value) {
  std::string out;
  append_dump(out, value);
  return out;
}

void append_dump(std::string& out, const Json& value) { thread_serializer().append(out, value); }

void append_string_literal(std::string& out, std::string_view utf8) {
  // Printable ASCII other than '"' and '\\' is its own JSON text: most senders, ids, kids and peers. The
  // serializer (UTF-8 decoding and escaping byte by byte) is for the rest.
  const bool plain =
      std::all_of(utf8.begin(), utf8.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
  if (!plain) return thread_serializer().append_string(out, utf8);
  out += '"';
  out += utf8;
  out += '"';
}

}  // namespace macp::json
