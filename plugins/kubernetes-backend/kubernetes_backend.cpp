#include "kubernetes_backend.hpp"

#include <stdexcept>

#include <openssl/evp.h>

#include "pod_manifest.hpp"
#include "pod_state.hpp"
#include "watch_stream.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;
using plugin::FailureKind;
using plugin::LogLevel;
using plugin::Result;
using plugin::Status;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 500ms;
constexpr auto kMaxBackoff = 10s;
// How long a pod just created may be missing from the watch before the API is asked directly.
constexpr auto kWatchGrace = 2s;

// What an answer's status means for the core: retry later, or an operator's problem.
FailureKind kind_of(long status) {
    if (status == 429 || status >= 500) return FailureKind::unavailable;
    if (status == 404) return FailureKind::not_found;  // the namespace
    return FailureKind::other;
}

std::string refused(const std::string& what, const ApiResponse& response) {
    std::string out = what + ": the API answered " + response.describe();
    if (response.status == 401) out += " (the token is not accepted)";
    if (response.status == 403) out += " (the service account's Role does not allow it: see docs/kubernetes.md)";
    return out;
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A claim's "renewed" (Unix ms); an unreadable one reads as the oldest possible.
std::int64_t renewed_of(const json& claim) {
    try {
        return std::stoll(claim.value("data", json::object()).value("renewed", std::string("0")));
    } catch (const std::exception&) {
        return 0;
    }
}

std::optional<std::string> base64_decode(const std::string& text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t padding = 0;
    for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

std::string label_of(const json& object, const char* label) {
    const json& labels = object.value("metadata", json::object()).value("labels", json::object());
    return labels.value(label, std::string());
}

}  // namespace

KubernetesBackend::KubernetesBackend(BackendSettings settings, ClusterAccess access, Log log)
    : settings_(std::move(settings)), api_(std::move(access)), log_(std::move(log)) {}

KubernetesBackend::~KubernetesBackend() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    changed_.notify_all();
    if (watcher_.joinable()) watcher_.join();
}

void KubernetesBackend::start() {
    const auto r = api_.call("GET", api_.path("pods") + "?" + ApiClient::query("labelSelector", instance_selector(settings_)) +
                                        "&limit=1");
    if (!r.ok())
        throw std::runtime_error("the Kubernetes API at " + api_.access().api_url + " cannot be reached: " + r.error());
    if (r.value().status != 200)
        throw std::runtime_error(refused("listing pods in namespace " + api_.access().namespace_, r.value()));
    log_(LogLevel::info, "Kubernetes API at " + api_.access().api_url + " answers; workers are pods in namespace " +
                             api_.access().namespace_ + " from " + settings_.image + ", instance '" + settings_.instance +
                             "'");
    watcher_ = std::thread([this] { watch_loop(); });
}

std::string KubernetesBackend::endpoint_of(const std::string& pod_ip) const {
    const bool v6 = pod_ip.find(':') != std::string::npos;
    return "tcp://" + (v6 ? "[" + pod_ip + "]" : pod_ip) + ":" + std::to_string(settings_.agent_port);
}

Result<plugin::WorkerHandle> KubernetesBackend::create_worker(const plugin::WorkerSpec& spec) {
    const std::string name = worker_object_name(spec.worker_id);
    const json secret = worker_secret(settings_, api_.access().namespace_, spec);
    const auto made_secret = api_.call("POST", api_.path("secrets"), &secret);
    if (!made_secret.ok()) return Result<plugin::WorkerHandle>::failure(made_secret.error(), made_secret.kind());
    if (made_secret.value().status != 201)
        return Result<plugin::WorkerHandle>::failure(refused("creating Secret " + name, made_secret.value()),
                                                     kind_of(made_secret.value().status));
    auto fail = [&](const std::string& why, FailureKind kind) {
        if (const Status removed = destroy_worker(spec.worker_id); !removed.ok())
            log_(LogLevel::warn, "removing the failed worker " + spec.worker_id + ": " + removed.error());
        return Result<plugin::WorkerHandle>::failure(why, kind);
    };
    const json pod = worker_pod(settings_, api_.access().namespace_, spec);
    const auto made_pod = api_.call("POST", api_.path("pods"), &pod);
    if (!made_pod.ok()) return fail(made_pod.error(), made_pod.kind());
    if (made_pod.value().status != 201)
        return fail(refused("creating Pod " + name, made_pod.value()), kind_of(made_pod.value().status));

    const auto created = Clock::now();
    const auto deadline = created + settings_.start_timeout;
    PodState last;
    for (;;) {
        std::optional<json> seen;
        if (auto in_step = watched(name); in_step && (*in_step || Clock::now() - created < kWatchGrace)) {
            seen = *in_step;
        } else {
            auto fetched = get_pod(name);
            if (!fetched.ok()) return fail(fetched.error(), fetched.kind());
            if (!fetched.value()) return fail("pod " + name + " was deleted while it started", FailureKind::other);
            seen = fetched.value();
        }
        if (seen) {
            last = pod_state(*seen);
            switch (last.condition) {
                case PodCondition::running:
                    if (!last.pod_ip.empty())
                        return Result<plugin::WorkerHandle>::success(
                            {spec.worker_id, name, endpoint_of(last.pod_ip), ""});
                    break;
                case PodCondition::pending:
                case PodCondition::unschedulable:  // the cluster may grow: wait for the deadline
                    break;
                case PodCondition::image_unavailable:
                    return fail("pod " + name + ": the worker image cannot be pulled: " + last.detail, FailureKind::not_found);
                default:
                    return fail("pod " + name + " ended while it started: " + worker_status(last).detail, FailureKind::other);
            }
        }
        std::unique_lock lock(mu_);
        if (stop_) return fail("the backend is stopping", FailureKind::unavailable);
        if (Clock::now() >= deadline) {
            lock.unlock();
            const std::string seen_last = last.condition == PodCondition::unschedulable
                                              ? "unschedulable: " + last.detail
                                              : std::string(condition_name(last.condition)) + ": " + last.detail;
            return fail("pod " + name + " was not running within " +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(settings_.start_timeout).count()) +
                            " s (" + seen_last + ")",
                        last.condition == PodCondition::unschedulable ? FailureKind::exhausted : FailureKind::unavailable);
        }
        changed_.wait_until(lock, std::min(deadline, Clock::now() + 1s));
    }
}

Result<json> KubernetesBackend::list(const char* resource, const std::string& selector) {
    const auto r = api_.call("GET", api_.path(resource) + "?" + ApiClient::query("labelSelector", selector));
    if (!r.ok()) return Result<json>::failure(r.error(), r.kind());
    if (r.value().status != 200)
        return Result<json>::failure(refused(std::string("listing ") + resource, r.value()), kind_of(r.value().status));
    return Result<json>::success(r.value().json());
}

Status KubernetesBackend::destroy_worker(const std::string& worker_id) {
    const std::string name = worker_object_name(worker_id);
    const json options = delete_options();
    std::string problems;
    FailureKind kind = FailureKind::other;
    std::vector<std::pair<std::string, std::string>> objects = {{"pods", name}, {"secrets", name}};
    if (settings_.share_sessions) {  // and its session's claim
        const auto claims = list("configmaps", instance_selector(settings_) + "," + kLabelWorkerId + "=" + worker_id);
        if (!claims.ok()) return Status::failure(claims.error(), claims.kind());
        for (const json& claim : claims.value().value("items", json::array()))
            objects.emplace_back("configmaps", object_name(claim));
    }
    for (const auto& [resource, object] : objects) {
        const auto r = api_.call("DELETE", api_.path(resource, object), &options);
        if (!r.ok()) {
            problems += (problems.empty() ? "" : "; ") + r.error();
            kind = r.kind();
        } else if (r.value().status != 200 && r.value().status != 202 && r.value().status != 404) {
            problems += (problems.empty() ? "" : "; ") + refused("deleting " + resource + " " + object, r.value());
            kind = kind_of(r.value().status);
        }
    }
    return problems.empty() ? Status::success() : Status::failure(problems, kind);
}

Result<std::vector<plugin::WorkerHandle>> KubernetesBackend::list_workers() {
    using Handles = std::vector<plugin::WorkerHandle>;
    // With share_sessions: this gateway's workers, and those of gateways that are gone (a gateway's
    // id is its pod's name: no such pod, no such gateway); never a claimed one (below).
    const std::string selector = instance_selector(settings_);
    const auto pods = list("pods", selector);
    if (!pods.ok()) return Result<Handles>::failure(pods.error(), pods.kind());
    std::map<std::string, bool> gateway_gone;  // another gateway's id -> whether it is gone
    auto listed = [&](const json& object) -> Result<bool> {
        const std::string gateway = label_of(object, kLabelGateway);
        if (!settings_.share_sessions || gateway == settings_.gateway_id) return Result<bool>::success(true);
        if (gateway.empty()) return Result<bool>::success(false);
        if (!gateway_gone.count(gateway)) {
            auto found = get_pod(gateway);
            if (!found.ok()) return Result<bool>::failure(found.error(), found.kind());
            gateway_gone[gateway] = !found.value();
        }
        return Result<bool>::success(gateway_gone[gateway]);
    };
    const auto secrets = list("secrets", selector);
    if (!secrets.ok()) return Result<Handles>::failure(secrets.error(), secrets.kind());

    // A claimed worker serves a session any gateway may take up: never this gateway's to remove.
    std::set<std::string> claimed;
    if (settings_.share_sessions) {
        const auto claims = list("configmaps", selector);
        if (!claims.ok()) return Result<Handles>::failure(claims.error(), claims.kind());
        for (const json& claim : claims.value().value("items", json::array()))
            claimed.insert(label_of(claim, kLabelWorkerId));
    }
    Handles out;
    std::set<std::string> with_pod;
    const std::string fingerprint = template_fingerprint(settings_);
    for (const json& pod : pods.value().value("items", json::array())) {
        const std::string id = label_of(pod, kLabelWorkerId);
        if (id.empty()) continue;
        with_pod.insert(id);
        const auto ours = listed(pod);
        if (!ours.ok()) return Result<Handles>::failure(ours.error(), ours.kind());
        if (!ours.value() || claimed.count(id)) continue;
        const PodState state = pod_state(pod);
        plugin::WorkerHandle handle{id, object_name(pod), state.pod_ip.empty() ? "" : endpoint_of(state.pod_ip), ""};
        const std::string made_from =
            pod.value("metadata", json::object()).value("annotations", json::object()).value(kAnnotationTemplate, std::string());
        if (made_from != fingerprint)
            handle.stale = "made from other settings (template " + made_from + ", now " + fingerprint + ")";
        else if (state.condition != PodCondition::running || state.pod_ip.empty())
            handle.stale = std::string("not running (") + condition_name(state.condition) + ")";
        out.push_back(std::move(handle));
    }
    for (const json& secret : secrets.value().value("items", json::array())) {
        const std::string id = label_of(secret, kLabelWorkerId);
        const auto ours = listed(secret);
        if (!ours.ok()) return Result<Handles>::failure(ours.error(), ours.kind());
        if (!id.empty() && ours.value() && !with_pod.count(id))
            out.push_back({id, object_name(secret), "", "a Secret left without its pod"});
    }
    return Result<Handles>::success(std::move(out));
}

Result<plugin::WorkerStatus> KubernetesBackend::inspect_worker(const std::string& worker_id) {
    const std::string name = worker_object_name(worker_id);
    std::optional<json> pod;
    if (auto in_step = watched(name); in_step && *in_step) {
        pod = *in_step;
    } else {
        auto fetched = get_pod(name);
        if (!fetched.ok()) return Result<plugin::WorkerStatus>::failure(fetched.error(), fetched.kind());
        pod = fetched.value();
    }
    if (!pod) return Result<plugin::WorkerStatus>::success({plugin::WorkerState::missing, 0, "pod " + name + " does not exist"});
    return Result<plugin::WorkerStatus>::success(worker_status(pod_state(*pod)));
}

Result<std::optional<plugin::SessionClaim>> KubernetesBackend::find_session(const std::string& session) {
    using Found = Result<std::optional<plugin::SessionClaim>>;
    const std::string claim_name = claim_object_name(session);
    const auto claim = api_.call("GET", api_.path("configmaps", claim_name));
    if (!claim.ok()) return Found::failure(claim.error(), claim.kind());
    if (claim.value().status == 404) return Found::success(std::nullopt);
    if (claim.value().status != 200)
        return Found::failure(refused("reading claim " + claim_name, claim.value()), kind_of(claim.value().status));
    const json object = claim.value().json();
    const json data = object.value("data", json::object());
    const std::string worker_id = data.value("worker", std::string());
    // The id goes into API paths: only what the core makes (12 lowercase hex characters).
    if (worker_id.size() != 12 ||
        worker_id.find_first_not_of("0123456789abcdef") != std::string::npos)
        return Found::failure("claim " + claim_name + " names no valid worker id", FailureKind::other);
    const std::string name = worker_object_name(worker_id);
    auto pod = get_pod(name);
    if (!pod.ok()) return Found::failure(pod.error(), pod.kind());
    const PodState state = pod.value() ? pod_state(*pod.value()) : PodState{PodCondition::deleting};
    if (state.condition != PodCondition::running || state.pod_ip.empty()) {
        // The worker is gone (or going): the claim goes too, unless it changed meanwhile.
        json options = delete_options();
        options["preconditions"] = {{"resourceVersion", object["metadata"].value("resourceVersion", std::string())}};
        api_.call("DELETE", api_.path("configmaps", claim_name), &options);
        return Found::success(std::nullopt);
    }
    const auto secret = api_.call("GET", api_.path("secrets", name));
    if (!secret.ok()) return Found::failure(secret.error(), secret.kind());
    if (secret.value().status != 200)
        return Found::failure(refused("reading the key of " + name, secret.value()), kind_of(secret.value().status));
    const auto key =
        base64_decode(secret.value().json().value("data", json::object()).value(kSecretKeyField, std::string()));
    if (!key || key->empty()) return Found::failure("Secret " + name + " holds no agent key", FailureKind::other);
    return Found::success(plugin::SessionClaim{{worker_id, name, endpoint_of(state.pod_ip), ""}, *key, renewed_of(object)});
}

Status KubernetesBackend::claim_session(const std::string& session, const std::string& worker_id) {
    const json claim = session_claim(settings_, api_.access().namespace_, session, worker_id, unix_ms_now());
    const auto r = api_.call("POST", api_.path("configmaps"), &claim);
    if (!r.ok()) return Status::failure(r.error(), r.kind());
    if (r.value().status == 409)
        return Status::failure("another gateway claimed the session first", FailureKind::conflict);
    if (r.value().status != 201)
        return Status::failure(refused("claiming a session", r.value()), kind_of(r.value().status));
    return Status::success();
}

Status KubernetesBackend::renew_session(const std::string& session) {
    const std::string claim_name = claim_object_name(session);
    for (int attempt = 0; attempt < 2; ++attempt) {  // a 409: another gateway renewed it meanwhile
        const auto current = api_.call("GET", api_.path("configmaps", claim_name));
        if (!current.ok()) return Status::failure(current.error(), current.kind());
        if (current.value().status == 404) return Status::success();  // released meanwhile
        if (current.value().status != 200)
            return Status::failure(refused("reading claim " + claim_name, current.value()), kind_of(current.value().status));
        json claim = current.value().json();
        claim["data"]["gateway"] = settings_.gateway_id;
        claim["data"]["renewed"] = std::to_string(unix_ms_now());
        const auto put = api_.call("PUT", api_.path("configmaps", claim_name), &claim);
        if (!put.ok()) return Status::failure(put.error(), put.kind());
        if (put.value().status == 200 || put.value().status == 404) return Status::success();
        if (put.value().status != 409)
            return Status::failure(refused("renewing claim " + claim_name, put.value()), kind_of(put.value().status));
    }
    return Status::success();  // renewed by another gateway just now: as good
}

Result<int> KubernetesBackend::remove_idle_sessions(std::int64_t renewed_before_unix_ms) {
    const auto claims = list("configmaps", instance_selector(settings_));
    if (!claims.ok()) return Result<int>::failure(claims.error(), claims.kind());
    int removed = 0;
    for (const json& claim : claims.value().value("items", json::array())) {
        const std::string worker_id = claim.value("data", json::object()).value("worker", std::string());
        if (renewed_of(claim) >= renewed_before_unix_ms || worker_id.empty()) continue;
        log_(LogLevel::info, "removing worker " + worker_id + ": its session's claim " + object_name(claim) +
                                 " was not renewed by any gateway within the idle timeout");
        if (const Status status = destroy_worker(worker_id); !status.ok()) return Result<int>::failure(status.error(), status.kind());
        ++removed;
    }
    return Result<int>::success(removed);
}

std::optional<std::optional<json>> KubernetesBackend::watched(const std::string& name) {
    std::lock_guard lock(mu_);
    if (!in_step_) return std::nullopt;
    return pods_.find(name);
}

Result<std::optional<json>> KubernetesBackend::get_pod(const std::string& name) {
    const auto r = api_.call("GET", api_.path("pods", name));
    if (!r.ok()) return Result<std::optional<json>>::failure(r.error(), r.kind());
    if (r.value().status == 404) return Result<std::optional<json>>::success(std::nullopt);
    if (r.value().status != 200)
        return Result<std::optional<json>>::failure(refused("reading pod " + name, r.value()), kind_of(r.value().status));
    return Result<std::optional<json>>::success(r.value().json());
}

void KubernetesBackend::watch_loop() {
    auto backoff = std::chrono::milliseconds(kFirstBackoff);
    std::string last_failure;
    while (!stop_) {
        const std::string failure = list_and_watch();
        if (stop_) break;
        if (failure.empty()) {
            backoff = kFirstBackoff;
            continue;
        }
        if (failure != last_failure)
            log_(LogLevel::warn, "watching pods: " + failure + " (trying again, workers are read from the API meanwhile)");
        last_failure = failure;
        std::unique_lock lock(mu_);
        changed_.wait_for(lock, backoff, [this] { return stop_.load(); });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
}

std::string KubernetesBackend::list_and_watch() {
    const auto listed = list("pods", instance_selector(settings_));
    if (!listed.ok()) return listed.error();
    try {
        std::lock_guard lock(mu_);
        pods_.replace(listed.value());
        in_step_ = true;
    } catch (const WatchStreamError& e) {
        return std::string("listing pods: ") + e.what();
    }
    changed_.notify_all();
    auto out_of_step = [this](std::string why) {
        std::lock_guard lock(mu_);
        in_step_ = false;
        return why;
    };
    while (!stop_) {
        std::string version;
        {
            std::lock_guard lock(mu_);
            version = pods_.resource_version();
        }
        const std::string path = api_.path("pods") + "?watch=1&" +
                                 ApiClient::query("labelSelector", instance_selector(settings_)) + "&" +
                                 ApiClient::query("resourceVersion", version) +
                                 "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(kWatchSeconds);
        WatchStream stream;
        bool relist = false;
        std::string failure;
        const auto watched_answer = api_.stream(
            path,
            [&](std::string_view chunk) {
                try {
                    const auto events = stream.feed(chunk);
                    std::lock_guard lock(mu_);
                    for (const WatchEvent& event : events) {
                        const PodSet::Next next = pods_.apply(event);
                        if (next == PodSet::Next::relist) relist = true;
                        if (next == PodSet::Next::rewatch) failure = "the watch reported an error: " + event.object.dump();
                        if (next != PodSet::Next::go_on) break;
                    }
                } catch (const WatchStreamError& e) {
                    failure = e.what();
                }
                changed_.notify_all();
                return !relist && failure.empty();
            },
            stop_);
        if (relist) return out_of_step("");
        if (!failure.empty()) return out_of_step(failure);
        if (!watched_answer.ok()) return out_of_step(watched_answer.error());
        if (watched_answer.value().status == 410) return out_of_step("");
        if (watched_answer.value().status != 200) return out_of_step(refused("watching pods", watched_answer.value()));
        // The server ended the watch (its timeoutSeconds): the next one starts from the last version.
    }
    return "";
}

}  // namespace ci::kube
