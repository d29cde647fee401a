// POST /api/v1/execute/stream on the real stack: Server-Sent Events arrive while the code runs,
// in order, then the final "result" (or "error") event ends the answer.
#include <gtest/gtest.h>
#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

struct SseEvent {
    std::string name;
    json data;
    long long at_ms;  // since the request was sent
};

struct Streamed {
    long status = 0;
    std::string content_type;
    std::vector<SseEvent> events;
    std::string rest;  // bytes after the last complete event
};

struct Reader {
    Streamed* out;
    std::chrono::steady_clock::time_point started;
};

// Splits complete events ("...\n\n") off the front of rest as they arrive.
size_t on_bytes(char* data, size_t size, size_t count, void* user) {
    auto* reader = static_cast<Reader*>(user);
    auto& rest = reader->out->rest;
    rest.append(data, size * count);
    for (std::size_t end; (end = rest.find("\n\n")) != std::string::npos;) {
        std::string block = rest.substr(0, end);
        rest.erase(0, end + 2);
        SseEvent event{"", nullptr, ms_since(reader->started)};
        std::string payload;
        for (std::size_t pos = 0; pos <= block.size();) {
            std::size_t eol = block.find('\n', pos);
            std::string line = block.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
            if (line.rfind("event: ", 0) == 0) event.name = line.substr(7);
            if (line.rfind("data: ", 0) == 0) payload += (payload.empty() ? "" : "\n") + line.substr(6);
            if (eol == std::string::npos) break;
            pos = eol + 1;
        }
        event.data = json::parse(payload, nullptr, false);
        reader->out->events.push_back(std::move(event));
    }
    return size * count;
}

Streamed stream_execute(const std::string& url, const json& body) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    Streamed out;
    Reader reader{&out, std::chrono::steady_clock::now()};
    curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/json");
    raw = curl_slist_append(raw, (std::string("X-Auth-Token: ") + kUserToken).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw, curl_slist_free_all);
    std::string text = body.dump();
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, text.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reader);
    CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK) throw std::runtime_error(std::string("stream failed: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &out.status);
    char* type = nullptr;
    curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &type);
    out.content_type = type ? type : "";
    return out;
}

class StreamingTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>("sse", TestGatewayOptions{.min_idle = 1, .max_total = 6, .timeout_s = 8});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
    }

    static Streamed stream(const std::string& user, const std::string& code) {
        auto out = stream_execute(gateway_->url("/api/v1/execute/stream"), {{"user_uuid", user}, {"code", code}});
        EXPECT_EQ(out.status, 200);
        EXPECT_EQ(out.content_type.rfind("text/event-stream", 0), 0u) << out.content_type;
        EXPECT_EQ(out.rest, "") << "bytes after the last event";
        return out;
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

std::string text_of(const std::vector<SseEvent>& events, const std::string& name) {
    std::string text;
    for (const auto& e : events)
        if (e.name == name) text += e.data["text"].get<std::string>();
    return text;
}

TEST_F(StreamingTest, EventsArriveWhileASlowExecutionRuns) {
    auto out = stream(user_of(201), "import sys, time\nimport matplotlib.pyplot as plt\n"
                                    "for i in range(5):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.6)\n"
                                    "print('warn', file=sys.stderr, flush=True)\nplt.plot([1, 2]); plt.show()");
    ASSERT_GE(out.events.size(), 4u);
    const auto& last = out.events.back();
    ASSERT_EQ(last.name, "result") << last.data.dump().substr(0, 300);
    EXPECT_EQ(text_of(out.events, "stdout"), "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n");
    EXPECT_EQ(text_of(out.events, "stderr"), "warn\n");
    int displays = 0;
    for (const auto& e : out.events)
        if (e.name == "display") {
            ++displays;
            EXPECT_TRUE(e.data["data"]["image/png"].is_string());
        }
    EXPECT_EQ(displays, 1);
    // The first tick comes about 3 s before the end; allow for a slow machine.
    EXPECT_EQ(out.events.front().name, "stdout");
    EXPECT_LT(out.events.front().at_ms + 1500, last.at_ms)
        << "first event at " << out.events.front().at_ms << " ms, result at " << last.at_ms << " ms";
    // The final event is the answer /execute gives.
    EXPECT_EQ(last.data["stdout"], "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n");
    EXPECT_EQ(last.data["outputs"].size(), 1u);
    EXPECT_EQ(last.data["new_session"], true);
    EXPECT_TRUE(last.data.contains("result_text"));
}

TEST_F(StreamingTest, ManyEventsKeepTheirOrder) {
    auto out = stream(user_of(202), "import time\nfor i in range(400):\n    print(i, flush=True)\n"
                                    "    if i % 100 == 99: time.sleep(0.3)");
    std::string expected;
    for (int i = 0; i < 400; ++i) expected += std::to_string(i) + "\n";
    ASSERT_FALSE(out.events.empty());
    EXPECT_EQ(out.events.back().name, "result");
    EXPECT_EQ(text_of(out.events, "stdout"), expected);
    EXPECT_GT(out.events.size(), 4u) << "the output came as one block";
    EXPECT_EQ(out.events.back().data["stdout"], expected);
}

TEST_F(StreamingTest, AnExceptionIsAnErrorEventThenTheResult) {
    auto out = stream(user_of(203), "print('a', flush=True)\n1/0");
    ASSERT_EQ(out.events.size(), 3u);
    EXPECT_EQ(out.events[0].name, "stdout");
    EXPECT_EQ(out.events[1].name, "error");
    EXPECT_EQ(out.events[1].data["ename"], "ZeroDivisionError");
    EXPECT_EQ(out.events[2].name, "result");
    EXPECT_EQ(out.events[2].data["error"]["ename"], "ZeroDivisionError");
}

TEST_F(StreamingTest, AFailureEndsTheStreamWithAnErrorEvent) {
    auto out = stream(user_of(204), "import time\nprint('waiting', flush=True)\ntime.sleep(60)");
    ASSERT_EQ(out.events.size(), 2u);
    EXPECT_EQ(out.events[0].name, "stdout");
    EXPECT_EQ(out.events[1].name, "error");
    EXPECT_EQ(out.events[1].data["reason"], "timeout") << out.events[1].data.dump();
    EXPECT_EQ(out.events[1].data["session_kept"], false);
    EXPECT_EQ(out.events[0].data["text"], "waiting\n");
}

TEST_F(StreamingTest, ABadRequestGetsAPlainJsonError) {
    auto r = http_request("POST", gateway_->url("/api/v1/execute/stream"), json{{"user_uuid", user_of(205)}}.dump(),
                          kUserToken);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(reason_of(r), "bad_request");
    EXPECT_EQ(r.headers["content-type"], "application/json");
}

}  // namespace
}  // namespace ci::test
