#include "code_interpreter/agent/readiness.hpp"

namespace ci::agent {

bool KernelReadiness::ours(const JupyterMessage& message) const {
    return requests_.contains(message.parent_msg_id());
}

void KernelReadiness::on_shell(const JupyterMessage& message) {
    if (message.msg_type() == "kernel_info_reply" && ours(message)) replied_ = true;
}

void KernelReadiness::on_iopub(const JupyterMessage& message) {
    if (ours(message)) iopub_live_ = true;
}

}  // namespace ci::agent
