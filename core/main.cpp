// ci-gateway: loads config.toml and the plugins, then serves the REST API until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>

#include "config.hpp"
#include "gateway.hpp"
#include "log.hpp"
#include "plugin_loader.hpp"

int main(int argc, char** argv) {
    // Block the stop signals in every thread (Pistache's too), then wait for them here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    try {
        ci::CommandLine cli = ci::parse_command_line(argc, argv);
        if (cli.help) {
            std::cout << ci::usage();
            return 0;
        }
        ci::GatewayConfig config = ci::load_config_file(cli.config_path);
        ci::apply_overrides(config, cli);
        ci::validate(config);
        ci::set_log_level(ci::parse_log_level(config.log_level));
        ci::set_log_format(ci::parse_log_format(config.log_format));

        ci::Gateway gateway(config, ci::load_plugins(config));
        gateway.start();
        int signal = 0;
        sigwait(&stop_signals, &signal);
        ci::log_info(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
        gateway.stop();
        return 0;
    } catch (const std::exception& e) {
        ci::log_error(std::string("cannot start: ") + e.what());
        return 1;
    }
}
