// ci-bench-rawkernel: the baseline. Starts N bare ipykernels in the worker image and drives each
// directly over ZeroMQ from its own client thread with the same stateful workload as the load
// generator, so the gateway's figures can be read as ratios to the kernels' own limit.
#include <barrier>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "code_interpreter/agent/execution.hpp"
#include "code_interpreter/agent/kernel_client.hpp"
#include "code_interpreter/agent/kernel_process.hpp"
#include "code_interpreter/agent/readiness.hpp"
#include "kernel_containers.hpp"
#include "latency_report.hpp"
#include "workload.hpp"

namespace {

using namespace ci::bench;
using ci::agent::KernelClient;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};  // set by a SIGINT/SIGTERM/SIGHUP: every thread winds down

const char* const kUsage = R"(usage: ci-bench-rawkernel [options]
  --kernels N             kernels, each driven by its own client thread (default 25)
  --requests M            measured requests per kernel (default 100)
  --warmup W              unmeasured requests per kernel first (default 1)
  --store-history BOOL    execute_request's store_history: true (Jupyter's default) or false
  --kernel-config C       default (ipykernel as installed) or lean (the options the agent starts
                          its kernels with: docs/architecture.md)
  --image IMAGE           (default code-interpreter-worker:latest)
  --cpus CORES            CPU limit per kernel container (default 1.0, as worker.cpu)
  --memory-mb MB          memory limit per kernel container (default 1024, as worker.ram_mb)
  --timeout-s S           an execution without an answer after S seconds fails (default 60)
  --label NAME            the run's name in the table and the JSON
  --json FILE             also write the summary and every latency as JSON
)";

struct Options {
    std::size_t kernels = 25;
    std::size_t requests = 100;
    std::size_t warmup = 1;
    bool store_history = true;
    bool lean = false;
    ContainerLimits limits;
    int timeout_s = 60;
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
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        std::string value = argv[++i];
        if (arg == "--kernels") o.kernels = std::stoul(value);
        else if (arg == "--requests") o.requests = std::stoul(value);
        else if (arg == "--warmup") o.warmup = std::stoul(value);
        else if (arg == "--store-history") {
            if (value != "true" && value != "false") throw std::invalid_argument("--store-history is true or false");
            o.store_history = value == "true";
        } else if (arg == "--kernel-config") {
            if (value != "default" && value != "lean") throw std::invalid_argument("--kernel-config is default or lean");
            o.lean = value == "lean";
            o.limits.kernel_options = o.lean ? ci::agent::lean_kernel_options() : std::vector<std::string>{};
        } else if (arg == "--image") o.limits.image = value;
        else if (arg == "--cpus") o.limits.cpus = value;
        else if (arg == "--memory-mb") o.limits.memory_mb = std::stoi(value);
        else if (arg == "--timeout-s") o.timeout_s = std::stoi(value);
        else if (arg == "--label") o.label = value;
        else if (arg == "--json") o.json_path = value;
        else throw std::invalid_argument("unknown option " + arg);
    }
    if (o.kernels == 0) throw std::invalid_argument("--kernels must be at least 1");
    return o;
}

// Waits up to timeout for any message on the client's shell or iopub socket and feeds them all
// to handle(message, from_shell). False once the deadline has passed or a stop was asked for.
template <class Handler>
bool pump(KernelClient& client, Clock::time_point deadline, Handler handle) {
    if (g_stop || Clock::now() > deadline) return false;
    zmq::pollitem_t items[] = {{client.shell_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {client.iopub_socket().handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(100));
    while (auto parsed = client.receive_shell())
        if (parsed->message) handle(*parsed->message, true);
    while (auto parsed = client.receive_iopub())
        if (parsed->message) handle(*parsed->message, false);
    return true;
}

// As the agent does: ready once a kernel_info_request is answered and its iopub status has
// reached our subscription, so no output of the first execution is lost.
bool wait_ready(KernelClient& client, std::chrono::seconds timeout) {
    ci::agent::KernelReadiness readiness;
    const auto deadline = Clock::now() + timeout;
    auto next_probe = Clock::now();
    while (!readiness.ready()) {
        if (Clock::now() >= next_probe) {
            readiness.on_request_sent(client.send_shell("kernel_info_request", nlohmann::json::object()));
            next_probe = Clock::now() + std::chrono::milliseconds(200);
        }
        bool alive = pump(client, deadline, [&](const ci::agent::JupyterMessage& m, bool shell) {
            shell ? readiness.on_shell(m) : readiness.on_iopub(m);
        });
        if (!alive) return false;
    }
    return true;
}

// Runs one step of the workload on a kernel and counts its outcome into run.
void execute_step(KernelClient& client, const Options& o, std::size_t user, std::size_t step, RunRecord& run) {
    const Step s = counter_step(user, step);
    const auto content = ci::agent::execute_request_content(s.code, o.store_history);
    ++run.attempted;
    const auto start = Clock::now();
    // The gateway's default execution.max_output_bytes: outputs are counted as a worker counts them.
    ci::agent::ExecutionCollector collector(client.send_shell("execute_request", content), 4 << 20);
    const auto deadline = start + std::chrono::seconds(o.timeout_s);
    while (!collector.complete()) {
        bool alive = pump(client, deadline, [&](const ci::agent::JupyterMessage& m, bool shell) {
            shell ? collector.on_shell(m) : collector.on_iopub(m);
        });
        if (!alive) return run.add_error(g_stop ? "interrupted" : "no answer within the timeout");
    }
    const double latency = elapsed_ms(start, Clock::now());
    ci::protocol::ExecutionResult result = collector.take_result();
    if (result.status != "ok") return run.add_error("execute_reply status " + result.status);
    ++run.succeeded;
    run.latencies_ms.push_back(latency);
    for (const auto& item : result.outputs) {
        auto text = item.data.is_object() ? item.data.find("text/plain") : item.data.end();
        if (item.type == "execute_result" && text != item.data.end() && *text == s.expected) {
            ++run.verified;
            return;
        }
    }
    run.add_error("wrong answer");
}

void merge(RunRecord& total, const RunRecord& part) {
    total.attempted += part.attempted;
    total.succeeded += part.succeeded;
    total.verified += part.verified;
    total.latencies_ms.insert(total.latencies_ms.end(), part.latencies_ms.begin(), part.latencies_ms.end());
    for (const auto& [reason, count] : part.errors) total.errors[reason] += count;
}

RunRecord run_baseline(const Options& o) {
    const auto started = Clock::now();
    KernelContainers containers(o.limits);
    std::vector<ci::agent::ConnectionInfo> connections;
    std::cerr << "rawkernel: starting " << o.kernels << " kernels in " << o.limits.image << "\n";
    for (std::size_t i = 0; i < o.kernels && !g_stop; ++i) connections.push_back(containers.start(i));
    if (g_stop) throw std::runtime_error("interrupted");

    zmq::context_t context;
    std::vector<RunRecord> warm(o.kernels), measured(o.kernels);
    // The barrier's completion stamps the phases: all ready, warm-up done, all finished.
    std::vector<Clock::time_point> phase_ends;
    std::barrier sync(static_cast<std::ptrdiff_t>(o.kernels), [&]() noexcept { phase_ends.push_back(Clock::now()); });
    std::vector<std::jthread> clients;
    for (std::size_t k = 0; k < o.kernels; ++k) {
        clients.emplace_back([&, k] {
            // Every thread reaches every barrier, whatever fails: a failure is counted, not thrown.
            std::optional<KernelClient> client;
            bool ready = false;
            auto guarded = [&](RunRecord& run, auto action) {
                try {
                    action();
                } catch (const std::exception& e) {
                    run.add_error(e.what());
                    ready = false;
                }
            };
            guarded(measured[k], [&] {
                client.emplace(context, connections[k]);
                ready = wait_ready(*client, std::chrono::seconds(180));
            });
            sync.arrive_and_wait();
            for (std::size_t step = 0; step < o.warmup && ready; ++step)
                guarded(warm[k], [&] { execute_step(*client, o, k, step, warm[k]); });
            sync.arrive_and_wait();
            for (std::size_t step = o.warmup; step < o.warmup + o.requests; ++step) {
                if (ready) {
                    guarded(measured[k], [&] { execute_step(*client, o, k, step, measured[k]); });
                } else {
                    ++measured[k].attempted;
                    measured[k].add_error("kernel not ready");
                }
            }
            sync.arrive_and_wait();
        });
    }
    clients.clear();  // joins
    if (g_stop) throw std::runtime_error("interrupted");

    RunRecord run, warm_total;
    for (std::size_t k = 0; k < o.kernels; ++k) {
        merge(run, measured[k]);
        merge(warm_total, warm[k]);
    }
    std::cerr << "rawkernel: " << o.kernels << " kernels started and ready in "
              << elapsed_ms(started, phase_ends[0]) / 1000.0 << " s\n";
    run.duration_s = elapsed_ms(phase_ends[1], phase_ends[2]) / 1000.0;
    for (const auto& [reason, count] : warm_total.errors) std::cerr << "  warm-up error x" << count << ": " << reason << "\n";
    return run;
}

}  // namespace

int main(int argc, char** argv) {
    // Signals go to one watcher thread; the others see g_stop and wind down, so the destructors
    // always remove the containers and the temporary directory.
    sigset_t signals;
    sigemptyset(&signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        std::cerr << "rawkernel: signal " << sig << ", cleaning up\n";
        g_stop = true;
    }).detach();

    try {
        Options o = parse_options(argc, argv);
        RunRecord run = run_baseline(o);
        run.kind = "raw";
        run.users = o.kernels;
        run.requests_per_user = o.requests;
        run.warmup = o.warmup;
        run.label = !o.label.empty() ? o.label
                                     : "raw " + std::to_string(o.kernels) + "x" + std::to_string(o.requests) +
                                           (o.store_history ? "" : " no history") + (o.lean ? " lean" : "");
        run.extra = {{"store_history", o.store_history}, {"kernel_config", o.lean ? "lean" : "default"},
                     {"image", o.limits.image}, {"cpus", o.limits.cpus},
                     {"memory_mb", o.limits.memory_mb}};
        print_table(run);
        if (!o.json_path.empty()) write_json(run, o.json_path);
        return run.verified == run.attempted && run.attempted > 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "ci-bench-rawkernel: " << e.what() << "\n";
        return g_stop ? 130 : 2;
    }
}
