#include "allowlist_auth.hpp"

#include <cstddef>

namespace ci::example {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

plugin::AuthDecision refuse(std::string reason) {
    plugin::AuthDecision decision;
    decision.reason = std::move(reason);
    return decision;
}

}  // namespace

bool constant_time_equal(std::string_view secret, std::string_view presented) {
    // No early exit: every byte of the secret is looked at whatever the presented text holds.
    unsigned char difference = secret.size() == presented.size() ? 0 : 1;
    for (std::size_t i = 0; i < secret.size(); ++i) {
        const unsigned char other = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
        difference |= static_cast<unsigned char>(static_cast<unsigned char>(secret[i]) ^ other);
    }
    return difference == 0;
}

AllowlistAuth::AllowlistAuth(AllowlistConfig config) : config_(std::move(config)) {}

plugin::AuthDecision AllowlistAuth::authenticate(const plugin::AuthRequest& request) const {
    // The core hands header names in lower case; two credentials are refused, not chosen between.
    const std::string* value = nullptr;
    for (const auto& [name, header_value] : request.headers) {
        if (name != "authorization") continue;
        if (value) return refuse("more than one Authorization header");
        value = &header_value;
    }
    if (!value) return refuse("missing Authorization header (expected 'Authorization: Bearer <token>')");

    // credentials = auth-scheme 1*SP token68; the scheme is case-insensitive (RFC 7235, RFC 6750).
    std::string_view credentials = *value;
    const std::size_t space = credentials.find(' ');
    if (!equals_ignoring_case(credentials.substr(0, space), "bearer"))
        return refuse("the Authorization header does not use the Bearer scheme");
    std::string_view token = space == std::string_view::npos ? std::string_view() : credentials.substr(space);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.empty()) return refuse("the bearer token is empty");

    // Compare with every token, user and admin, whatever matches first.
    bool user = false, admin = false;
    std::size_t user_index = 0, admin_index = 0;
    for (std::size_t i = 0; i < config_.user_tokens.size(); ++i) {
        const bool match = constant_time_equal(config_.user_tokens[i], token);
        user |= match;
        user_index = match ? i : user_index;
    }
    for (std::size_t i = 0; i < config_.admin_tokens.size(); ++i) {
        const bool match = constant_time_equal(config_.admin_tokens[i], token);
        admin |= match;
        admin_index = match ? i : admin_index;
    }
    if (!user && !admin) return refuse("unknown bearer token");

    plugin::AuthDecision decision;
    decision.allowed = true;
    decision.role = admin ? plugin::Role::admin : plugin::Role::user;
    // Which list entry matched, never the token.
    decision.principal = admin ? "admin-token-" + std::to_string(admin_index + 1)
                               : "user-token-" + std::to_string(user_index + 1);
    return decision;
}

}  // namespace ci::example
