#pragma once
// Answering a request: JSON bodies, typed errors, and the parsing steps shared by every route.
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>
#include <pistache/http.h>

#include "api_error.hpp"

namespace ci {

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
