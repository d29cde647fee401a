#pragma once
// Macros a plugin uses to export its info and factory under the names the loader looks for.
#include <boost/dll/alias.hpp>

#include "code_interpreter/plugin/abi.hpp"

#define CI_PLUGIN_EXPORT_INFO(fn) BOOST_DLL_ALIAS(fn, ci_plugin_info)
#define CI_PLUGIN_EXPORT_ISOLATION(fn) BOOST_DLL_ALIAS(fn, ci_create_isolation_backend)
#define CI_PLUGIN_EXPORT_STORAGE(fn) BOOST_DLL_ALIAS(fn, ci_create_storage_provider)
#define CI_PLUGIN_EXPORT_AUTH(fn) BOOST_DLL_ALIAS(fn, ci_create_auth_provider)
