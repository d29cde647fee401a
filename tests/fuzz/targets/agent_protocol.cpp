// The gateway <-> agent message format: decode_message on what a ZeroMQ socket delivers; what the
// agent does with a verified request (decode_request); and what the gateway does with a verified
// reply (SessionManager::on_reply: body.at("result") as an ExecutionResult, then seed_response
// for the HTTP answer).
//
// Input: first byte even: the rest is one body, framed and signed with the right key, which gets
// past the HMAC into the JSON parser and from_json. Odd: the rest is raw frames separated by a
// line "--", for the frame count, version and signature checks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "code_interpreter/crypto/crypto.hpp"
#include "code_interpreter/protocol/agent_protocol.hpp"
#include "code_interpreter/protocol/requests.hpp"
#include "fuzz_util.hpp"
#include "result_format.hpp"

using nlohmann::json;
namespace crypto = ci::crypto;
namespace protocol = ci::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool sign = data[0] % 2 == 0;
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);

    std::vector<std::string> frames;
    if (sign) {
        frames = {std::string(protocol::kWireVersion),
                  crypto::hmac_sha256_hex(ci::fuzz::kKey, {protocol::kWireVersion, rest}), rest};
    } else {
        frames = ci::fuzz::split(rest, ci::fuzz::kFrameSeparator);
    }
    auto decoded = protocol::decode_message(ci::fuzz::kKey, frames);
    ci::fuzz::check(decoded.body.has_value() != !decoded.error.empty(), "either a body or an error");
    if (!decoded.body) return 0;
    const json& body = *decoded.body;

    // What one end encodes, the other decodes to the same body.
    auto again = protocol::decode_message(ci::fuzz::kKey, protocol::encode_message(ci::fuzz::kKey, body));
    ci::fuzz::check(again.body && *again.body == body, "encode_message then decode_message is the identity");
    ci::fuzz::check(!protocol::decode_message("another key", frames).body, "another key does not verify");

    // AgentHub::receive: the request id.
    if (auto id = body.find("id"); id != body.end() && id->is_number_unsigned()) (void)id->get<std::uint64_t>();

    // Agent::handle_request: a request decodes strictly or is refused; what decodes, encodes to a
    // body that decodes to the same request again.
    auto request = protocol::decode_request(body);
    if (auto* decoded_request = std::get_if<protocol::Request>(&request)) {
        const json encoded = protocol::encode_request(*decoded_request);
        auto round = protocol::decode_request(encoded);
        ci::fuzz::check(std::holds_alternative<protocol::Request>(round) &&
                            protocol::encode_request(std::get<protocol::Request>(round)) == encoded,
                        "decode_request(encode_request(r)) is r");
    }

    // SessionManager::on_reply catches what from_json throws on a malformed result.
    protocol::ExecutionResult result;
    try {
        result = body.at("result").get<protocol::ExecutionResult>();
    } catch (const std::exception&) {
        return 0;
    }
    // A result the gateway accepted survives its own to_json/from_json unchanged.
    json once = result;
    json twice;
    try {
        twice = once.get<protocol::ExecutionResult>();
    } catch (const std::exception&) {
        ci::fuzz::check(false, "from_json accepts what to_json wrote");
    }
    ci::fuzz::check(once == twice, "to_json(from_json(to_json(r))) == to_json(r)");

    json response = ci::seed_response(result);
    ci::fuzz::check(!json::parse(ci::fuzz::dump(response), nullptr, false).is_discarded(),
                    "the HTTP response body is JSON");
    return 0;
}
