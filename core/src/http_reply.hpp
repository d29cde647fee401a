#pragma once
// Answering a request: JSON bodies, typed errors, and the parsing steps shared by every route.
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>
#include <pistache/http.h>

#include "api_error.hpp"

namespace ci {

// Pistache writes only typed headers into a response (raw ones are dropped): one type per header
// name, holding its value as text. HeaderName must be a constexpr char array.
template <const char* HeaderName>
class TextHeader final : public Pistache::Http::Header::Header {
public:
    NAME(HeaderName)
    TextHeader() = default;
    explicit TextHeader(std::string value) : value_(std::move(value)) {}
    void parse(const std::string& data) override { value_ = data; }
    void write(std::ostream& os) const override { os << value_; }

private:
    std::string value_;
};

inline constexpr char kRetryAfter[] = "Retry-After";
inline constexpr char kContentSecurityPolicy[] = "Content-Security-Policy";
inline constexpr char kContentDisposition[] = "Content-Disposition";

void send_json(Pistache::Http::ResponseWriter& writer, int status, const std::string& body);
void send_error(Pistache::Http::ResponseWriter& writer, const ApiError& error);

// Serialises for an answer; invalid UTF-8 (from user output) is replaced, never thrown on.
std::string dump(const nlohmann::json& j);

// The value, or (after answering with the error) nothing.
template <class T>
std::optional<T> or_answer(std::variant<T, ApiError> checked, Pistache::Http::ResponseWriter& writer) {
    if (auto* error = std::get_if<ApiError>(&checked)) {
        send_error(writer, *error);
        return std::nullopt;
    }
    return std::get<T>(std::move(checked));
}

}  // namespace ci
