# apt_install NAME PACKAGE...: installs Debian packages (root or sudo), quietly; shared by the
# setup scripts (sourced, not run: scripts/test.mjs runs only scripts/setup/*.sh).
apt_install() {
  local name=$1
  shift
  if ! command -v apt-get >/dev/null; then
    echo "$name: missing $* and apt-get is not available; install Debian's $*" >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  echo "$name: installing $*" >&2
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
