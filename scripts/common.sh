# Sourced by start.sh and stop.sh (with $root set to the repository): where they keep their files
# and how they read the gateway's configuration file.
# shellcheck shell=bash disable=SC2034

# start.sh's own files (pid, log, remembered settings, the config in use) live here. CI_VAR_DIR
# moves them, so a second gateway (the tests' own) never touches a developer's var/.
var_dir=$(realpath -m "${CI_VAR_DIR:-$root/var}")

# toml_get FILE TABLE KEY: prints KEY's value in [TABLE] ("" for the top level) without its quotes;
# fails when the key is absent. Enough for config.toml's one-line `key = value  # comment` entries.
toml_get() {
  awk -v want="$2" -v key="$3" '
    /^[[:space:]]*\[/ { table = $0; sub(/^[[:space:]]*\[/, "", table); sub(/\].*/, "", table)
                        gsub(/[[:space:]]/, "", table); next }
    table == want && match($0, "^[[:space:]]*" key "[[:space:]]*=") {
      value = substr($0, RLENGTH + 1)
      if (value ~ /^[[:space:]]*"/) { sub(/^[[:space:]]*"/, "", value); sub(/".*/, "", value) }
      else { sub(/#.*/, "", value); gsub(/[[:space:]]/, "", value) }
      print value; found = 1; exit
    }
    END { exit !found }' "$1"
}

# config_path FILE TABLE KEY DEFAULT: a path setting, relative ones taken from FILE's directory as
# the gateway does.
config_path() {
  local path
  path=$(toml_get "$1" "$2" "$3") || path=$4
  case $path in
    /*|"") ;;
    *) path=$(dirname "$1")/$path ;;
  esac
  printf '%s\n' "$path"
}
