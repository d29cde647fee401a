// The agent's Jupyter wire parser (parse_wire) on the frames a kernel socket delivers, and the
// round trip through to_wire.
//
// Input: frames separated by a line "--", e.g. [ids..., "<IDS|MSG>", signature, header, parent,
// metadata, content, buffers...]. First byte even: the signature frame is replaced by the right
// one when the frames have that shape, which gets past the HMAC into the JSON parsing; odd: the
// frames go in as they are.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "code_interpreter/agent/jupyter_message.hpp"
#include "fuzz_util.hpp"

using ci::agent::JupyterMessage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool sign = data[0] % 2 == 0;
    std::vector<std::string> frames =
        ci::fuzz::split({reinterpret_cast<const char*>(data) + 1, size - 1}, ci::fuzz::kFrameSeparator);
    if (sign) {
        auto d = static_cast<std::size_t>(std::find(frames.begin(), frames.end(), ci::agent::kDelimiter) - frames.begin());
        if (d < frames.size() && frames.size() - d > 5)
            frames[d + 1] = ci::agent::sign(ci::fuzz::kKey, frames[d + 2], frames[d + 3], frames[d + 4], frames[d + 5]);
    }

    auto parsed = ci::agent::parse_wire(frames, ci::fuzz::kKey);
    ci::fuzz::check(parsed.message.has_value() != !parsed.error.empty(), "either a message or an error");
    if (!parsed.message) return 0;
    const JupyterMessage& m = *parsed.message;
    (void)m.msg_type();
    (void)m.msg_id();
    (void)m.parent_msg_id();
    ci::fuzz::check(!ci::agent::parse_wire(frames, "another key").message, "another key does not verify");

    // What the agent sends, it reads back the same (the kernel's side is jupyter_client's).
    auto again = ci::agent::parse_wire(ci::agent::to_wire(m, ci::fuzz::kKey), ci::fuzz::kKey);
    ci::fuzz::check(again.message.has_value(), "parse_wire accepts what to_wire wrote");
    const JupyterMessage& r = *again.message;
    ci::fuzz::check(r.identities == m.identities && r.buffers == m.buffers && r.header == m.header &&
                        r.parent_header == m.parent_header && r.metadata == m.metadata && r.content == m.content,
                    "to_wire then parse_wire is the identity");
    return 0;
}
