// The Kubernetes backend's watch: newline-delimited events cut anywhere by the transport,
// bookmarks, an expired version (410 inside a 200 stream), and the pod set kept from a list and
// the events on top of it.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pod_set.hpp"
#include "watch_stream.hpp"

namespace ci::kube {
namespace {

using nlohmann::json;

std::string pod_json(const std::string& name, const std::string& version, const std::string& phase = "Running") {
    return json{{"kind", "Pod"},
                {"metadata", {{"name", name}, {"resourceVersion", version}}},
                {"status", {{"phase", phase}}}}
        .dump();
}

std::string event(const std::string& type, const std::string& object) {
    return "{\"type\":\"" + type + "\",\"object\":" + object + "}\n";
}

const std::string kExpired =
    event("ERROR", R"json({"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 100 (200)","reason":"Expired","code":410})json");

TEST(KubernetesWatch, EventsCutAnywhereComeOutWholeAndInOrder) {
    const std::string body = event("ADDED", pod_json("a", "101")) + event("MODIFIED", pod_json("a", "102")) +
                             event("BOOKMARK", R"({"kind":"Pod","metadata":{"resourceVersion":"150"}})") +
                             event("DELETED", pod_json("a", "151"));
    // Every way of cutting the body in two, and byte by byte.
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        WatchStream stream;
        auto events = stream.feed(body.substr(0, cut));
        for (auto& e : stream.feed(body.substr(cut))) events.push_back(std::move(e));
        ASSERT_EQ(events.size(), 4u) << "cut at " << cut;
        EXPECT_EQ(events[0].type, WatchEvent::Type::added);
        EXPECT_EQ(events[1].resource_version(), "102");
        EXPECT_EQ(events[2].type, WatchEvent::Type::bookmark);
        EXPECT_EQ(events[3].type, WatchEvent::Type::deleted);
        EXPECT_EQ(stream.pending(), 0u);
    }
    WatchStream stream;
    std::vector<WatchEvent> events;
    for (char c : body)
        for (auto& e : stream.feed(std::string(1, c))) events.push_back(std::move(e));
    EXPECT_EQ(events.size(), 4u);
}

TEST(KubernetesWatch, AnExpiredVersionInsideTheStreamAsksForANewList) {
    WatchStream stream;
    const auto events = stream.feed(event("ADDED", pod_json("a", "101")) + kExpired);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_FALSE(events[0].expired());
    EXPECT_TRUE(events[1].expired());

    PodSet pods;
    EXPECT_EQ(pods.apply(events[0]), PodSet::Next::go_on);
    EXPECT_EQ(pods.apply(events[1]), PodSet::Next::relist);
    EXPECT_EQ(pods.resource_version(), "101") << "the error carries no version of its own";
    // Another error (the server's, not the version's): watch again from where it was.
    const auto other = parse_watch_event(R"({"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError"}})");
    EXPECT_FALSE(other.expired());
    EXPECT_EQ(pods.apply(other), PodSet::Next::rewatch);
}

TEST(KubernetesWatch, MalformedOrOversizedEventsStopTheStream) {
    EXPECT_THROW(WatchStream().feed("not json\n"), WatchStreamError);
    EXPECT_THROW(WatchStream().feed("{\"type\":\"ADDED\"}\n"), WatchStreamError);
    EXPECT_THROW(WatchStream().feed(event("RENAMED", pod_json("a", "1"))), WatchStreamError);
    EXPECT_THROW(WatchStream().feed("{\"type\":5,\"object\":{}}\n"), WatchStreamError);
    WatchStream small(64);
    EXPECT_THROW(small.feed(std::string(65, ' ')), WatchStreamError) << "no newline yet, but already too long";
    // Blank keep-alive lines are nothing.
    EXPECT_TRUE(WatchStream().feed("\n\r\n  \n").empty());
}

TEST(KubernetesWatch, ThePodSetFollowsAListThenItsEvents) {
    PodSet pods;
    pods.replace(json::parse(R"({"kind":"PodList","metadata":{"resourceVersion":"100"},"items":[)" +
                             pod_json("a", "90") + "," + pod_json("b", "95", "Pending") + "]}"));
    EXPECT_EQ(pods.resource_version(), "100");
    EXPECT_EQ(pods.names(), (std::vector<std::string>{"a", "b"}));

    WatchStream stream;
    for (const auto& e : stream.feed(event("MODIFIED", pod_json("b", "101")) + event("ADDED", pod_json("c", "102")) +
                                     event("DELETED", pod_json("a", "103")) +
                                     event("BOOKMARK", R"({"kind":"Pod","metadata":{"resourceVersion":"180"}})")))
        EXPECT_EQ(pods.apply(e), PodSet::Next::go_on);
    EXPECT_EQ(pods.names(), (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(pods.find("b")->at("status").at("phase"), "Running");
    EXPECT_FALSE(pods.find("a"));
    EXPECT_EQ(pods.resource_version(), "180") << "a bookmark moves the version on without a pod";

    // A relist replaces everything, including what a missed DELETED left behind.
    pods.replace(json::parse(R"({"metadata":{"resourceVersion":"300"},"items":[)" + pod_json("c", "250") + "]}"));
    EXPECT_EQ(pods.names(), (std::vector<std::string>{"c"}));
    EXPECT_EQ(pods.resource_version(), "300");
    EXPECT_THROW(pods.replace(json::parse(R"({"items":[{"metadata":{}}]})")), WatchStreamError);
    EXPECT_THROW(pods.replace(json::object()), WatchStreamError);
    EXPECT_EQ(pods.names(), (std::vector<std::string>{"c"})) << "a bad list changes nothing";
}

}  // namespace
}  // namespace ci::kube
