#include "url_files.hpp"

#include <map>
#include <memory>
#include <mutex>

#include "code_interpreter/protocol/base64.hpp"
#include "code_interpreter/crypto/crypto.hpp"

namespace ci {

// The outcomes of one request's files, filled in by the transfer threads.
struct UrlFileTransfers::Batch {
    std::mutex mu;
    std::vector<FileTransferOutcome> outcomes;
    std::size_t left = 0;
    TransferDone done;
};

UrlFileTransfers::UrlFileTransfers(UrlPolicy policy, TransferSettings settings, TaskRunner& threads)
    : policy_(std::move(policy)), settings_(settings), threads_(threads) {
    settings_.cancelled = &cancelled_;
}

void UrlFileTransfers::cancel() { cancelled_.store(true); }

template <class Item, class Run>
void UrlFileTransfers::run_batch(std::vector<Item> files, WorkspaceCall workspace, TransferDone done, Run run) {
    threads_.post([this, files = std::move(files), workspace = std::move(workspace), done = std::move(done),
                   run]() mutable {
        if (cancelled_.load()) {
            done(ApiError{ErrorReason::shutting_down, "the gateway is stopping"});
            return;
        }
        std::map<std::string, std::variant<CheckedTarget, ApiError>> checked;  // by URL host:port
        std::vector<CheckedTarget> targets;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const ParsedUrl& url = files[i].url;
            auto found = checked.find(host_port(url));
            if (found == checked.end()) found = checked.emplace(host_port(url), check_target(url, policy_)).first;
            if (auto* error = std::get_if<ApiError>(&found->second)) {
                ApiError refused = *error;
                refused.message = "files[" + std::to_string(i) + "] (" + files[i].file.name +
                                  "): " + refused.message + "; no file was transferred";
                done(std::move(refused));
                return;
            }
            CheckedTarget target = std::get<CheckedTarget>(found->second);
            target.url = url;  // the same host and address, this file's URL
            targets.push_back(std::move(target));
        }
        auto batch = std::make_shared<Batch>();
        batch->outcomes.resize(files.size());
        batch->left = files.size();
        batch->done = std::move(done);
        auto shared_files = std::make_shared<std::vector<Item>>(std::move(files));
        auto shared_workspace = std::make_shared<WorkspaceCall>(std::move(workspace));
        for (std::size_t i = 0; i < shared_files->size(); ++i) {
            threads_.post([this, batch, shared_files, shared_workspace, target = std::move(targets[i]), i, run] {
                FileTransferOutcome outcome;
                try {
                    outcome = (this->*run)((*shared_files)[i], target, *shared_workspace);
                } catch (const std::exception& e) {  // a malformed answer from the worker, say
                    outcome.error = ApiError{ErrorReason::internal, std::string("the transfer failed: ") + e.what()};
                }
                std::unique_lock lock(batch->mu);
                batch->outcomes[i] = std::move(outcome);
                if (--batch->left > 0) return;
                lock.unlock();
                batch->done(std::move(batch->outcomes));
            });
        }
    });
}

void UrlFileTransfers::import_files(std::vector<UrlImport> files, WorkspaceCall workspace, TransferDone done) {
    run_batch(std::move(files), std::move(workspace), std::move(done), &UrlFileTransfers::import_one);
}

void UrlFileTransfers::export_files(std::vector<UrlExport> files, WorkspaceCall workspace, TransferDone done) {
    run_batch(std::move(files), std::move(workspace), std::move(done), &UrlFileTransfers::export_one);
}

FileTransferOutcome UrlFileTransfers::import_one(const UrlImport& file, const CheckedTarget& target,
                                                 const WorkspaceCall& workspace) {
    const std::string& path = file.file.relative;
    const std::size_t slash = path.rfind('/');
    const std::string temp = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + ".ci-download-" +
                             crypto::random_hex(8);
    bool temp_made = false;
    std::string buffer;
    buffer.reserve(kTransferChunkBytes);
    // The first part makes the temporary file (and the directories above it); the rest append.
    auto flush = [&]() -> std::optional<ApiError> {
        auto reply = workspace(protocol::FileWriteRequest{.path = temp, .data = buffer, .append = temp_made});
        if (auto* error = std::get_if<ApiError>(&reply)) return *error;
        temp_made = true;
        buffer.clear();
        return std::nullopt;
    };
    auto sink = [&](std::string_view bytes) -> std::optional<ApiError> {
        while (!bytes.empty()) {
            const std::size_t n = std::min(bytes.size(), kTransferChunkBytes - buffer.size());
            buffer.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
            if (buffer.size() == kTransferChunkBytes)
                if (auto error = flush()) return error;
        }
        return std::nullopt;
    };

    FileTransferOutcome outcome;
    auto downloaded = download_url(target, policy_, settings_, sink);
    if (auto* error = std::get_if<ApiError>(&downloaded)) {
        outcome.error = std::move(*error);
    } else if (auto error = (buffer.empty() && temp_made) ? std::nullopt : flush()) {
        outcome.error = std::move(*error);
    } else if (auto moved = workspace(protocol::FileMoveRequest{.from = temp, .to = path});
               std::holds_alternative<ApiError>(moved)) {
        outcome.error = std::get<ApiError>(std::move(moved));
    } else {
        outcome.size = std::get<std::uint64_t>(downloaded);
        return outcome;
    }
    if (temp_made) workspace(protocol::FileDeleteRequest{.path = temp});  // best effort: the error is the answer
    return outcome;
}

FileTransferOutcome UrlFileTransfers::export_one(const UrlExport& file, const CheckedTarget& target,
                                                 const WorkspaceCall& workspace) {
    const std::string& path = file.file.relative;
    auto read_part = [&](std::uint64_t offset, std::uint64_t length) {
        return workspace(protocol::FileReadRequest{.path = path, .offset = offset, .length = length});
    };
    FileTransferOutcome outcome;
    // The first part also says the file's size, which the upload announces.
    auto first = read_part(0, kTransferChunkBytes);
    if (auto* error = std::get_if<ApiError>(&first)) {
        outcome.error = std::move(*error);
        return outcome;
    }
    const auto& reply = std::get<nlohmann::json>(first);
    const auto size = reply.at("file").at("size").get<std::uint64_t>();
    if (size > settings_.max_bytes) {
        outcome.error = ApiError{ErrorReason::payload_too_large,
                                 "\"" + file.file.absolute + "\" is " + std::to_string(size) +
                                     " bytes, more than the limit of " + std::to_string(settings_.max_bytes) +
                                     " bytes (files.url_max_file_bytes)"};
        return outcome;
    }
    std::optional<std::string> pending = protocol::base64_decode(reply.at("data_base64").get<std::string>());
    if (!pending) {
        outcome.error = ApiError{ErrorReason::internal, "the worker sent a file part that is not valid base64"};
        return outcome;
    }
    std::uint64_t offset = pending->size();
    auto source = [&](std::size_t) -> std::variant<std::string, ApiError> {
        if (pending) {
            std::string part = std::move(*pending);
            pending.reset();
            return part;
        }
        auto next = read_part(offset, kTransferChunkBytes);
        if (auto* error = std::get_if<ApiError>(&next)) return std::move(*error);
        auto bytes = protocol::base64_decode(std::get<nlohmann::json>(next).at("data_base64").get<std::string>());
        if (!bytes) return ApiError{ErrorReason::internal, "the worker sent a file part that is not valid base64"};
        offset += bytes->size();
        return std::move(*bytes);
    };
    if (auto error = upload_url(target, file.form_fields, file.file.name, size, settings_, source))
        outcome.error = std::move(*error);
    else
        outcome.size = size;
    return outcome;
}

}  // namespace ci
