// The browser console (core/web/test.html) end to end: served by a real gateway and used in
// headless Chromium the way a person would: paste the token, start a session, plot, fail, release.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "api_helpers.hpp"
#include "cdp_browser.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kSessionIdleTimeout = 6s;

std::string source_file(const std::string& path) {
    std::ifstream in(std::string(CI_SOURCE_DIR) + "/" + path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::string base64_decode(const std::string& text) {
    std::string out(text.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0 || text.size() % 4 != 0) return {};
    out.resize(static_cast<std::size_t>(n) - (text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0));
    return out;
}

std::uint32_t big_endian32(const std::string& bytes, std::size_t at) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
    return value;
}

class ConsoleTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        TestGatewayOptions options{.min_idle = 1, .max_total = 2, .timeout_s = 60};
        options.pool_toml = "session_idle_timeout = " + std::to_string(kSessionIdleTimeout.count());
        gateway_ = new TestGateway("console", options);
    }
    static void TearDownTestSuite() {
        if (!gateway_) return;
        std::string instance = gateway_->instance();
        delete gateway_;
        gateway_ = nullptr;
        EXPECT_EQ(count_containers(instance), 0) << "workers left behind";
    }
    static TestGateway* gateway_;
};

TestGateway* ConsoleTest::gateway_ = nullptr;

// A page in the browser, with the steps the test takes in it.
class ConsolePage {
public:
    ConsolePage(CdpBrowser& browser, const std::string& url) : browser_(browser), session_(browser.open_page(url)) {}

    nlohmann::json eval(const std::string& expression) { return browser_.evaluate(session_, expression); }
    bool wait_for(const std::string& predicate, std::chrono::milliseconds limit) {
        return browser_.wait_for(session_, predicate, limit);
    }
    void click(const std::string& id) { eval("document.getElementById('" + id + "').click()"); }

    // Types into a field as a paste would (trusted input events), replacing what it held.
    void type_into(const std::string& id, const std::string& text) {
        eval("(() => { const e = document.getElementById('" + id + "'); e.focus(); e.select(); })()");
        browser_.call("Input.insertText", {{"text", text}}, session_);
    }

    // Puts code in the editor and presses Ctrl+Enter in it; waits (bounded) for the run's answer.
    bool run(const std::string& code, std::chrono::milliseconds limit = 30s) {
        int before = eval("document.querySelectorAll('#log article').length").get<int>();
        eval("(() => { const c = document.getElementById('code'); c.value = " + nlohmann::json(code).dump() +
             "; c.focus(); })()");
        nlohmann::json key = {{"modifiers", 2}, {"key", "Enter"}, {"code", "Enter"}, {"windowsVirtualKeyCode", 13}};
        key["type"] = "keyDown";
        browser_.call("Input.dispatchKeyEvent", key, session_);
        key["type"] = "keyUp";
        browser_.call("Input.dispatchKeyEvent", key, session_);
        // The entry's heading gets its duration when the answer is in.
        return wait_for("document.querySelectorAll('#log article').length === " + std::to_string(before + 1) +
                            " && document.querySelector('#log article h3').textContent.includes(' ms')",
                        limit);
    }

    // The newest entry's element matching selector: its text, or null when there is none.
    nlohmann::json latest(const std::string& selector) {
        return eval("document.querySelector('#log article')?.querySelector('" + selector + "')?.textContent ?? null");
    }

    // What the page shows and logged, for failure messages.
    std::string shown() {
        std::string text;
        try {
            text = eval("document.querySelector('main').innerText").get<std::string>();
        } catch (const std::exception& e) {
            text = std::string("(cannot read the page: ") + e.what() + ")";
        }
        return "\n--- the page shows ---\n" + text + "\n--- the page logged ---\n" + browser_.page_log();
    }

private:
    CdpBrowser& browser_;
    std::string session_;
};

TEST_F(ConsoleTest, ServesTheEmbeddedPageWithoutATokenUnderARestrictivePolicy) {
    const std::string file = source_file("core/web/test.html");
    ASSERT_FALSE(file.empty());
    for (const char* path : {"/", "/test.html"}) {
        SCOPED_TRACE(path);
        auto page = http_request("GET", gateway_->url(path));
        EXPECT_EQ(page.status, 200);
        EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
        EXPECT_TRUE(page.body == file) << "the served page differs from core/web/test.html";
        const std::string policy = page.headers["content-security-policy"];
        for (const char* directive : {"default-src 'none'", "script-src 'sha256-", "style-src 'sha256-",
                                      "connect-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"})
            EXPECT_NE(policy.find(directive), std::string::npos) << directive << " missing from: " << policy;
        EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
    }
    EXPECT_EQ(http_request("POST", gateway_->url("/")).status, 405);
}

TEST_F(ConsoleTest, RunsCodeShowsPlotsErrorsAndReleasesInChromium) {
    auto browser = std::make_unique<CdpBrowser>();
    const pid_t browser_group = browser->pid();
    const std::string browser_dir = browser->temp_dir();
    {
        ConsolePage page(*browser, gateway_->url("/"));
        // The policy admits the inline style and script by hash: styled, and the script runs.
        EXPECT_EQ(page.eval("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() !== ''"), true)
            << page.shown();

        page.type_into("token", kUserToken);
        EXPECT_EQ(page.eval("sessionStorage.getItem('ci.token')"), kUserToken);

        const auto first_user = page.eval("document.getElementById('user').textContent");
        page.click("new-session");
        ASSERT_TRUE(page.wait_for("document.getElementById('user').textContent !== " + first_user.dump() +
                                      " && /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/"
                                      ".test(document.getElementById('user').textContent)",
                                  10s))
            << page.shown();
        const std::string user = page.eval("document.getElementById('user').textContent").get<std::string>();
        EXPECT_EQ(page.eval("sessionStorage.getItem('ci.user')"), user);

        // A plot: the answer's PNG is shown as an image the browser decoded.
        ASSERT_TRUE(page.run("import matplotlib.pyplot as plt; plt.plot([1,2,3]); plt.show()", 120s)) << page.shown();
        EXPECT_FALSE(page.latest(".new-session").is_null()) << "no new-session notice" << page.shown();
        const std::string png_img = "document.querySelector('#log article img[src^=\"data:image/png;base64,\"]')";
        ASSERT_TRUE(page.wait_for(png_img + "?.complete && " + png_img + ".naturalWidth > 0", 10s)) << page.shown();
        EXPECT_FALSE(page.eval(png_img + ".alt").get<std::string>().empty());
        const std::string src = page.eval(png_img + ".src").get<std::string>();
        const std::string png = base64_decode(src.substr(src.find(',') + 1));
        ASSERT_GE(png.size(), 1000u) << "implausibly small PNG";
        EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
        EXPECT_EQ(png.substr(12, 4), "IHDR");
        EXPECT_EQ(big_endian32(png, 16), page.eval(png_img + ".naturalWidth").get<std::uint32_t>());
        EXPECT_EQ(big_endian32(png, 20), page.eval(png_img + ".naturalHeight").get<std::uint32_t>());
        EXPECT_GE(big_endian32(png, 16), 100u);

        // Whether this gateway answers separate streams, outputs and error, or only the seed's
        // result_text and result_base64: the page shows either, the structured one in more detail.
        const auto probe = body_of(execute_as(gateway_->url(""), user, "pass"));
        ASSERT_TRUE(probe.is_object()) << "the API probe failed";
        const bool structured = probe.contains("stdout");

        ASSERT_TRUE(page.run("import sys; print('to-out'); print('to-err', file=sys.stderr)")) << page.shown();
        if (structured) {
            EXPECT_EQ(page.latest("pre.stdout"), "to-out\n") << page.shown();
            EXPECT_EQ(page.latest("pre.stderr"), "to-err\n") << page.shown();
            // Vector images too, as images.
            ASSERT_TRUE(page.run("from IPython.display import SVG, display\n"
                                 "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"30\">"
                                 "<rect width=\"40\" height=\"30\" fill=\"teal\"/></svg>'))"))
                << page.shown();
            const std::string svg_img = "document.querySelector('#log article img[src^=\"data:image/svg+xml\"]')";
            EXPECT_TRUE(page.wait_for(svg_img + "?.complete && " + svg_img + ".naturalWidth === 40", 10s)) << page.shown();
        } else {
            EXPECT_EQ(page.latest("pre.stdout"), "to-out\nto-err\n") << page.shown();
        }

        // The session's last execution: the error box is checked, then the session is released.
        ASSERT_TRUE(page.run("1/0")) << page.shown();
        const auto shown_error = page.latest(structured ? ".error" : "pre.stdout");
        ASSERT_TRUE(shown_error.is_string()) << page.shown();
        EXPECT_NE(shown_error.get<std::string>().find("ZeroDivisionError"), std::string::npos) << page.shown();
        EXPECT_NE(shown_error.get<std::string>().find("division by zero"), std::string::npos) << page.shown();

        // An HTTP error shows its status and reason.
        page.type_into("token", "not-the-token");
        ASSERT_TRUE(page.run("print(1)")) << page.shown();
        const auto refused = page.latest(".error");
        ASSERT_TRUE(refused.is_string()) << page.shown();
        EXPECT_NE(refused.get<std::string>().find("HTTP 401 unauthorized"), std::string::npos) << page.shown();
        page.type_into("token", kUserToken);

        page.click("release");
        ASSERT_TRUE(page.wait_for("document.getElementById('status').textContent.startsWith('Released')", 10s))
            << page.shown();
        EXPECT_TRUE(wait_until([&] { return status_of(gateway_->url(""))["sessions"] == 0; }, 10s))
            << "the released session is still listed";

        // A session the gateway ended while idle: the next answer says so, and the variables are gone.
        ASSERT_TRUE(page.run("kept = 1")) << page.shown();
        EXPECT_FALSE(page.latest(".new-session").is_null()) << "a run after release starts a new session" << page.shown();
        ASSERT_TRUE(wait_until([&] { return status_of(gateway_->url(""))["sessions"] == 0; }, kSessionIdleTimeout + 20s))
            << "the idle session did not expire";
        ASSERT_TRUE(page.run("kept")) << page.shown();
        const auto notice = page.latest(".previous-session");
        ASSERT_TRUE(notice.is_string()) << page.shown();
        EXPECT_NE(notice.get<std::string>().find("expired after being idle"), std::string::npos) << page.shown();
        EXPECT_FALSE(page.latest(structured ? ".error" : "pre.stdout").is_null()) << page.shown();
        EXPECT_NE(page.eval("document.querySelector('#log article').innerText").get<std::string>().find("NameError"),
                  std::string::npos)
            << page.shown();
        // "New session" releases the session it leaves.
        page.click("new-session");
        EXPECT_TRUE(page.wait_for("document.getElementById('user').textContent !== '" + user + "'", 10s)) << page.shown();
        EXPECT_TRUE(wait_until([&] { return status_of(gateway_->url(""))["sessions"] == 0; }, 10s))
            << "the session left by New session is still listed" << page.shown();

        EXPECT_EQ(browser->page_log().find("Content-Security-Policy violation"), std::string::npos)
            << browser->page_log();
    }
    browser.reset();
    errno = 0;
    EXPECT_EQ(kill(-browser_group, 0), -1) << "chromium processes left behind";
    EXPECT_EQ(errno, ESRCH);
    EXPECT_FALSE(std::filesystem::exists(browser_dir)) << browser_dir << " left behind";
}

}  // namespace
}  // namespace ci::test
