# Sourced by the .ci scripts: installs Debian packages (apt-get's options may come
# first) as root or through password-less sudo; returns 1, installing nothing, where
# neither is possible.
apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@"
  else
    return 1
  fi
}

# Installs the Debian packages named, without their recommendations, or ends the
# script saying which are needed.
apt_need() {
  apt_install --no-install-recommends "$@" ||
    { echo "error: Debian's $* is needed: sudo apt-get install $*" >&2; exit 1; }
}
