#pragma once
// Encryption of the gateway <-> agent traffic over TCP (CurveZMQ), with keys derived from the
// worker's agent key so that nothing more has to reach the worker or cross the plugin SDK: the
// agent is the CURVE server with a secret key derived from the agent key; the gateway, which holds
// the agent key too, derives the server's public key and connects with a key pair of its own.
// CURVE authenticates no client here (any client key pair is accepted): every message is signed
// with the agent key already, and a peer without it gets nothing answered. ipc endpoints (a socket
// file inside one host) are not encrypted.
#include <string>
#include <string_view>

namespace ci::protocol {

struct CurveKeyPair {
    std::string public_key;  // Z85, 40 characters
    std::string secret_key;  // Z85, 40 characters
};

// The agent's server key pair for agent_key (the same on both ends, every time).
CurveKeyPair curve_server_keys(std::string_view agent_key);

// A fresh random key pair, for the gateway's end.
CurveKeyPair curve_client_keys();

// Whether endpoint is one the traffic crosses a network on (tcp://...).
bool encrypted_endpoint(std::string_view endpoint);

}  // namespace ci::protocol
