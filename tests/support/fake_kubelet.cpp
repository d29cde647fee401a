#include "fake_kubelet.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "code_interpreter/protocol/base64.hpp"
#include "shell.hpp"

namespace ci::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// "1500m" -> "1.5", "2" -> "2"
std::string cpus(const std::string& quantity) {
    if (quantity.ends_with("m")) return std::to_string(std::stod(quantity.substr(0, quantity.size() - 1)) / 1000.0);
    return quantity;
}

// "1024Mi" -> "1024m" (docker's MiB)
std::string memory(const std::string& quantity) {
    if (quantity.ends_with("Mi")) return quantity.substr(0, quantity.size() - 2) + "m";
    if (quantity.ends_with("Gi")) return quantity.substr(0, quantity.size() - 2) + "g";
    return quantity;
}

}  // namespace

FakeKubelet::FakeKubelet(std::string name)
    : name_(std::move(name)),
      network_("ci-fk-" + name_),
      dir_("/tmp/ci-fake-kubelet-" + name_) {
    std::filesystem::create_directories(dir_);
    run_command("docker network rm " + network_ + " >/dev/null 2>&1");
    command_output("docker network create --internal --label ci-fake-kubelet=" + name_ + " " + network_);
    worker_ = std::thread([this] { work_loop(); });
}

FakeKubelet::~FakeKubelet() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    worker_.join();
    run_command("docker ps -aq --filter label=ci-fake-kubelet=" + name_ + " | xargs -r docker rm -f >/dev/null 2>&1");
    run_command("docker network rm " + network_ + " >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string FakeKubelet::container_name(const std::string& pod, const std::string& container) const {
    return "ci-fk-" + name_ + "-" + pod + "-" + container;
}

int FakeKubelet::running_containers() const {
    return static_cast<int>(
        lines_of(run_command("docker ps -q --filter label=ci-fake-kubelet=" + name_).output).size());
}

void FakeKubelet::pod_created(const json& pod) {
    std::lock_guard lock(mu_);
    work_.push_back([this, pod] { start(pod); });
    wake_.notify_all();
}

void FakeKubelet::pod_deleted(const json& pod) {
    std::lock_guard lock(mu_);
    const std::string ns = pod["metadata"]["namespace"], name = pod["metadata"]["name"];
    work_.push_back([this, ns, name, containers = pod["spec"]["containers"]] { remove(ns, name, containers); });
    wake_.notify_all();
}

void FakeKubelet::work_loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
        if (work_.empty()) {
            wake_.wait_for(lock, 300ms);
            lock.unlock();
            poll_statuses();
            lock.lock();
            continue;
        }
        auto job = std::move(work_.front());
        work_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

void FakeKubelet::start(const json& pod) {
    const std::string ns = pod["metadata"]["namespace"], name = pod["metadata"]["name"];
    const json& spec = pod["spec"];
    const json pod_security = spec.value("securityContext", json::object());
    const std::string pod_dir = dir_ + "/" + name;
    std::map<std::string, std::string> volume_dirs;
    for (const json& volume : spec.value("volumes", json::array())) {
        const std::string path = pod_dir + "/" + volume["name"].get<std::string>();
        std::filesystem::create_directories(path);
        // An emptyDir is 0777; with an fsGroup the kubelet gives it the group and the setgid bit.
        std::string group = pod_security.contains("fsGroup") ? ":" + std::to_string(pod_security["fsGroup"].get<long>()) : "";
        run_command("chown root" + group + " " + quoted(path) + " && chmod 2777 " + quoted(path));
        volume_dirs[volume["name"]] = path;
    }
    json statuses = json::array();
    std::string first;
    bool failed = false;
    for (const json& c : spec["containers"]) {
        const std::string container = container_name(name, c["name"]);
        const json sc = c.value("securityContext", json::object());
        std::string command = "docker run -d --name " + container + " --label ci-fake-kubelet=" + name_;
        // The pod's hostname and network belong to its first container; the others share them.
        command += first.empty() ? " --hostname " + name + " --network " + network_ : " --network container:" + first;
        if (sc.contains("runAsUser"))
            command += " --user " + std::to_string(sc["runAsUser"].get<long>()) + ":" +
                       std::to_string(sc.value("runAsGroup", sc["runAsUser"]).get<long>());
        if (pod_security.contains("fsGroup")) command += " --group-add " + std::to_string(pod_security["fsGroup"].get<long>());
        if (sc.value("readOnlyRootFilesystem", false)) command += " --read-only";
        if (sc.contains("capabilities")) command += " --cap-drop ALL";
        if (!sc.value("allowPrivilegeEscalation", true)) command += " --security-opt no-new-privileges";
        const json limits = c.value("resources", json::object()).value("limits", json::object());
        if (limits.contains("cpu")) command += " --cpus " + cpus(limits["cpu"]);
        if (limits.contains("memory")) command += " --memory " + memory(limits["memory"]) + " --memory-swap " + memory(limits["memory"]);
        for (const json& mount : c.value("volumeMounts", json::array()))
            command += " -v " + quoted(volume_dirs[mount["name"]] + ":" + mount["mountPath"].get<std::string>());
        for (const json& env : c.value("env", json::array())) {
            std::string value = env.value("value", std::string());
            if (env.contains("valueFrom")) {
                const json ref = env["valueFrom"]["secretKeyRef"];
                const auto secret = api_->object("secrets", ns, ref["name"]);
                if (secret) value = protocol::base64_decode(secret->at("data").at(ref["key"].get<std::string>()).get<std::string>()).value_or("");
            }
            command += " -e " + quoted(env["name"].get<std::string>() + "=" + value);
        }
        const json argv = c["command"];
        command += " --entrypoint " + quoted(argv[0]) + " " + quoted(c["image"]);
        for (std::size_t i = 1; i < argv.size(); ++i) command += " " + quoted(argv[i]);
        const auto started = run_command(command);
        if (started.status != 0) {
            failed = true;
            statuses.push_back({{"name", c["name"]}, {"ready", false}, {"restartCount", 0}, {"image", c["image"]},
                                {"imageID", ""}, {"state", {{"waiting", {{"reason", "ErrImagePull"},
                                                                          {"message", "docker could not start " + c["image"].get<std::string>()}}}}}});
            continue;
        }
        if (first.empty()) first = container;
        statuses.push_back(container_status(name, c));
    }
    std::string ip;
    if (!first.empty()) {
        const auto address =
            lines_of(run_command("docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' " + first).output);
        if (!address.empty()) ip = address.front();
    }
    json status = {{"phase", failed ? "Pending" : "Running"},
                   {"podIP", ip},
                   {"conditions", json::array({{{"type", "PodScheduled"}, {"status", "True"}},
                                               {{"type", "Ready"}, {"status", failed ? "False" : "True"}}})},
                   {"containerStatuses", statuses}};
    if (!failed) {
        std::lock_guard lock(mu_);
        running_[ns + "/" + name] = pod;
    }
    if (!api_->set_pod_status(ns, name, status)) remove(ns, name, spec["containers"]);  // deleted meanwhile
}

json FakeKubelet::container_status(const std::string& pod, const json& container) const {
    const std::string name = container_name(pod, container["name"]);
    const auto fields = lines_of(
        run_command("docker inspect -f '{{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}' " + name + " 2>/dev/null")
            .output);
    json status = {{"name", container["name"]}, {"restartCount", 0}, {"image", container["image"]}, {"imageID", ""}};
    if (fields.empty()) {
        status["ready"] = false;
        status["state"] = {{"terminated", {{"exitCode", 137}, {"reason", "Error"}, {"message", "the container is gone"}}}};
        return status;
    }
    std::istringstream in(fields.front());
    std::string running, oom;
    int code = 0;
    in >> running >> code >> oom;
    status["ready"] = running == "true";
    if (running == "true")
        status["state"] = {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}};
    else
        status["state"] = {{"terminated", {{"exitCode", code}, {"reason", oom == "true" ? "OOMKilled" : code == 0 ? "Completed" : "Error"}}}};
    return status;
}

void FakeKubelet::poll_statuses() {
    std::map<std::string, json> pods;
    {
        std::lock_guard lock(mu_);
        pods = running_;
    }
    for (const auto& [key, pod] : pods) {
        const std::string ns = pod["metadata"]["namespace"], name = pod["metadata"]["name"];
        json statuses = json::array();
        bool all_running = true, any_running = false, any_failed = false;
        for (const json& c : pod["spec"]["containers"]) {
            json status = container_status(name, c);
            const bool is_running = status["state"].contains("running");
            all_running &= is_running;
            any_running |= is_running;
            if (status["state"].contains("terminated")) any_failed |= status["state"]["terminated"]["exitCode"] != 0;
            statuses.push_back(std::move(status));
        }
        if (all_running) continue;
        const auto current = api_->object("pods", ns, name);
        if (!current) continue;
        json status = current->value("status", json::object());
        if (status.value("containerStatuses", json::array()) == statuses) continue;
        status["containerStatuses"] = statuses;
        if (!any_running) status["phase"] = any_failed ? "Failed" : "Succeeded";
        api_->set_pod_status(ns, name, status);
    }
}

void FakeKubelet::remove(const std::string& ns, const std::string& pod, const json& containers) {
    {
        std::lock_guard lock(mu_);
        running_.erase(ns + "/" + pod);
    }
    std::string names;
    for (const json& c : containers) names += " " + container_name(pod, c["name"]);
    run_command("docker rm -f" + names + " >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir_ + "/" + pod, ec);
}

}  // namespace ci::test
