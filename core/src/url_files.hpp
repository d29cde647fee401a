#pragma once
// The original project's file transfer by URL, done by the gateway on its transfer threads:
// downloads into a session's workspace and uploads out of it. A file moves in parts of
// kTransferChunkBytes between the remote server and the worker's agent (its file_write append and
// partial file_read operations), so neither end holds it whole:
// - import: every URL's host is resolved and checked first (url_policy.hpp), so a refused or
//   unknown host fails the request before anything is written; then each file is downloaded into
//   a hidden temporary file beside its target (".ci-download-<random>") and renamed over the
//   target when complete; a failed download removes its temporary file.
// - export: each file is read from the workspace in parts and sent as a PUT, or as a presigned
//   POST's multipart form.
// The files of a request move in parallel on the transfer threads; the request is answered when
// all are done: each file's size, or its error.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "code_interpreter/protocol/requests.hpp"
#include "task_runner.hpp"
#include "url_file_requests.hpp"
#include "url_policy.hpp"
#include "url_transfer.hpp"

namespace ci {

inline constexpr std::size_t kTransferChunkBytes = 4 << 20;

// Sends one file request (agent_protocol.hpp) to the session's agent and waits for the answer: the
// agent's reply when "ok", else the error (its refusal mapped by file_error, or the session's).
// Called from several transfer threads at once.
using WorkspaceCall = std::function<std::variant<nlohmann::json, ApiError>(protocol::Request request)>;

// One file's outcome.
struct FileTransferOutcome {
    std::uint64_t size = 0;
    std::optional<ApiError> error;
};
// Each file's outcome in request order, or the error that stopped the request before any file
// moved (a refused URL, a host that does not resolve, a stopping gateway).
using TransferDone = std::function<void(std::variant<std::vector<FileTransferOutcome>, ApiError>)>;

class UrlFileTransfers {
public:
    UrlFileTransfers(UrlPolicy policy, TransferSettings settings, TaskRunner& threads);

    // done runs once, on a transfer thread.
    void import_files(std::vector<UrlImport> files, WorkspaceCall workspace, TransferDone done);
    void export_files(std::vector<UrlExport> files, WorkspaceCall workspace, TransferDone done);
    // Transfers in flight stop (shutting_down) and new ones are refused.
    void cancel();

private:
    struct Batch;
    FileTransferOutcome import_one(const UrlImport& file, const CheckedTarget& target, const WorkspaceCall& workspace);
    FileTransferOutcome export_one(const UrlExport& file, const CheckedTarget& target, const WorkspaceCall& workspace);
    // Resolves and checks every URL once (a host:port shared by files is resolved once), then
    // runs each file; a refused URL fails the whole request before any file moves.
    template <class Item, class Run>
    void run_batch(std::vector<Item> files, WorkspaceCall workspace, TransferDone done, Run run);

    UrlPolicy policy_;
    TransferSettings settings_;
    TaskRunner& threads_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace ci
