// The original project's own functional checks, as its users run them against it, here against
// the real stack: its phases (state; a plot saved to /sandbox; identity and privileges; timeout;
// network blocked; shell audit; CPU loop; disk quota) through its /api/v1 routes with user_uuid in
// the query, and the answers its clients expect (422 on validation, is_initializing, CORS).
// Its URL file phase is url_files_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

class OriginalContractTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<TestGateway>(
            "original", TestGatewayOptions{.min_idle = 2, .max_total = 8, .timeout_s = 8,
                                           .worker_toml = "disk_mb = 500\n",
                                           .server_toml = "cors_allowed_origins = [\"https://app.example.com\"]"});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    // The original client's call: POST /api/v1/execute?user_uuid=U {"code"}.
    static HttpResponse execute(const std::string& user, const std::string& code, long timeout_s = 60) {
        return http_send("POST", gateway_->url("/api/v1/execute?user_uuid=" + user), json{{"code", code}}.dump(),
                         kUserToken, {}, timeout_s);
    }
    static std::string text(const std::string& user, const std::string& code) {
        auto r = execute(user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        return result_text(r);
    }
    // The original client's release: POST /api/v1/release?user_uuid=U with an empty body.
    static void release(const std::string& user) {
        auto r = http_send("POST", gateway_->url("/api/v1/release?user_uuid=" + user), "", kUserToken);
        EXPECT_EQ(r.status, 200) << r.body;
    }

    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(OriginalContractTest, Phase1StateAndAPlotSavedToSandbox) {
    const std::string user = user_of(801);
    EXPECT_NE(text(user, "my_variable = 100\nprint(f'Variable defined. Value: {my_variable}')").find("100"),
              std::string::npos);
    EXPECT_NE(text(user, "result = my_variable * 5\nprint(f'Result: {result}')\nmy_variable = result").find("500"),
              std::string::npos);
    const std::string plot =
        "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "x = np.linspace(0, 10, 100)\ny = np.cos(x)\nplt.figure(figsize=(6, 4))\nplt.plot(x, y)\n"
        "plt.title('Cosine Wave')\nplt.savefig('/sandbox/plot.png')\nprint('Plot saved successfully')\n";
    EXPECT_NE(text(user, plot).find("successfully"), std::string::npos);
    EXPECT_EQ(text(user, "import os\nprint(os.getcwd(), os.path.getsize('/sandbox/plot.png') > 1000, "
                         "open('plot.png','rb').read(4))"),
              "/sandbox True b'\\x89PNG'\n");
    release(user);
}

TEST_F(OriginalContractTest, Phase2And6IdentityPrivilegesAndShellAudit) {
    const std::string user = user_of(802);
    std::string out = text(user,
                           "import os\nuid = os.getuid()\nusername = os.popen('whoami').read().strip()\n"
                           "print(f'UID: {uid}, Username: {username}')\n");
    EXPECT_NE(out.find("Username: sandbox"), std::string::npos) << out;
    EXPECT_EQ(out.find("UID: 0,"), std::string::npos) << out;
    out = text(user,
               "try:\n    open('/etc/malicious_file.txt', 'w').write('hacked')\n    print('VULNERABLE')\n"
               "except (PermissionError, OSError) as e:\n    print('SECURE', type(e).__name__)\n"
               "open('/sandbox/test_perm.txt', 'w').write('ok')\nprint('FUNCTIONAL')\n");
    EXPECT_NE(out.find("SECURE"), std::string::npos) << out;
    EXPECT_NE(out.find("FUNCTIONAL"), std::string::npos) << out;
    out = text(user, "import os\nprint(os.popen('iptables -L 2>&1').read())");
    EXPECT_TRUE(out.find("Permission denied") != std::string::npos || out.find("not found") != std::string::npos ||
                out.find("Operation not permitted") != std::string::npos)
        << out;
    EXPECT_NE(text(user, "import os; print(os.popen('whoami').read().strip())").find("sandbox"), std::string::npos);
    out = text(user, "import os; print(os.popen('sudo -l 2>&1').read())");
    EXPECT_NE(out.find("not found"), std::string::npos) << out;
    out = text(user, "import os; print(os.popen('cat /etc/shadow 2>&1').read())");
    EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
    release(user);
}

TEST_F(OriginalContractTest, Phase3And5NetworkIsBlocked) {
    const std::string user = user_of(803);
    std::string out = text(user,
                           "import socket\nhostname = socket.gethostname()\n"
                           "try:\n    print('My IP:', socket.gethostbyname(hostname))\n"
                           "except OSError as e:\n    print('no address for', hostname, e)\n");
    EXPECT_NE(out.find("My IP:"), std::string::npos) << out;
    out = text(user,
               "import socket\nblocked = 0\nfor d in ['google.com', 'github.com']:\n"
               "    try:\n        socket.gethostbyname(d)\n    except socket.gaierror:\n        blocked += 1\n"
               "targets = [('1.1.1.1', 443), ('8.8.8.8', 80)]\nfor ip, port in targets:\n"
               "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n    s.settimeout(3.0)\n"
               "    try:\n        s.connect((ip, port))\n    except OSError:\n        blocked += 1\n"
               "    finally:\n        s.close()\nprint(f'Blocked: {blocked}/4')\n");
    EXPECT_EQ(out, "Blocked: 4/4\n");
    release(user);
}

TEST_F(OriginalContractTest, Phase4And7TimeoutsAndCpuLoopsEndInA503AndAFreshSession) {
    for (const char* code : {"import time\nprint('Starting long task...')\ntime.sleep(20)\nprint('completed')\n",
                             "while True: pass"}) {
        const std::string user = user_of(code[0] == 'i' ? 804 : 805);
        text(user, "x = 1");
        const auto start = std::chrono::steady_clock::now();
        auto r = execute(user, code, 30);
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_EQ(reason_of(r), "timeout");
        EXPECT_GE(ms_since(start), 7500);
        EXPECT_LT(ms_since(start), 20000);
        auto next = execute(user, "print('x' in dir())");
        EXPECT_EQ(next.status, 200) << next.body;
        EXPECT_EQ(result_text(next), "False\n");
        EXPECT_EQ(body_of(next)["new_session"], true);
        release(user);
    }
}

TEST_F(OriginalContractTest, Phase8A700MbWriteIntoA500MbDiskFailsAndTheSessionStaysUsable) {
    const std::string user = user_of(806);
    text(user, "kept = 42");
    auto r = execute(user,
                     "import os\nresult = os.popen('dd if=/dev/zero of=/sandbox/large_file.dat bs=1M count=700 2>&1').read()\n"
                     "print('SECURE: Disk quota enforced' if 'No space left' in result else result[:300])\n",
                     120);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(result_text(r).find("SECURE"), std::string::npos) << r.body;
    EXPECT_EQ(text(user, "import os\nos.remove('/sandbox/large_file.dat')\nprint(kept)"), "42\n");
    release(user);
}

TEST_F(OriginalContractTest, ValidationFailuresOfItsRoutesAnswer422) {
    const std::string user = user_of(807);
    const std::pair<std::string, std::string> cases[] = {
        {"/api/v1/execute?user_uuid=" + user, "{\"cod\": \"1\"}"},
        {"/api/v1/execute?user_uuid=not-a-uuid", "{\"code\": \"1\"}"},
        {"/api/v1/execute", "{\"code\": \"1\"}"},
        {"/api/v1/execute?user_uuid=" + user, "not json"},
        {"/api/v1/execute?user_uuid=" + user, "{\"code\": 5}"},
        {"/execute", "{\"user_uuid\": \"x\", \"code\": \"1\"}"},
        {"/api/v1/release", ""},
        {"/release", "{\"user_uuid\": 7}"},
    };
    for (const auto& [route, body] : cases) {
        auto r = http_send("POST", gateway_->url(route), body, kUserToken);
        EXPECT_EQ(r.status, 422) << route << " " << body << ": " << r.body;
        EXPECT_EQ(reason_of(r), "validation_failed") << r.body;
    }
    // Our own routes keep their documented 400.
    auto ours = http_send("POST", gateway_->url("/api/v1/execute/stream"), "{\"code\": \"1\"}", kUserToken);
    EXPECT_EQ(ours.status, 400) << ours.body;
    auto interrupt = http_send("POST", gateway_->url("/api/v1/interrupt"), "{}", kUserToken);
    EXPECT_EQ(interrupt.status, 400) << interrupt.body;
}

TEST_F(OriginalContractTest, StatusCarriesIsInitializing) {
    ASSERT_TRUE(wait_until([] { return status_of(gateway_->url(""))["idle_workers"].get<int>() >= 2; },
                           std::chrono::seconds(60)));
    json status = status_of(gateway_->url(""));
    EXPECT_EQ(status["is_initializing"], false);
    EXPECT_TRUE(status["total_workers"].is_number());
    EXPECT_TRUE(status["busy_workers"].is_number());
}

TEST_F(OriginalContractTest, CorsAnswersPreflightsAndMarksAnswersForAllowedOriginsOnly) {
    auto preflight = http_send("OPTIONS", gateway_->url("/api/v1/execute"), "", "",
                               {}, 10, {"Origin: https://app.example.com", "Access-Control-Request-Method: POST",
                                        "Access-Control-Request-Headers: x-auth-token, content-type"});
    EXPECT_EQ(preflight.status, 204) << preflight.body;
    EXPECT_EQ(preflight.headers["access-control-allow-origin"], "https://app.example.com");
    EXPECT_NE(preflight.headers["access-control-allow-methods"].find("POST"), std::string::npos);
    EXPECT_EQ(preflight.headers["access-control-allow-headers"], "x-auth-token, content-type");
    EXPECT_EQ(preflight.headers["vary"], "Origin");

    auto answer = http_send("POST", gateway_->url("/api/v1/execute?user_uuid=" + user_of(808)), "{\"code\": \"1+1\"}",
                            kUserToken, {}, 60, {"Origin: https://app.example.com"});
    EXPECT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(answer.headers["access-control-allow-origin"], "https://app.example.com");
    release(user_of(808));
    auto refused = http_send("POST", gateway_->url("/api/v1/execute?user_uuid=" + user_of(808)), "{}", "", {}, 10,
                             {"Origin: https://app.example.com"});
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(refused.headers["access-control-allow-origin"], "https://app.example.com") << "a page must read why";

    auto other = http_send("OPTIONS", gateway_->url("/api/v1/execute"), "", "", {}, 10,
                           {"Origin: https://evil.example.net", "Access-Control-Request-Method: POST"});
    EXPECT_EQ(other.status, 204);
    EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
    auto unknown = http_send("OPTIONS", gateway_->url("/no/such/route"), "", "");
    EXPECT_EQ(unknown.status, 404);
}

TEST_F(OriginalContractTest, FileRoutesTakeAbsoluteSandboxPaths) {
    const std::string user = user_of(809);
    auto up = http_send("POST", gateway_->url("/api/v1/files?user_uuid=" + user + "&path=/sandbox/in/a.txt"), "abc",
                        kUserToken);
    ASSERT_EQ(up.status, 200) << up.body;
    EXPECT_EQ(text(user, "print(open('/sandbox/in/a.txt').read())"), "abc\n");
    auto down = http_send("GET", gateway_->url("/api/v1/files?user_uuid=" + user + "&path=/sandbox/in/a.txt"), "",
                          kUserToken);
    EXPECT_EQ(down.body, "abc");
    auto escape = http_send("GET", gateway_->url("/api/v1/files?user_uuid=" + user + "&path=/etc/passwd"), "", kUserToken);
    EXPECT_EQ(escape.status, 400) << escape.body;
    release(user);
}

}  // namespace
}  // namespace ci::test
