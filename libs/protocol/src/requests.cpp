#include "code_interpreter/protocol/requests.hpp"

#include <set>
#include <type_traits>

#include "code_interpreter/protocol/base64.hpp"

namespace ci::protocol {
namespace {

using nlohmann::json;

template <class>
inline constexpr bool kAlwaysFalse = false;

// Each operation's name; the variant's order.
constexpr std::string_view kOps[] = {"ping",       "execute",   "interrupt",   "file_write",
                                     "file_read",  "file_list", "file_delete", "file_move"};
static_assert(std::size(kOps) == std::variant_size_v<Request>);

enum class Need { required, optional };

// Reads the fields of one body with their types checked, remembering which it read so that any
// other is refused; the first problem is kept.
class Decoder {
public:
    explicit Decoder(const json& body) : body_(body) {}

    void text(const char* name, std::string& out, Need need) {
        if (const json* value = find(name, need)) {
            if (value->is_string()) out = value->get<std::string>();
            else wrong(name, "a string");
        }
    }
    void flag(const char* name, bool& out) {
        if (const json* value = find(name, Need::optional)) {
            if (value->is_boolean()) out = value->get<bool>();
            else wrong(name, "true or false");
        }
    }
    void count(const char* name, std::uint64_t& out, Need need) {
        if (const json* value = find(name, need)) {
            // A parsed non-negative number is unsigned; one built in C++ may be signed.
            const bool negative = value->is_number_integer() && !value->is_number_unsigned() &&
                                  value->get<std::int64_t>() < 0;
            if (value->is_number_integer() && !negative) out = value->get<std::uint64_t>();
            else wrong(name, "a non-negative integer");
        }
    }
    void count(const char* name, std::optional<std::uint64_t>& out) {
        read_.insert(name);
        if (!body_.contains(name)) return;
        std::uint64_t value = 0;
        count(name, value, Need::required);
        out = value;
    }
    void bytes(const char* name, std::string& out) {
        std::string text;
        this->text(name, text, Need::required);
        if (problem_) return;
        if (auto decoded = base64_decode(text)) out = std::move(*decoded);
        else fail("\"" + std::string(name) + "\" is not valid base64");
    }

    // The first problem, or the first field nobody read.
    std::optional<std::string> problem() const {
        if (problem_) return problem_;
        for (const auto& [key, value] : body_.items())
            if (key != "id" && key != "op" && !read_.count(key)) return "unknown field \"" + key + "\"";
        return std::nullopt;
    }

private:
    const json* find(const char* name, Need need) {
        read_.insert(name);
        auto it = body_.find(name);
        if (it != body_.end()) return &*it;
        if (need == Need::required) fail("missing field \"" + std::string(name) + "\"");
        return nullptr;
    }
    void wrong(const char* name, const char* what) { fail("\"" + std::string(name) + "\" must be " + what); }
    void fail(std::string message) {
        if (!problem_) problem_ = std::move(message);
    }

    const json& body_;
    std::set<std::string> read_;
    std::optional<std::string> problem_;
};

// Writes the fields into a body.
class Encoder {
public:
    explicit Encoder(json& body) : body_(body) {}
    void text(const char* name, const std::string& value, Need) { body_[name] = value; }
    void flag(const char* name, bool value) { body_[name] = value; }
    void count(const char* name, std::uint64_t value, Need) { body_[name] = value; }
    void count(const char* name, const std::optional<std::uint64_t>& value) {
        if (value) body_[name] = *value;
    }
    void bytes(const char* name, const std::string& value) { body_[name] = base64_encode(value); }

private:
    json& body_;
};

// Every request's fields, once for both directions: R is the request, const when encoding.
template <class Visitor, class R>
void fields_of(Visitor& v, R& r) {
    using T = std::remove_const_t<R>;
    if constexpr (std::is_same_v<T, PingRequest> || std::is_same_v<T, InterruptRequest>) {
    } else if constexpr (std::is_same_v<T, ExecuteRequest>) {
        v.text("code", r.code, Need::required);
        v.count("max_output_bytes", r.max_output_bytes, Need::required);
        v.flag("store_history", r.store_history);
        v.flag("stream", r.stream);
    } else if constexpr (std::is_same_v<T, FileWriteRequest>) {
        v.text("path", r.path, Need::required);
        v.bytes("data_base64", r.data);
        v.flag("overwrite", r.overwrite);
        v.flag("make_parents", r.make_parents);
        v.flag("append", r.append);
    } else if constexpr (std::is_same_v<T, FileReadRequest>) {
        v.text("path", r.path, Need::required);
        v.count("offset", r.offset);
        v.count("length", r.length);
        v.count("max_bytes", r.max_bytes);
    } else if constexpr (std::is_same_v<T, FileListRequest>) {
        v.text("path", r.path, Need::optional);
    } else if constexpr (std::is_same_v<T, FileDeleteRequest>) {
        v.text("path", r.path, Need::required);
        v.flag("recursive", r.recursive);
    } else if constexpr (std::is_same_v<T, FileMoveRequest>) {
        v.text("from", r.from, Need::required);
        v.text("to", r.to, Need::required);
        v.flag("overwrite", r.overwrite);
    } else {
        static_assert(kAlwaysFalse<T>, "a request without its fields");
    }
}

// Decodes the alternative at index I when its name is op.
template <std::size_t I = 0>
std::variant<Request, std::string> decode_op(std::string_view op, const json& body) {
    if constexpr (I == std::variant_size_v<Request>) {
        return "unknown op \"" + std::string(op) + "\"";
    } else {
        if (op != kOps[I]) return decode_op<I + 1>(op, body);
        std::variant_alternative_t<I, Request> request;
        Decoder decoder(body);
        fields_of(decoder, request);
        if (auto problem = decoder.problem()) return std::string(kOps[I]) + ": " + *problem;
        return Request(std::move(request));
    }
}

}  // namespace

std::string_view op_name(const Request& request) { return kOps[request.index()]; }

bool is_file_request(const Request& request) { return op_name(request).starts_with("file_"); }

json encode_request(const Request& request) {
    json body = {{"op", op_name(request)}};
    Encoder encoder(body);
    std::visit([&](const auto& r) { fields_of(encoder, r); }, request);
    return body;
}

std::variant<Request, std::string> decode_request(const json& body) {
    if (!body.is_object()) return std::string("a request must be a JSON object");
    auto op = body.find("op");
    if (op == body.end() || !op->is_string()) return std::string("missing or non-string \"op\"");
    return decode_op(op->get_ref<const std::string&>(), body);
}

}  // namespace ci::protocol
