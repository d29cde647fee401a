#include "fake_kube_api.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <openssl/err.h>

#include "code_interpreter/protocol/base64.hpp"
#include "shell.hpp"

namespace ci::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string url_decode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i] == '+' ? ' ' : text[i];
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
    std::map<std::string, std::string> out;
    std::istringstream in(query);
    for (std::string pair; std::getline(in, pair, '&');) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos) out[url_decode(pair)] = "";
        else out[url_decode(pair.substr(0, eq))] = url_decode(pair.substr(eq + 1));
    }
    return out;
}

// Equality-based selectors only ("a=b,c=d"), which is all the backend sends.
bool selected(const json& object, const std::string& selector) {
    if (selector.empty()) return true;
    const json labels = object.value("metadata", json::object()).value("labels", json::object());
    std::istringstream in(selector);
    for (std::string term; std::getline(in, term, ',');) {
        const auto eq = term.find('=');
        if (eq == std::string::npos) return false;
        if (labels.value(term.substr(0, eq), std::string("\x01")) != term.substr(eq + 1)) return false;
    }
    return true;
}

json status_body(int code, const std::string& reason, const std::string& message) {
    return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
            {"message", message}, {"reason", reason}, {"code", code}};
}

std::string now_rfc3339() {
    char text[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return text;
}

bool write_all(SSL* ssl, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const int n = SSL_write(ssl, data.data() + done, static_cast<int>(data.size() - done));
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

const char* reason_phrase(int code) {
    switch (code) {
        case 200: return "OK";
        case 201: return "Created";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 422: return "Unprocessable Entity";
        default: return "Error";
    }
}

bool respond(SSL* ssl, int code, const json& body) {
    const std::string text = body.dump();
    return write_all(ssl, "HTTP/1.1 " + std::to_string(code) + " " + reason_phrase(code) +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
                              "\r\nConnection: close\r\n\r\n" + text);
}

bool chunk(SSL* ssl, const std::string& data) {
    std::ostringstream size;
    size << std::hex << data.size();
    return write_all(ssl, size.str() + "\r\n" + data + "\r\n");
}

}  // namespace

struct FakeKubeApi::Request {
    std::string method, path, query, authorization, body;
};

TestCertificates make_test_certificates(const std::string& dir) {
    const std::string quiet = " 2>/dev/null";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run_command("openssl req -x509" + ec + " -keyout " + dir + "/ca.key -out " + dir +
                "/ca.crt -days 2 -subj /CN=ci-test-kube-ca" + quiet);
    run_command("openssl req" + ec + " -keyout " + dir + "/server.key -out " + dir +
                "/server.csr -subj /CN=ci-fake-kube-api" + quiet);
    run_command("printf 'subjectAltName=IP:127.0.0.1\\n' > " + dir + "/san.ext");
    const auto signed_cert = run_command("openssl x509 -req -in " + dir + "/server.csr -CA " + dir + "/ca.crt -CAkey " +
                                         dir + "/ca.key -CAcreateserial -out " + dir + "/server.crt -days 2 -extfile " +
                                         dir + "/san.ext" + quiet);
    if (signed_cert.status != 0) throw std::runtime_error("openssl could not make the test certificates in " + dir);
    return {dir + "/ca.crt", dir + "/server.crt", dir + "/server.key"};
}

FakeKubeApi::FakeKubeApi(Options options) : options_(std::move(options)) {
    // A client that goes away mid-answer must not end the test process.
    ::signal(SIGPIPE, SIG_IGN);
    context_ = SSL_CTX_new(TLS_server_method());
    if (!context_ || SSL_CTX_use_certificate_chain_file(context_, options_.certificates.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(context_, options_.certificates.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("fake Kubernetes API: cannot load the test certificate");
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 64) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0)
        throw std::runtime_error("fake Kubernetes API: cannot listen on loopback");
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeKubeApi::~FakeKubeApi() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    changed_.notify_all();
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listener_);
    SSL_CTX_free(context_);
}

std::string FakeKubeApi::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

void FakeKubeApi::accept_loop() {
    while (!stop_) {
        pollfd item{listener_, POLLIN, 0};
        if (::poll(&item, 1, 100) <= 0) continue;
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lock(mu_);
        open_fds_.push_back(fd);
        connections_.emplace_back([this, fd] { serve(fd); });
    }
}

void FakeKubeApi::serve(int fd) {
    SSL* ssl = SSL_new(context_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        std::string data;
        char buffer[16384];
        std::size_t head_end = std::string::npos;
        while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
            const int n = SSL_read(ssl, buffer, sizeof buffer);
            if (n <= 0) break;
            data.append(buffer, static_cast<std::size_t>(n));
        }
        if (head_end != std::string::npos) {
            Request request;
            std::istringstream head(data.substr(0, head_end));
            std::string target, line;
            head >> request.method >> target;
            std::getline(head, line);
            std::size_t length = 0;
            while (std::getline(head, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                const auto colon = line.find(':');
                if (colon == std::string::npos) continue;
                std::string name = line.substr(0, colon), value = line.substr(colon + 1);
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                value.erase(0, value.find_first_not_of(' '));
                if (name == "content-length") length = std::stoul(value);
                if (name == "authorization") request.authorization = value;
            }
            request.body = data.substr(head_end + 4);
            while (request.body.size() < length) {
                const int n = SSL_read(ssl, buffer, sizeof buffer);
                if (n <= 0) break;
                request.body.append(buffer, static_cast<std::size_t>(n));
            }
            const auto question = target.find('?');
            request.path = target.substr(0, question);
            request.query = question == std::string::npos ? "" : target.substr(question + 1);
            handle(ssl, request);
        }
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    std::lock_guard lock(mu_);
    std::erase(open_fds_, fd);
    ::close(fd);
}

std::string FakeKubeApi::stamp(json& object) {
    object["metadata"]["resourceVersion"] = std::to_string(++version_);
    return object["metadata"]["resourceVersion"];
}

void FakeKubeApi::record(const std::string& type, const json& object) {
    events_.push_back({version_, type, object});
    changed_.notify_all();
}

std::string FakeKubeApi::invalid_locked(const json& object) {
    if (!object.is_object() || !object.value("metadata", json()).is_object()) return "the body is not an object with metadata";
    if (!options_.schema) return "";
    const auto problems = options_.schema->validate(object);
    for (const auto& p : problems) invalid_.push_back(object.value("kind", std::string("?")) + ": " + p);
    return problems.empty() ? "" : problems.front();
}

void FakeKubeApi::handle(SSL* ssl, const Request& request) {
    if (request.authorization != "Bearer " + options_.token) {
        respond(ssl, 401, status_body(401, "Unauthorized", "Unauthorized"));
        return;
    }
    static const std::regex route(R"(/api/v1/namespaces/([a-z0-9-]+)/(pods|secrets|configmaps)(?:/([a-z0-9.-]+))?)");
    std::smatch m;
    if (!std::regex_match(request.path, m, route)) {
        respond(ssl, 404, status_body(404, "NotFound", "the server could not find the requested resource"));
        return;
    }
    const std::string ns = m[1], resource = m[2], name = m[3];
    const auto query = parse_query(request.query);
    const std::string key = ns + "/" + name;
    if (request.method == "GET" && name.empty() && query.count("watch") && query.at("watch") == "1") {
        {
            std::lock_guard lock(mu_);
            ++counts_["WATCH " + resource];
        }
        watch(ssl, ns, query);
        return;
    }
    std::unique_lock lock(mu_);
    auto& objects = store_[resource];
    if (request.method == "GET" && name.empty()) {
        ++counts_["LIST " + resource];
        const std::string selector = query.count("labelSelector") ? query.at("labelSelector") : "";
        json items = json::array();
        for (const auto& [k, object] : objects)
            if (k.starts_with(ns + "/") && selected(object, selector)) items.push_back(object);
        const json list = {{"apiVersion", "v1"},
                           {"kind", resource == "pods" ? "PodList" : resource == "secrets" ? "SecretList" : "ConfigMapList"},
                           {"metadata", {{"resourceVersion", std::to_string(version_)}}},
                           {"items", items}};
        lock.unlock();
        respond(ssl, 200, list);
        return;
    }
    ++counts_[request.method + " " + resource];
    if (request.method == "GET") {
        const auto it = objects.find(key);
        const json body = it == objects.end() ? status_body(404, "NotFound", resource + " \"" + name + "\" not found") : it->second;
        lock.unlock();
        respond(ssl, it == objects.end() ? 404 : 200, body);
        return;
    }
    if (request.method == "DELETE") {
        const auto it = objects.find(key);
        if (it == objects.end()) {
            lock.unlock();
            respond(ssl, 404, status_body(404, "NotFound", resource + " \"" + name + "\" not found"));
            return;
        }
        json object = it->second;
        const json options = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
        const std::string wanted = options.is_object() ? options.value("preconditions", json::object())
                                                                 .value("resourceVersion", std::string())
                                                       : std::string();
        if (!wanted.empty() && wanted != object["metadata"].value("resourceVersion", std::string())) {
            lock.unlock();
            respond(ssl, 409, status_body(409, "Conflict", "the precondition on resourceVersion failed"));
            return;
        }
        objects.erase(it);
        stamp(object);
        if (resource == "pods") record("DELETED", object);
        lock.unlock();
        if (resource == "pods" && options_.on_pod_deleted) options_.on_pod_deleted(object);
        respond(ssl, 200, object);
        return;
    }
    if (request.method == "PUT" && !name.empty()) {
        json object = json::parse(request.body, nullptr, false);
        const auto it = objects.find(key);
        if (it == objects.end()) {
            lock.unlock();
            respond(ssl, 404, status_body(404, "NotFound", resource + " \"" + name + "\" not found"));
            return;
        }
        if (const std::string problem = invalid_locked(object); !problem.empty()) {
            lock.unlock();
            respond(ssl, 422, status_body(422, "Invalid", problem));
            return;
        }
        // Optimistic concurrency: the update must name the version it read.
        if (object["metadata"].value("resourceVersion", std::string()) != it->second["metadata"].value("resourceVersion", std::string())) {
            lock.unlock();
            respond(ssl, 409, status_body(409, "Conflict", "the object has been modified; apply your changes to the latest version"));
            return;
        }
        stamp(object);
        it->second = object;
        if (resource == "pods") record("MODIFIED", object);
        lock.unlock();
        respond(ssl, 200, object);
        return;
    }
    if (request.method == "POST" && name.empty()) {
        json object = json::parse(request.body, nullptr, false);
        if (const std::string problem = invalid_locked(object); !problem.empty()) {
            lock.unlock();
            respond(ssl, 422, status_body(422, "Invalid", problem));
            return;
        }
        const std::string object_name = object["metadata"].value("name", std::string());
        if (objects.count(ns + "/" + object_name)) {
            lock.unlock();
            respond(ssl, 409, status_body(409, "AlreadyExists", resource + " \"" + object_name + "\" already exists"));
            return;
        }
        object["metadata"]["namespace"] = ns;
        object["metadata"]["uid"] = "uid-" + std::to_string(version_ + 1);
        object["metadata"]["creationTimestamp"] = now_rfc3339();
        if (resource == "secrets" && object.contains("stringData")) {
            for (const auto& [k, v] : object["stringData"].items())
                object["data"][k] = protocol::base64_encode(v.get<std::string>());
            object.erase("stringData");
        }
        if (resource == "pods") object["status"] = {{"phase", "Pending"}};
        stamp(object);
        objects[ns + "/" + object_name] = object;
        if (resource == "pods") record("ADDED", object);
        lock.unlock();
        if (resource == "pods" && options_.on_pod_created) options_.on_pod_created(object);
        respond(ssl, 201, object);
        return;
    }
    lock.unlock();
    respond(ssl, 405, status_body(405, "MethodNotAllowed", request.method + " is not served here"));
}

void FakeKubeApi::watch(SSL* ssl, const std::string& ns, const std::map<std::string, std::string>& query) {
    const std::string selector = query.count("labelSelector") ? query.at("labelSelector") : "";
    const std::uint64_t from = query.count("resourceVersion") ? std::stoull("0" + query.at("resourceVersion")) : 0;
    const bool bookmarks = query.count("allowWatchBookmarks") && query.at("allowWatchBookmarks") == "true";
    const auto ends = Clock::now() + std::chrono::seconds(query.count("timeoutSeconds") ? std::stoi(query.at("timeoutSeconds")) : 1800);
    if (!write_all(ssl, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n"))
        return;
    std::unique_lock lock(mu_);
    const std::uint64_t generation = watch_generation_;
    if (from < oldest_) {
        lock.unlock();
        chunk(ssl, json{{"type", "ERROR"}, {"object", status_body(410, "Expired", "too old resource version: " +
                                                                                      std::to_string(from))}}.dump() + "\n");
        write_all(ssl, "0\r\n\r\n");
        return;
    }
    std::uint64_t sent = from;
    auto next_bookmark = Clock::now() + std::chrono::milliseconds(options_.bookmark_every_ms);
    while (!stop_ && watch_generation_ == generation && Clock::now() < ends) {
        std::string out;
        for (const Event& event : events_)
            if (event.version > sent && event.object["metadata"].value("namespace", "") == ns &&
                selected(event.object, selector))
                out += json{{"type", event.type}, {"object", event.object}}.dump() + "\n";
        if (!events_.empty()) sent = std::max(sent, events_.back().version);
        sent = std::max(sent, version_);
        if (bookmarks && Clock::now() >= next_bookmark) {
            out += json{{"type", "BOOKMARK"},
                        {"object", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", std::to_string(sent)}}}}}}
                       .dump() + "\n";
            next_bookmark = Clock::now() + std::chrono::milliseconds(options_.bookmark_every_ms);
        }
        if (!out.empty()) {
            lock.unlock();
            if (!chunk(ssl, out)) return;
            lock.lock();
            continue;
        }
        changed_.wait_until(lock, std::min(ends, next_bookmark));
    }
    lock.unlock();
    write_all(ssl, "0\r\n\r\n");
}

bool FakeKubeApi::set_pod_status(const std::string& ns, const std::string& name, const json& status) {
    std::lock_guard lock(mu_);
    auto& pods = store_["pods"];
    const auto it = pods.find(ns + "/" + name);
    if (it == pods.end()) return false;
    it->second["status"] = status;
    stamp(it->second);
    record("MODIFIED", it->second);
    return true;
}

std::optional<json> FakeKubeApi::object(const std::string& resource, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    auto& objects = store_[resource];
    const auto it = objects.find(ns + "/" + name);
    if (it == objects.end()) return std::nullopt;
    return it->second;
}

std::vector<json> FakeKubeApi::objects(const std::string& resource) {
    std::lock_guard lock(mu_);
    std::vector<json> out;
    for (const auto& [k, object] : store_[resource]) out.push_back(object);
    return out;
}

void FakeKubeApi::put(const std::string& resource, json object) {
    std::lock_guard lock(mu_);
    stamp(object);
    const std::string key = object["metadata"].value("namespace", std::string()) + "/" +
                            object["metadata"].value("name", std::string());
    store_[resource][key] = object;
    if (resource == "pods") record("ADDED", object);
}

void FakeKubeApi::expire_history() {
    std::lock_guard lock(mu_);
    events_.clear();
    oldest_ = ++version_;
    ++watch_generation_;
    changed_.notify_all();
}

void FakeKubeApi::end_watches() {
    std::lock_guard lock(mu_);
    ++watch_generation_;
    changed_.notify_all();
}

int FakeKubeApi::count(const std::string& what) const {
    std::lock_guard lock(mu_);
    const auto it = counts_.find(what);
    return it == counts_.end() ? 0 : it->second;
}

std::vector<std::string> FakeKubeApi::invalid_objects() const {
    std::lock_guard lock(mu_);
    return invalid_;
}

}  // namespace ci::test
