#include "file_transfer.hpp"

#include <cstdio>

namespace ci {

ApiError file_error(const nlohmann::json& agent_reply) {
    std::string kind = agent_reply.value("error_kind", "");
    std::string message = agent_reply.value("error", "the worker refused the file operation");
    if (kind == "invalid_path") return {ErrorReason::invalid_path, message};
    if (kind == "not_found") return {ErrorReason::not_found, message};
    if (kind == "exists") return {ErrorReason::file_exists, message};
    if (kind == "is_a_directory") return {ErrorReason::is_a_directory, message};
    if (kind == "not_a_directory") return {ErrorReason::not_a_directory, message};
    if (kind == "not_empty") return {ErrorReason::not_empty, message};
    if (kind == "too_large") return {ErrorReason::payload_too_large, message};
    if (kind == "no_space") return {ErrorReason::insufficient_storage, message};
    if (kind == "io") return {ErrorReason::file_io, message};
    return {ErrorReason::internal, "the worker refused the gateway's file request (" +
                                       (kind.empty() ? std::string("no error_kind") : kind) + "): " + message};
}

std::string attachment_disposition(std::string_view path) {
    std::size_t slash = path.find_last_of('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") name = "download";
    std::string ascii;
    std::string encoded;
    for (unsigned char c : name) {
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
        ascii.push_back(plain ? static_cast<char>(c) : '_');
        bool unreserved = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
                          c == '-' || c == '_';
        if (unreserved) {
            encoded.push_back(static_cast<char>(c));
        } else {
            char escape[4];
            std::snprintf(escape, sizeof escape, "%%%02X", c);
            encoded += escape;
        }
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace ci
