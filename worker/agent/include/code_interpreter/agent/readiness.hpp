#pragma once
// Decides when the kernel is ready: it has answered one of our kernel_info_requests on shell,
// and an iopub message caused by one of them has reached our SUB socket (so the subscription is
// live and no output of the first execution can be lost to ZeroMQ's slow-joiner effect).
#include <set>
#include <string>

#include "code_interpreter/agent/jupyter_message.hpp"

namespace ci::agent {

class KernelReadiness {
public:
    void on_request_sent(std::string msg_id) { requests_.insert(std::move(msg_id)); }
    void on_shell(const JupyterMessage& message);
    void on_iopub(const JupyterMessage& message);
    bool ready() const { return replied_ && iopub_live_; }

private:
    bool ours(const JupyterMessage& message) const;

    std::set<std::string> requests_;
    bool replied_ = false;
    bool iopub_live_ = false;
};

}  // namespace ci::agent
