// CurveZMQ between the gateway and an agent on TCP (protocol/curve.hpp): both ends derive the
// agent's keys from the agent key; a peer that does not hold it cannot complete the handshake.
#include <string>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "code_interpreter/protocol/curve.hpp"

namespace ci::protocol {
namespace {

TEST(ProtocolCurve, TheServerKeysFollowFromTheAgentKeyAlone) {
    const CurveKeyPair a = curve_server_keys("agent-key-1");
    EXPECT_EQ(a.public_key.size(), 40u);
    EXPECT_EQ(a.secret_key.size(), 40u);
    EXPECT_EQ(curve_server_keys("agent-key-1").public_key, a.public_key);
    EXPECT_NE(curve_server_keys("agent-key-2").public_key, a.public_key);
    EXPECT_NE(curve_client_keys().secret_key, curve_client_keys().secret_key);
    EXPECT_TRUE(encrypted_endpoint("tcp://10.0.0.2:7000"));
    EXPECT_FALSE(encrypted_endpoint("ipc:///run/ci/agent.sock"));
}

// A ROUTER as the agent binds it, on loopback; returns the bound endpoint.
std::string bind_agent(zmq::socket_t& agent, const std::string& agent_key) {
    agent.set(zmq::sockopt::curve_server, 1);
    agent.set(zmq::sockopt::curve_secretkey, curve_server_keys(agent_key).secret_key);
    agent.set(zmq::sockopt::linger, 0);
    agent.bind("tcp://127.0.0.1:*");
    return agent.get(zmq::sockopt::last_endpoint);
}

void connect_gateway(zmq::socket_t& gateway, const std::string& endpoint, const std::string& agent_key) {
    const CurveKeyPair mine = curve_client_keys();
    gateway.set(zmq::sockopt::curve_serverkey, curve_server_keys(agent_key).public_key);
    gateway.set(zmq::sockopt::curve_publickey, mine.public_key);
    gateway.set(zmq::sockopt::curve_secretkey, mine.secret_key);
    gateway.set(zmq::sockopt::linger, 0);
    gateway.connect(endpoint);
}

TEST(ProtocolCurve, AGatewayWithTheAgentKeyTalksToTheAgent) {
    zmq::context_t context;
    zmq::socket_t agent(context, zmq::socket_type::router), gateway(context, zmq::socket_type::dealer);
    connect_gateway(gateway, bind_agent(agent, "the-key"), "the-key");
    gateway.send(zmq::str_buffer("ping"), zmq::send_flags::none);
    agent.set(zmq::sockopt::rcvtimeo, 5000);
    zmq::message_t routing, body;
    ASSERT_TRUE(agent.recv(routing));
    ASSERT_TRUE(agent.recv(body));
    EXPECT_EQ(body.to_string(), "ping");
}

TEST(ProtocolCurve, APeerWithoutTheAgentKeyReachesNothing) {
    zmq::context_t context;
    zmq::socket_t agent(context, zmq::socket_type::router), stranger(context, zmq::socket_type::dealer),
        plain(context, zmq::socket_type::dealer);
    const std::string endpoint = bind_agent(agent, "the-key");
    connect_gateway(stranger, endpoint, "another-key");  // the wrong server key: no handshake
    stranger.send(zmq::str_buffer("forged"), zmq::send_flags::none);
    plain.set(zmq::sockopt::linger, 0);
    plain.connect(endpoint);  // no CURVE at all
    plain.send(zmq::str_buffer("plain"), zmq::send_flags::none);
    agent.set(zmq::sockopt::rcvtimeo, 500);
    zmq::message_t message;
    EXPECT_FALSE(agent.recv(message));
}

}  // namespace
}  // namespace ci::protocol
