// The original project's file transfer by URL on the real stack: a real HTTP server on loopback
// (allowed through files.url_allowed_private_hosts) serves the downloads and takes the uploads,
// and what arrives is compared byte for byte with what user code sees in /sandbox; every SSRF
// rule refuses, limits answer as the original's do, and nothing half-written is left behind.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_helpers.hpp"
#include "http_client.hpp"
#include "http_test_server.hpp"
#include "multipart.hpp"
#include "test_gateway.hpp"

namespace ci::test {
namespace {

using nlohmann::json;

constexpr std::uint64_t kBig = 9 * 1024 * 1024 + 5;     // more than two 4 MiB parts
constexpr std::uint64_t kLimit = 12 * 1024 * 1024;      // files.url_max_file_bytes here
constexpr std::uint64_t kOversized = kLimit + 1;

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

ServedResponse serve(const ReceivedRequest& request) {
    const std::string& path = request.target;
    if (path == "/hello.json") return {200, {{"Content-Type", "application/json"}}, "{\"hello\": \"sandbox\"}"};
    if (path == "/big.bin") return {200, {}, "", kBig};
    if (path == "/oversized.bin") return {200, {}, "", kOversized, false};
    if (path == "/hang") return {200, {}, "", 0, true, true};
    if (path == "/put" || path == "/form") return {200, {}, "ok"};
    return {404, {}, "no such object"};
}

class UrlFilesTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<HttpTestServer>(serve);
        gateway_ = std::make_unique<TestGateway>(
            "urlfiles", TestGatewayOptions{.min_idle = 1, .max_total = 6, .timeout_s = 60,
                                           .extra_toml = "[files]\nurl_max_file_bytes = " + std::to_string(kLimit) +
                                                         "\nurl_timeout = 3\nurl_allowed_private_hosts = [\"127.0.0.1:" +
                                                         std::to_string(server_->port()) + "\"]\n"});
    }
    static void TearDownTestSuite() {
        std::string instance = gateway_->instance();
        gateway_.reset();
        server_.reset();
        EXPECT_EQ(count_containers(instance), 0);
        EXPECT_EQ(volume_leftovers(instance), "");
    }

    static HttpResponse post(const std::string& route, const std::string& user, const json& body) {
        return http_send("POST", gateway_->url(route + "?user_uuid=" + user), body.dump(), kUserToken, {}, 60);
    }
    static json download(const std::string& url, const std::string& path, const std::string& name) {
        return {{"download_url", url}, {"path", path}, {"name", name}};
    }
    static std::string run(const std::string& user, const std::string& code) {
        auto r = execute_as(gateway_->url(""), user, code);
        EXPECT_EQ(r.status, 200) << r.body;
        return result_text(r);
    }
    // The workspace's files as user code sees them, one "path size" line each, sorted.
    static std::string tree(const std::string& user) {
        return run(user,
                   "import os\n"
                   "for d, _, fs in sorted(os.walk('/sandbox')):\n"
                   "    for f in sorted(fs):\n"
                   "        p = os.path.join(d, f)\n"
                   "        if '/.' not in p: print(p, os.path.getsize(p))\n");
    }

    static inline std::unique_ptr<HttpTestServer> server_;
    static inline std::unique_ptr<TestGateway> gateway_;
};

TEST_F(UrlFilesTest, DownloadsArriveInSandboxByteForByte) {
    const std::string user = user_of(701);
    auto r = post("/api/v1/files", user,
                  {{"files", json::array({download(server_->url("/hello.json"), "/sandbox/", "test-upload.json"),
                                          download(server_->url("/hello.json"), "/sandbox/nested/deep/", "file2.json"),
                                          download(server_->url("/big.bin"), "/sandbox/data", "big.bin")})}});
    ASSERT_EQ(r.status, 201) << r.body;
    json body = body_of(r);
    EXPECT_EQ(body["success"], true);
    EXPECT_EQ(body["new_session"], true);
    EXPECT_EQ(body["results"], json::array({{{"full_path", "/sandbox/test-upload.json"}, {"size", 20}},
                                            {{"full_path", "/sandbox/nested/deep/file2.json"}, {"size", 20}},
                                            {{"full_path", "/sandbox/data/big.bin"}, {"size", kBig}}}));
    EXPECT_EQ(run(user, "print(open('test-upload.json').read())"), "{\"hello\": \"sandbox\"}\n");
    EXPECT_EQ(run(user, "import hashlib\nprint(hashlib.sha256(open('/sandbox/data/big.bin','rb').read()).hexdigest())"),
              sha256_hex(pattern_bytes(0, kBig)) + "\n");
    // No temporary file is left beside them.
    EXPECT_EQ(run(user, "import os\nprint(sorted(f for _, _, fs in os.walk('/sandbox') for f in fs if f.startswith('.ci-')))"),
              "[]\n");
    // The bare path the original's clients may use answers the same way.
    r = http_send("POST", gateway_->url("/files?user_uuid=" + user),
                  json{{"files", json::array({download(server_->url("/hello.json"), "/sandbox", "bare.json")})}}.dump(),
                  kUserToken);
    EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(UrlFilesTest, ExportsPutAndPostWhatCodeWrote) {
    const std::string user = user_of(702);
    run(user,
        "data = bytes((i * 131 + (i >> 9) * 7 + 3) & 0xff for i in range(5 * 1024 * 1024 + 3))\n"
        "open('/sandbox/out.bin', 'wb').write(data)\n"
        "open('/sandbox/export-test.txt', 'w').write('test data')\n");
    const std::size_t before = server_->requests().size();
    auto r = post("/api/v1/files/export", user,
                  {{"files", json::array({{{"path", "/sandbox/"}, {"name", "out.bin"}, {"upload_url", server_->url("/put")}},
                                          {{"path", "/sandbox"},
                                           {"name", "export-test.txt"},
                                           {"upload_url", server_->url("/form")},
                                           {"upload_fields", {{"key", "exports/export-test.txt"}, {"policy", "p0l1cy"}}}}})}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r)["results"], json::array({{{"path", "/sandbox/"}, {"name", "out.bin"}, {"size", 5 * 1024 * 1024 + 3}},
                                                  {{"path", "/sandbox"}, {"name", "export-test.txt"}, {"size", 9}}}));
    auto received = server_->requests();
    ASSERT_EQ(received.size(), before + 2);
    const ReceivedRequest* put = nullptr;
    const ReceivedRequest* form = nullptr;
    for (std::size_t i = before; i < received.size(); ++i)
        (received[i].target == "/put" ? put : form) = &received[i];
    ASSERT_TRUE(put && form);
    EXPECT_EQ(put->method, "PUT");
    EXPECT_TRUE(put->body == pattern_bytes(0, 5 * 1024 * 1024 + 3));
    EXPECT_EQ(form->method, "POST");
    const std::string& type = form->headers.at("content-type");
    auto parts = std::get<std::vector<ci::FormPart>>(parse_multipart(form->body, type.substr(type.find('=') + 1)));
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0].name, "key");
    EXPECT_EQ(parts[0].data, "exports/export-test.txt");
    EXPECT_EQ(parts[1].name, "policy");
    EXPECT_EQ(parts[2].name, "file");
    EXPECT_EQ(parts[2].filename, "export-test.txt");
    EXPECT_EQ(parts[2].data, "test data");
}

TEST_F(UrlFilesTest, EverySsrfRuleRefusesAndSaysWhich) {
    const std::string user = user_of(703);
    const std::pair<std::string, std::string> cases[] = {
        {"http://127.0.0.1:8000/", "loopback"},
        {"http://localhost:" + std::to_string(server_->port() + 1) + "/", "loopback"},
        {"http://10.1.2.3/", "private"},
        {"http://172.16.5.4/", "private"},
        {"http://192.168.1.1/", "private"},
        {"http://100.64.0.1/", "carrier-grade NAT"},
        {"http://169.254.169.254/latest/meta-data/", "metadata"},
        {"http://169.254.10.10/", "link-local"},
        {"http://224.0.0.1/", "multicast"},
        {"http://0.0.0.0/", "unspecified"},
        {"http://[::1]/", "loopback"},
        {"http://[fd00::1]/", "unique local"},
        {"http://[fe80::1]/", "link-local"},
        {"http://[::ffff:127.0.0.1]/", "IPv4-mapped"},
        {"http://[64:ff9b::a00:1]/", "NAT64"},
        {"http://2130706433/", "loopback"},
    };
    for (const auto& [url, rule] : cases) {
        SCOPED_TRACE(url);
        auto r = post("/api/v1/files", user, {{"files", json::array({download(url, "/sandbox/", "x.txt")})}});
        EXPECT_EQ(r.status, 422) << r.body;
        EXPECT_EQ(reason_of(r), "url_refused") << r.body;
        EXPECT_NE(body_of(r).value("detail", "").find(rule), std::string::npos) << r.body;
        auto e = post("/api/v1/files/export", user,
                      {{"files", json::array({{{"path", "/sandbox/"}, {"name", "x.txt"}, {"upload_url", url}}})}});
        EXPECT_EQ(e.status, 422) << e.body;
        EXPECT_EQ(reason_of(e), "url_refused") << e.body;
    }
    for (const char* url : {"file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1/"}) {
        auto r = post("/api/v1/files", user, {{"files", json::array({download(url, "/sandbox/", "x.txt")})}});
        EXPECT_EQ(r.status, 422) << url << r.body;
        EXPECT_EQ(reason_of(r), "validation_failed") << r.body;
    }
    // Refused before any session or file: the user has none.
    auto status = status_of(gateway_->url(""));
    EXPECT_EQ(http_send("POST", gateway_->url("/api/v1/release?user_uuid=" + user), "", kUserToken).status, 404);
    EXPECT_TRUE(status.is_object());
}

TEST_F(UrlFilesTest, TraversalTooManyFilesAndBadBodiesAnswer422) {
    const std::string user = user_of(704);
    const std::string ok = server_->url("/hello.json");
    const json bad_bodies[] = {
        {{"files", json::array({download(ok, "/sandbox/../../../etc/", "malicious.txt")})}},
        {{"files", json::array({download(ok, "/sandbox/", "../../../etc/passwd")})}},
        {{"files", json::array({download(ok, "/etc/", "passwd")})}},
        {{"files", json::array({download(ok, "/sandbox/", "..")})}},
        {{"files", json::array()}},
        {{"files", json::array({{{"path", "/sandbox/"}, {"name", "x"}}})}},
    };
    for (const auto& body : bad_bodies) {
        auto r = post("/api/v1/files", user, body);
        EXPECT_EQ(r.status, 422) << body.dump() << " " << r.body;
        EXPECT_EQ(reason_of(r), "validation_failed");
    }
    json many = json::array();
    for (int i = 0; i < 101; ++i) many.push_back(download(ok, "/sandbox/", "f" + std::to_string(i) + ".json"));
    auto r = post("/api/v1/files", user, {{"files", many}});
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(body_of(r).value("detail", "").find("101"), std::string::npos);
    auto e = post("/api/v1/files/export", user,
                  {{"files", json::array({{{"path", "/sandbox/../../etc/"}, {"name", "passwd"}, {"upload_url", server_->url("/put")}}})}});
    EXPECT_EQ(e.status, 422) << e.body;
    auto bad_user = http_send("POST", gateway_->url("/api/v1/files?user_uuid=not-a-uuid"),
                              json{{"files", json::array({download(ok, "/sandbox/", "a")})}}.dump(), kUserToken);
    EXPECT_EQ(bad_user.status, 422) << bad_user.body;
}

TEST_F(UrlFilesTest, LimitsHangsAndRemoteFailuresLeaveNothingHalfWritten) {
    const std::string user = user_of(705);
    auto r = post("/api/v1/files", user,
                  {{"files", json::array({download(server_->url("/hello.json"), "/sandbox/in", "good.json"),
                                          download(server_->url("/oversized.bin"), "/sandbox/in", "big.bin"),
                                          download(server_->url("/missing"), "/sandbox/in", "gone.bin")})}});
    EXPECT_EQ(r.status, 413) << r.body;  // the first failed file's
    json body = body_of(r);
    EXPECT_EQ(body["success"], false);
    EXPECT_EQ(body["results"], json::array({{{"full_path", "/sandbox/in/good.json"}, {"size", 20}}}));
    ASSERT_EQ(body["failed"].size(), 2u);
    EXPECT_EQ(body["failed"][0]["name"], "big.bin");
    EXPECT_EQ(body["failed"][0]["reason"], "payload_too_large");
    EXPECT_EQ(body["failed"][1]["reason"], "transfer_failed");
    EXPECT_NE(body["failed"][1]["detail"].get<std::string>().find("HTTP 404"), std::string::npos);

    const auto start = std::chrono::steady_clock::now();
    auto hung = post("/api/v1/files", user, {{"files", json::array({download(server_->url("/hang"), "/sandbox/in", "h")})}});
    EXPECT_EQ(hung.status, 504) << hung.body;
    EXPECT_EQ(reason_of(hung), "transfer_timeout");
    EXPECT_LT(ms_since(start), 15000);

    EXPECT_EQ(tree(user), "/sandbox/in/good.json 20\n");

    auto missing = post("/api/v1/files/export", user,
                        {{"files", json::array({{{"path", "/sandbox/"}, {"name", "this-does-not-exist-12345.txt"},
                                                 {"upload_url", server_->url("/put")}}})}});
    EXPECT_EQ(missing.status, 404) << missing.body;
}

TEST_F(UrlFilesTest, OurOwnFileFormsStillAnswerBesideTheOriginals) {
    const std::string user = user_of(706);
    auto raw = http_send("POST", gateway_->url("/api/v1/files?user_uuid=" + user + "&path=/sandbox/raw/files.json"),
                         "{\"files\": \"not a transfer: a raw upload names its path\"}", kUserToken);
    ASSERT_EQ(raw.status, 200) << raw.body;
    EXPECT_EQ(body_of(raw)["path"], "raw/files.json");
    auto exported = http_send("POST", gateway_->url("/api/v1/files/export"),
                              json{{"user_uuid", user}, {"path", "/sandbox/raw/files.json"}}.dump(), kUserToken);
    ASSERT_EQ(exported.status, 200) << exported.body;
    EXPECT_TRUE(body_of(exported).contains("data_base64"));
    auto listed = http_send("GET", gateway_->url("/api/v1/files/list?user_uuid=" + user + "&path=/sandbox/raw"), "", kUserToken);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(body_of(listed)["entries"][0]["name"], "files.json");
}

}  // namespace
}  // namespace ci::test
