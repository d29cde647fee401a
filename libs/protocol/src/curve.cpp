#include "code_interpreter/protocol/curve.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <zmq.h>

#include "code_interpreter/crypto/crypto.hpp"

namespace ci::protocol {
namespace {

constexpr const char* kServerKeyLabel = "code-interpreter agent curve server key v1";

std::uint8_t hex_value(char c) {
    return static_cast<std::uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10);
}

std::string z85(const std::array<std::uint8_t, 32>& bytes) {
    char text[41];
    if (!zmq_z85_encode(text, bytes.data(), bytes.size())) throw std::runtime_error("zmq_z85_encode failed");
    return std::string(text, 40);
}

}  // namespace

CurveKeyPair curve_server_keys(std::string_view agent_key) {
    const std::string hex = crypto::hmac_sha256_hex(agent_key, {kServerKeyLabel});
    std::array<std::uint8_t, 32> secret{};
    for (std::size_t i = 0; i < secret.size(); ++i)
        secret[i] = static_cast<std::uint8_t>(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    CurveKeyPair keys{std::string(40, '\0'), z85(secret)};
    char public_key[41];
    if (zmq_curve_public(public_key, keys.secret_key.c_str()) != 0)
        throw std::runtime_error("this libzmq has no CURVE support (built without libsodium)");
    keys.public_key.assign(public_key, 40);
    return keys;
}

CurveKeyPair curve_client_keys() {
    char public_key[41], secret_key[41];
    if (zmq_curve_keypair(public_key, secret_key) != 0)
        throw std::runtime_error("this libzmq has no CURVE support (built without libsodium)");
    return {std::string(public_key, 40), std::string(secret_key, 40)};
}

bool encrypted_endpoint(std::string_view endpoint) { return endpoint.starts_with("tcp://"); }

}  // namespace ci::protocol
