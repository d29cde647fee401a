#pragma once
// Moving a file's bytes between the gateway and a remote HTTP(S) server with libcurl, for the
// original's file transfer by URL (presigned object-storage URLs). The bytes stream through: a
// download hands them to a sink as they arrive and an upload pulls them from a source as curl
// sends them, so a file is never held whole. Each transfer blocks its calling thread (a transfer
// thread, see url_files.hpp).
//
// Every connection goes to the address url_policy checked and nothing else: the name is resolved
// once, curl is told that address (CURLOPT_RESOLVE) and its socket callback refuses any other.
// Downloads follow at most max_redirects redirects, each checked again like the first URL;
// uploads follow none (a redirected upload would have to be sent again). No proxy from the
// environment is used, and no protocol but http and https.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api_error.hpp"
#include "url_policy.hpp"

namespace ci {

struct TransferSettings {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds total_timeout{120'000};  // for one URL, redirects included
    std::uint64_t max_bytes = 100ULL << 20;             // a larger download is payload_too_large
    int max_redirects = 5;
    const std::atomic<bool>* cancelled = nullptr;       // set: transfers stop (shutting_down)
};

// Takes a download's next bytes; an error stops the transfer and is its outcome.
using ByteSink = std::function<std::optional<ApiError>(std::string_view bytes)>;
// Gives an upload's next bytes (at least one, at most max_bytes, until size bytes were given), or
// an error that stops the transfer.
using ByteSource = std::function<std::variant<std::string, ApiError>(std::size_t max_bytes)>;

// Downloads target (checked by check_target) into sink: its size in bytes, or why it failed:
// url_refused (a redirect breaks the policy), payload_too_large, transfer_failed (the server, the
// network, or an HTTP status other than 2xx), transfer_timeout, shutting_down, or the sink's error.
std::variant<std::uint64_t, ApiError> download_url(const CheckedTarget& target, const UrlPolicy& policy,
                                                   const TransferSettings& settings, const ByteSink& sink);

// The fields of a presigned POST, sent before the file part.
using FormFields = std::vector<std::pair<std::string, std::string>>;

// Uploads size bytes from source to target: a PUT of the bytes, or, with form_fields, a POST of a
// multipart form holding the fields and then the bytes as the part "file" named filename. A 2xx
// answer is success; errors as download_url's (a redirect is transfer_failed).
std::optional<ApiError> upload_url(const CheckedTarget& target, const std::optional<FormFields>& form_fields,
                                   const std::string& filename, std::uint64_t size,
                                   const TransferSettings& settings, const ByteSource& source);

}  // namespace ci
