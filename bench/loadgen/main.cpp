// ci-bench-loadgen: drives the gateway with N users x M stateful requests over keep-alive HTTP
// and verifies every answer, or measures a new user's first execute with a warm pool.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway_client.hpp"
#include "latency_report.hpp"
#include "workload.hpp"

namespace {

using namespace ci::bench;
using Clock = std::chrono::steady_clock;

const char* const kUsage = R"(usage: ci-bench-loadgen [options]
  --url URL                gateway address (default http://127.0.0.1:3874)
  --token-file PATH        user token file (default var/auth_token.txt), or --token TOKEN
  --admin-token-file PATH  admin token: lets the run wait for a quiet pool between phases
  --auth-header NAME       header carrying the token (default X-Auth-Token)
  --mode stateful|new-session
  --workload counter|original
                           stateful: what each user runs (default counter: a counter per user);
                           original: the original project's stress test, its three scenarios
                           (arithmetic, list sum, numpy array) by user, every printed number checked
  --users N                stateful: concurrent users, one keep-alive connection each (default 25)
  --requests M             stateful: measured requests per user (default 100)
  --warmup W               unmeasured requests per user first (new-session: sessions; default 1)
  --sessions S             new-session: measured new sessions (default 40)
  --first-cell counter|imports
                           new-session: the first cell (default counter: n = 41, n + 1); imports:
                           what data work starts with, numpy, pandas and matplotlib.pyplot, then the same
  --pace-ms MS             new-session without an admin token: pause after each release (default 1000)
  --keep-sessions          stateful: do not release the sessions at the end
  --burst K                stateful, with the admin token: BURST-AT-MS into the measured phase, K new
                           sessions take K idle workers at once; reports how long the pool takes to
                           refill and the users' latency meanwhile
  --burst-at-ms MS         (default 500)
  --timeout-s S            a request without an answer after S seconds fails (default 150)
  --label NAME             the run's name in the table and the JSON
  --json FILE              also write the summary and every latency as JSON
)";

struct Options {
    std::string url = "http://127.0.0.1:3874";
    std::string token;
    std::string token_file = "var/auth_token.txt";
    std::string admin_token_file;
    std::string auth_header = "X-Auth-Token";
    std::string mode = "stateful";
    std::string workload = "counter";
    std::string first_cell = "counter";
    std::size_t users = 25;
    std::size_t requests = 100;
    std::size_t warmup = 1;
    std::size_t sessions = 40;
    int pace_ms = 1000;
    bool keep_sessions = false;
    std::size_t burst = 0;
    int burst_at_ms = 500;
    int timeout_s = 150;
    std::string label;
    std::string json_path;
};

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (arg == "--keep-sessions") {
            o.keep_sessions = true;
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        std::string value = argv[++i];
        if (arg == "--url") o.url = value;
        else if (arg == "--token") o.token = value;
        else if (arg == "--token-file") o.token_file = value;
        else if (arg == "--admin-token-file") o.admin_token_file = value;
        else if (arg == "--auth-header") o.auth_header = value;
        else if (arg == "--mode") o.mode = value;
        else if (arg == "--workload") o.workload = value;
        else if (arg == "--first-cell") o.first_cell = value;
        else if (arg == "--users") o.users = std::stoul(value);
        else if (arg == "--requests") o.requests = std::stoul(value);
        else if (arg == "--warmup") o.warmup = std::stoul(value);
        else if (arg == "--sessions") o.sessions = std::stoul(value);
        else if (arg == "--pace-ms") o.pace_ms = std::stoi(value);
        else if (arg == "--burst") o.burst = std::stoul(value);
        else if (arg == "--burst-at-ms") o.burst_at_ms = std::stoi(value);
        else if (arg == "--timeout-s") o.timeout_s = std::stoi(value);
        else if (arg == "--label") o.label = value;
        else if (arg == "--json") o.json_path = value;
        else throw std::invalid_argument("unknown option " + arg);
    }
    if (o.mode != "stateful" && o.mode != "new-session") throw std::invalid_argument("--mode is stateful or new-session");
    if (o.users == 0) throw std::invalid_argument("--users must be at least 1");
    if (o.workload != "counter" && o.workload != "original")
        throw std::invalid_argument("--workload is counter or original");
    if (o.first_cell != "counter" && o.first_cell != "imports")
        throw std::invalid_argument("--first-cell is counter or imports");
    if (o.burst > 0 && (o.mode != "stateful" || o.admin_token_file.empty()))
        throw std::invalid_argument("--burst needs --mode stateful and --admin-token-file");
    return o;
}

std::string read_token(const std::string& path) {
    std::ifstream in(path);
    std::string token;
    if (!(in >> token)) throw std::runtime_error("cannot read a token from " + path);
    return token;
}

// Counts one measured answer into run: success is a 200, verification the expected value.
void judge(RunRecord& run, const HttpResponse& response, double latency_ms, double answered_at_s, const Step& expected,
           bool must_be_new) {
    ++run.attempted;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (response.status != 200) {
        std::string reason = body.is_object() && body.contains("reason") ? body["reason"].dump() : "";
        run.add_error("HTTP " + std::to_string(response.status) + " " + reason);
        return;
    }
    ++run.succeeded;
    run.latencies_ms.push_back(latency_ms);
    run.answered_at_s.push_back(answered_at_s);
    const auto text = body.is_object() ? body.value("result_text", nlohmann::json()) : nlohmann::json();
    const bool right = answer_matches(expected, text.is_string() ? &text.get_ref<const std::string&>() : nullptr);
    const bool new_ok = !must_be_new || body.value("new_session", true);
    if (right && new_ok) {
        ++run.verified;
        return;
    }
    run.add_error(right ? "answer did not start a new session" : "wrong answer");
    if (!run.extra.contains("first_wrong_answer"))
        run.extra["first_wrong_answer"] = {{"expected", expected.expected}, {"got", response.body.substr(0, 300)}};
}

using StepOf = Step (*)(std::size_t user, std::size_t step);

// One user running the stateful workload, a range of steps at a time.
class StatefulUser final : public Script {
public:
    StatefulUser(const GatewayAccess& gateway, std::size_t user, StepOf step_of)
        : gateway_(gateway), user_(user), step_of_(step_of) {}

    const std::string& uuid() const { return uuid_; }

    void plan(std::size_t begin, std::size_t end, RunRecord& run, Clock::time_point phase_start) {
        step_ = begin;
        end_ = end;
        run_ = &run;
        phase_start_ = phase_start;
    }

    std::optional<HttpRequest> next() override {
        if (step_ >= end_) return std::nullopt;
        return gateway_.execute(uuid_, step_of_(user_, step_).code);
    }
    void on_answer(const HttpResponse& response, double latency_ms) override {
        judge(*run_, response, latency_ms, elapsed_ms(phase_start_, Clock::now()) / 1000.0, step_of_(user_, step_++),
              false);
    }
    void on_failure(const std::string& reason) override {
        ++run_->attempted;
        run_->add_error(reason);
        ++step_;
    }

private:
    const GatewayAccess& gateway_;
    std::size_t user_;
    StepOf step_of_;
    std::string uuid_ = random_uuid();
    std::size_t step_ = 0;
    std::size_t end_ = 0;
    RunRecord* run_ = nullptr;
    Clock::time_point phase_start_;
};

// A new user's first execute: it must start a fresh session and answer right.
class NewSession final : public Script {
public:
    NewSession(const GatewayAccess& gateway, RunRecord& run, bool imports = false)
        : gateway_(gateway), run_(run), imports_(imports) {}
    const std::string& uuid() const { return uuid_; }

    std::optional<HttpRequest> next() override {
        if (sent_) return std::nullopt;
        sent_ = true;
        return gateway_.execute(uuid_, std::string(imports_ ? "import numpy as np, pandas as pd\n"
                                                              "import matplotlib.pyplot as plt\n"
                                                            : "") +
                                           "n = 41\nn + 1");
    }
    void on_answer(const HttpResponse& response, double latency_ms) override {
        judge(run_, response, latency_ms, 0, Step{"", "42"}, true);
    }
    void on_failure(const std::string& reason) override {
        ++run_.attempted;
        run_.add_error(reason);
    }

private:
    const GatewayAccess& gateway_;
    RunRecord& run_;
    bool imports_;
    std::string uuid_ = random_uuid();
    bool sent_ = false;
};

void release(const GatewayAccess& gateway, const std::string& uuid) {
    HttpResponse response = fetch(gateway.endpoint, gateway.release(uuid));
    if (response.status != 200 && response.status != 404)
        std::cerr << "loadgen: release of " << uuid << " answered " << response.status << "\n";
}

void report_warmup(const RunRecord& warm) {
    std::cerr << "loadgen: warm-up " << warm.succeeded << "/" << warm.attempted << " answered, " << warm.verified
              << " verified\n";
    for (const auto& [reason, count] : warm.errors) std::cerr << "  warm-up error x" << count << ": " << reason << "\n";
}

// K new sessions at once, then the time until the pool is full again: the refill from empty
// (when K is min_idle) while the measured users keep running.
struct Burst {
    std::vector<std::unique_ptr<NewSession>> sessions;
    RunRecord record;
    Clock::time_point start, refilled;
    std::string error;  // why the burst or the refill wait failed, if it did

    void run(const GatewayAccess& gateway, std::size_t count, std::chrono::seconds timeout) {
        std::vector<Script*> scripts;
        for (std::size_t i = 0; i < count; ++i) {
            sessions.push_back(std::make_unique<NewSession>(gateway, record));
            scripts.push_back(sessions.back().get());
        }
        HttpLoop loop(gateway.endpoint, count, timeout);
        start = Clock::now();
        loop.run(scripts);
        refilled = gateway.wait_pool_quiet(std::chrono::seconds(900));
    }

    nlohmann::json report(const RunRecord& users, Clock::time_point phase_start) const {
        const double from = elapsed_ms(phase_start, start) / 1000.0, to = elapsed_ms(phase_start, refilled) / 1000.0;
        std::vector<double> during;
        for (std::size_t i = 0; i < users.latencies_ms.size(); ++i)
            if (users.answered_at_s[i] >= from && users.answered_at_s[i] <= to) during.push_back(users.latencies_ms[i]);
        const double refill_s = to - from;
        return {{"sessions", sessions.size()},
                {"sessions_verified", record.verified},
                {"refill_s", refill_s},
                {"workers_per_s", refill_s > 0 ? static_cast<double>(sessions.size()) / refill_s : 0},
                {"users_latency_during_refill_ms", to_json(summarize(during))}};
    }
};

RunRecord run_stateful(const Options& o, const GatewayAccess& gateway) {
    RunRecord warm, run;
    std::vector<std::unique_ptr<StatefulUser>> users;
    std::vector<Script*> scripts;
    const StepOf step_of = o.workload == "original" ? original_step : counter_step;
    for (std::size_t u = 0; u < o.users; ++u) {
        users.push_back(std::make_unique<StatefulUser>(gateway, u, step_of));
        scripts.push_back(users.back().get());
    }
    HttpLoop loop(gateway.endpoint, o.users, std::chrono::seconds(o.timeout_s));
    if (o.warmup > 0) {
        for (auto& user : users) user->plan(0, o.warmup, warm, Clock::now());
        loop.run(scripts);
        report_warmup(warm);
    }
    if (gateway.admin_token) gateway.wait_pool_quiet(std::chrono::seconds(900));
    const auto start = Clock::now();
    for (auto& user : users) user->plan(o.warmup, o.warmup + o.requests, run, start);
    Burst burst;
    std::jthread burst_thread;
    if (o.burst > 0)
        burst_thread = std::jthread([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(o.burst_at_ms));
            try {
                burst.run(gateway, o.burst, std::chrono::seconds(o.timeout_s));
            } catch (const std::exception& e) {
                burst.error = e.what();
            }
        });
    loop.run(scripts);
    run.duration_s = elapsed_ms(start, Clock::now()) / 1000.0;
    if (burst_thread.joinable()) {
        burst_thread.join();
        for (const auto& session : burst.sessions) release(gateway, session->uuid());
        if (!burst.error.empty()) throw std::runtime_error("burst: " + burst.error);
        run.extra["burst"] = burst.report(run, start);
    }
    if (!o.keep_sessions)
        for (auto& user : users) release(gateway, user->uuid());
    run.users = o.users;
    run.requests_per_user = o.requests;
    return run;
}

RunRecord run_new_sessions(const Options& o, const GatewayAccess& gateway) {
    RunRecord warm, run;
    HttpLoop loop(gateway.endpoint, 1, std::chrono::seconds(o.timeout_s));
    auto pace = [&] {
        // Each session must find a full, quiet pool: the figure is the warm-pool case.
        if (gateway.admin_token) gateway.wait_pool_quiet(std::chrono::seconds(300));
        else std::this_thread::sleep_for(std::chrono::milliseconds(o.pace_ms));
    };
    double measured_s = 0;
    for (std::size_t i = 0; i < o.warmup + o.sessions; ++i) {
        RunRecord& target = i < o.warmup ? warm : run;
        NewSession session(gateway, target, o.first_cell == "imports");
        pace();
        const auto start = Clock::now();
        loop.run({&session});
        if (&target == &run) measured_s += elapsed_ms(start, Clock::now()) / 1000.0;
        release(gateway, session.uuid());
    }
    if (o.warmup > 0) report_warmup(warm);
    run.duration_s = measured_s;  // time inside the measured requests only, not the pauses
    run.users = 1;
    run.requests_per_user = o.sessions;
    return run;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options o = parse_options(argc, argv);
        GatewayAccess gateway{Endpoint::parse(o.url), o.auth_header,
                              o.token.empty() ? read_token(o.token_file) : o.token, std::nullopt};
        if (!o.admin_token_file.empty()) gateway.admin_token = read_token(o.admin_token_file);
        RunRecord run = o.mode == "stateful" ? run_stateful(o, gateway) : run_new_sessions(o, gateway);
        run.kind = "gateway";
        run.warmup = o.warmup;
        run.label = !o.label.empty() ? o.label
                    : o.mode == "stateful" ? "gateway " + std::to_string(o.users) + "x" + std::to_string(o.requests)
                                           : "gateway new session";
        run.extra["mode"] = o.mode;
        run.extra["workload"] = o.workload;
        if (o.mode == "new-session") run.extra["first_cell"] = o.first_cell;
        run.extra["url"] = o.url;
        run.extra["pool_waits"] = gateway.admin_token.has_value();
        print_table(run);
        if (!o.json_path.empty()) write_json(run, o.json_path);
        return run.verified == run.attempted && run.attempted > 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "ci-bench-loadgen: " << e.what() << "\n";
        return 2;
    }
}
