// The docker backend's network modes as pure functions: configuration keys, the container create
// request per mode, the network create request, and reading addresses back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "backend_config.hpp"
#include "docker_api.hpp"
#include "seccomp_profile.hpp"

namespace ci::docker {
namespace {

using ci::plugin::WorkerSpec;
using nlohmann::json;
using ::testing::HasSubstr;

std::string parse_error(const json& table) {
    try {
        parse_backend_config(table, "/etc/ci");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

WorkerSpec spec() {
    WorkerSpec s;
    s.worker_id = "0123456789ab";
    s.agent_key = "k";
    return s;
}

BackendConfig config_for(const json& table) {
    json t = table;
    t["instance"] = "t1";
    return parse_backend_config(t, "/etc/ci");
}

TEST(HardeningDockerConfig, NetworkKeysAndDefaults) {
    const BackendConfig d = parse_backend_config(json::object(), "/etc/ci");
    EXPECT_EQ(d.network, NetworkMode::none);
    EXPECT_EQ(d.subnet, "10.213.0.0/24");
    EXPECT_EQ(parse_backend_config({{"network", "none"}}, "/").network, NetworkMode::none);
    EXPECT_EQ(parse_backend_config({{"network", "internal"}}, "/").network, NetworkMode::internal);
    EXPECT_EQ(parse_backend_config({{"enable_internet", true}}, "/").network, NetworkMode::internet);
    EXPECT_EQ(parse_backend_config({{"network", "internal"}, {"enable_internet", true}}, "/").network,
              NetworkMode::internet);
    EXPECT_EQ(parse_backend_config({{"enable_internet", false}}, "/").network, NetworkMode::none);
    // enable_internet brings its own network whatever `network` says.
    EXPECT_EQ(parse_backend_config({{"network", "none"}, {"enable_internet", true}}, "/").network,
              NetworkMode::internet);
    EXPECT_EQ(parse_backend_config({{"subnet", "192.168.240.0/20"}}, "/").subnet, "192.168.240.0/20");
    EXPECT_EQ(parse_backend_config({{"subnet", "100.100.0.0/16"}}, "/").subnet, "100.100.0.0/16");
}

TEST(HardeningDockerConfig, BadNetworkValuesNameTheKey) {
    EXPECT_THAT(parse_error({{"network", "host"}}), HasSubstr("plugins.docker-backend.network: 'host'"));
    EXPECT_THAT(parse_error({{"enable_internet", "yes"}}), HasSubstr("enable_internet: expected true or false"));
    EXPECT_THAT(parse_error({{"subnet", "10.213.0.0"}}), HasSubstr("subnet: '10.213.0.0' is not an IPv4 subnet"));
    EXPECT_THAT(parse_error({{"subnet", "10.213.0.1/24"}}), HasSubstr("host bits set (did you mean 10.213.0.0/24?)"));
    EXPECT_THAT(parse_error({{"subnet", "10.0.0.0/8"}}), HasSubstr("between /16 and /28"));
    EXPECT_THAT(parse_error({{"subnet", "10.0.0.0/30"}}), HasSubstr("between /16 and /28"));
    EXPECT_THAT(parse_error({{"subnet", "8.8.8.0/24"}}), HasSubstr("must lie in a private range"));
    EXPECT_THAT(parse_error({{"subnet", "172.32.0.0/16"}}), HasSubstr("must lie in a private range"));
}

TEST(HardeningDockerConfig, Ipv4Helpers) {
    EXPECT_EQ(parse_ipv4_address("10.213.0.1"), 0x0AD50001u);
    EXPECT_FALSE(parse_ipv4_address("10.213.0.01"));
    EXPECT_FALSE(parse_ipv4_address("10.213.0"));
    EXPECT_FALSE(parse_ipv4_address("10.213.0.1 "));
    EXPECT_EQ(format_ipv4_address(0xC0A80001u), "192.168.0.1");
    const auto s = parse_ipv4_subnet("172.16.0.0/12");
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->contains(*parse_ipv4_subnet("172.31.255.0/24")));
    EXPECT_FALSE(s->contains(*parse_ipv4_subnet("172.32.0.0/24")));
    EXPECT_FALSE(s->contains(*parse_ipv4_subnet("172.0.0.0/8")));
}

TEST(HardeningDockerCreate, NoneModeHasNoNetworkAndNoNetworkCapability) {
    const BackendConfig c = config_for(json::object());
    const json r = build_create_request(c, spec(), "/d");
    const json& h = r["HostConfig"];
    EXPECT_EQ(h["NetworkMode"], "none");
    EXPECT_EQ(r["NetworkDisabled"], true);  // no libnetwork hook at start
    EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
    EXPECT_EQ(h["CapAdd"], json::array({"SETUID", "SETGID", "SETPCAP"}));
    EXPECT_FALSE(r.contains("Cmd"));
    EXPECT_FALSE(r.contains("NetworkingConfig"));
    EXPECT_FALSE(h.contains("Sysctls"));
    EXPECT_EQ(network_name(c), "");
    EXPECT_TRUE(agent_arguments(c).empty());
}

TEST(HardeningDockerCreate, InternalModeJoinsTheNetworkAndStartsTheAgentOnTcp) {
    const BackendConfig c = config_for({{"network", "internal"}, {"subnet", "10.213.7.0/24"}});
    const json r = build_create_request(c, spec(), "/d");
    const json& h = r["HostConfig"];
    EXPECT_EQ(network_name(c), "ci-t1");
    EXPECT_EQ(network_gateway(c), "10.213.7.1");
    EXPECT_EQ(h["NetworkMode"], "ci-t1");
    EXPECT_EQ(r["NetworkDisabled"], false);
    EXPECT_EQ(r["NetworkingConfig"], (json{{"EndpointsConfig", {{"ci-t1", json::object()}}}}));
    EXPECT_EQ(h["CapAdd"], json::array({"SETUID", "SETGID", "SETPCAP", "NET_ADMIN"}));
    EXPECT_EQ(r["Cmd"], json::array({"--listen", "tcp://0.0.0.0:5555", "--allow-from", "10.213.7.1", "--egress",
                                     "none"}));
    EXPECT_EQ(h["Sysctls"], (json{{"net.ipv6.conf.all.disable_ipv6", "1"},
                                  {"net.ipv6.conf.default.disable_ipv6", "1"}}));
    // The same lock-down as in mode none otherwise.
    EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true", "seccomp=" + std::string(ci::docker::kSeccompProfile)}));
    EXPECT_EQ(h["ReadonlyRootfs"], true);
    EXPECT_EQ(h["Privileged"], false);
    EXPECT_FALSE(r.contains("Entrypoint"));
    EXPECT_FALSE(r.contains("ExposedPorts"));  // nothing is published on the host
    EXPECT_FALSE(h.contains("PortBindings"));
}

TEST(HardeningDockerCreate, InternetModeUsesItsOwnNetworkAndEgressFlag) {
    const BackendConfig c = config_for({{"enable_internet", true}});
    const json r = build_create_request(c, spec(), "/d");
    EXPECT_EQ(network_name(c), "ci-t1-net");
    EXPECT_EQ(r["HostConfig"]["NetworkMode"], "ci-t1-net");
    EXPECT_EQ(r["Cmd"], json::array({"--listen", "tcp://0.0.0.0:5555", "--allow-from", "10.213.0.1", "--egress",
                                     "internet"}));
}

TEST(HardeningDockerCreate, NoModeTurnsSeccompOrAppArmorOff) {
    // Every mode: no-new-privileges and the backend's own seccomp profile, never "unconfined".
    for (const json& table : {json::object(), json{{"network", "internal"}}, json{{"enable_internet", true}}}) {
        const json h = build_create_request(config_for(table), spec(), "/d")["HostConfig"];
        EXPECT_EQ(h["SecurityOpt"], json::array({"no-new-privileges:true",
                                                 "seccomp=" + std::string(ci::docker::kSeccompProfile)}));
        for (const auto& option : h["SecurityOpt"])
            EXPECT_THAT(option.get<std::string>(), ::testing::Not(HasSubstr("unconfined")));
    }
}

TEST(HardeningDockerNetwork, CreateRequestPerMode) {
    const BackendConfig internal = config_for({{"network", "internal"}, {"subnet", "10.213.7.0/24"}});
    EXPECT_EQ(build_network_create_request(internal), json::parse(R"({
        "Name": "ci-t1", "CheckDuplicate": true, "Driver": "bridge", "Internal": true,
        "Attachable": false, "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.213.7.0/24", "Gateway": "10.213.7.1"}]},
        "Options": {"com.docker.network.bridge.enable_icc": "false"},
        "Labels": {"code-interpreter.managed": "true", "code-interpreter.instance": "t1"}})"));
    const json internet = build_network_create_request(config_for({{"enable_internet", true}}));
    EXPECT_EQ(internet["Name"], "ci-t1-net");
    EXPECT_EQ(internet["Internal"], false);
}

TEST(HardeningDockerNetwork, MismatchNamesWhatDiffers) {
    const BackendConfig c = config_for({{"network", "internal"}, {"subnet", "10.213.7.0/24"}});
    json inspected = json::parse(R"({
        "Name": "ci-t1", "Id": "abc", "Driver": "bridge", "Internal": true,
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.213.7.0/24", "Gateway": "10.213.7.1"}]},
        "Labels": {"code-interpreter.managed": "true", "code-interpreter.instance": "t1"},
        "Containers": {}})");
    EXPECT_EQ(network_mismatch(c, inspected), "");
    EXPECT_EQ(attached_containers(inspected), 0u);
    inspected["Containers"]["deadbeef"] = json::object();
    EXPECT_EQ(attached_containers(inspected), 1u);

    json other_subnet = inspected;
    other_subnet["IPAM"]["Config"][0]["Subnet"] = "10.213.8.0/24";
    EXPECT_THAT(network_mismatch(c, other_subnet), HasSubstr("subnet 10.213.8.0/24"));
    json routed = inspected;
    routed["Internal"] = false;
    EXPECT_THAT(network_mismatch(c, routed), HasSubstr("not internal"));
    json foreign = inspected;
    foreign["Labels"] = json::object();
    EXPECT_THAT(network_mismatch(c, foreign), HasSubstr("not labelled"));
    EXPECT_THAT(network_mismatch(config_for({{"enable_internet", true}, {"subnet", "10.213.7.0/24"}}), inspected),
                HasSubstr("it is internal"));
}

TEST(HardeningDockerNetwork, AgentEndpointComesFromTheContainersAddress) {
    const BackendConfig c = config_for({{"network", "internal"}});
    const json container = json::parse(R"({"NetworkSettings": {"Networks": {
        "bridge": {"IPAddress": "172.17.0.5"}, "ci-t1": {"IPAddress": "10.213.0.9"}}}})");
    EXPECT_EQ(container_ip(c, container), "10.213.0.9");
    EXPECT_EQ(tcp_agent_endpoint("10.213.0.9"), "tcp://10.213.0.9:5555");
    EXPECT_EQ(container_ip(c, json::parse(R"({"NetworkSettings": {"Networks": {"ci-t1": {"IPAddress": ""}}}})")), "");
    EXPECT_EQ(container_ip(config_for(json::object()), container), "");  // mode none: no network

    // list_workers reads the same field from GET /containers/json.
    const std::string list = R"([
        {"Id": "c1", "Labels": {"code-interpreter.managed": "true", "code-interpreter.instance": "t1",
                                "code-interpreter.worker-id": "0123456789ab"},
         "NetworkSettings": {"Networks": {"ci-t1": {"IPAddress": "10.213.0.9"}}}},
        {"Id": "c2", "Labels": {"code-interpreter.managed": "true", "code-interpreter.instance": "t1",
                                "code-interpreter.worker-id": "0123456789ac"},
         "NetworkSettings": {"Networks": {}}}])";
    const auto handles = parse_container_list(c, list);
    ASSERT_TRUE(handles.ok()) << handles.error();
    ASSERT_EQ(handles.value().size(), 2u);
    EXPECT_EQ(handles.value()[0].agent_endpoint, "tcp://10.213.0.9:5555");
    EXPECT_EQ(handles.value()[1].agent_endpoint, "");  // stopped: no address, only ever destroyed
}

TEST(HardeningDockerNetwork, ListPathFiltersOnThisInstancesLabels) {
    const std::string path = list_networks_path(config_for(json::object()));
    EXPECT_EQ(path.rfind("/networks?filters=", 0), 0u);
    EXPECT_THAT(path, HasSubstr("code-interpreter.instance%3Dt1"));
    EXPECT_THAT(path, HasSubstr("code-interpreter.managed%3Dtrue"));
}

}  // namespace
}  // namespace ci::docker
