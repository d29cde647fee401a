#pragma once
// Answering a request: JSON bodies, typed errors, and the parsing steps shared by every route.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>
#include <pistache/http.h>

#include "api_error.hpp"

namespace ci {

// Pistache writes only typed headers into a response (raw ones are dropped): this type holds any
// header, its name (a constant of static lifetime) and its value as text.
class TextHeader final : public Pistache::Http::Header::Header {
public:
    TextHeader(const char* name, std::string value) : name_(name), value_(std::move(value)) {}
    const char* name() const override { return name_; }
    // What Pistache's typed-header casts check (its headers define SAFE_HEADER_CAST).
    std::uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_); }
    void parse(const std::string& data) override { value_ = data; }
    void write(std::ostream& os) const override { os << value_; }

private:
    const char* name_;
    std::string value_;
};

// A request header's value as received (Pistache keeps every header raw too, the ones it parses
// included; names match in any case).
std::optional<std::string> raw_header(const Pistache::Http::Request& request, const std::string& name);

inline void add_header(Pistache::Http::ResponseWriter& writer, const char* name, std::string value) {
    writer.headers().add(std::make_shared<TextHeader>(name, std::move(value)));
}

inline constexpr char kRetryAfter[] = "Retry-After";
inline constexpr char kContentSecurityPolicy[] = "Content-Security-Policy";
inline constexpr char kContentDisposition[] = "Content-Disposition";
inline constexpr char kVary[] = "Vary";
inline constexpr char kAllowOrigin[] = "Access-Control-Allow-Origin";
inline constexpr char kAllowMethods[] = "Access-Control-Allow-Methods";
inline constexpr char kAllowHeaders[] = "Access-Control-Allow-Headers";
inline constexpr char kExposeHeaders[] = "Access-Control-Expose-Headers";
inline constexpr char kMaxAge[] = "Access-Control-Max-Age";

// `attachment` naming the path's last component: an ASCII filename (other bytes as '_') and the
// exact name as RFC 5987 filename*.
std::string attachment_disposition(std::string_view path);

Pistache::Async::Promise<ssize_t> send_json(Pistache::Http::ResponseWriter& writer, int status, const std::string& body);
Pistache::Async::Promise<ssize_t> send_error(Pistache::Http::ResponseWriter& writer, const ApiError& error);

// Serialises for an answer; invalid UTF-8 (from user output) is replaced, never thrown on.
std::string dump(const nlohmann::json& j);

// Whose rules a route's validation failures follow: ours answer 400 bad_request / invalid_path;
// the original project's routes (/execute, /release, and its file transfer by URL) answer 422
// validation_failed, as its framework does, so that its clients see what they expect.
enum class Dialect { ours, original };

ApiError in_terms_of(Dialect dialect, ApiError error);

// The value, or (after answering with the error) nothing.
template <class T>
std::optional<T> or_answer(std::variant<T, ApiError> checked, Pistache::Http::ResponseWriter& writer,
                           Dialect dialect = Dialect::ours) {
    if (auto* error = std::get_if<ApiError>(&checked)) {
        send_error(writer, in_terms_of(dialect, std::move(*error)));
        return std::nullopt;
    }
    return std::get<T>(std::move(checked));
}

}  // namespace ci
