#!/usr/bin/env bash
# Puts Debian's prometheus, promtool and prometheus-node-exporter in DIR/bin
# for the tests: the system's if installed, else Debian's packages unpacked
# into DIR (apt-get download + dpkg-deb -x: nothing is installed system-wide
# and no service is started). Where neither works, one line says so and the
# tests that need them skip.
set -u
dir=${1:?usage: install-prometheus.sh DIR}
mkdir -p "$dir/bin"
have() { [ -x "$dir/bin/prometheus" ] && [ -x "$dir/bin/promtool" ] &&
         [ -x "$dir/bin/prometheus-node-exporter" ]; }
for tool in prometheus promtool prometheus-node-exporter; do
    if [ -x "/usr/bin/$tool" ]; then ln -sf "/usr/bin/$tool" "$dir/bin/$tool"; fi
done
have && exit 0
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "install-prometheus: no apt-get here; the Prometheus tests will skip"
    exit 0
fi
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
fetch() { (cd "$debs" && apt-get download -q prometheus prometheus-node-exporter) >/dev/null 2>&1; }
if ! fetch; then
    # A fresh machine may have no package lists yet.
    if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; fi
    fetch || { echo "install-prometheus: apt-get download prometheus failed; the Prometheus tests will skip"; exit 0; }
fi
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
for tool in prometheus promtool prometheus-node-exporter; do
    [ -x "$dir/bin/$tool" ] || ln -sf "../root/usr/bin/$tool" "$dir/bin/$tool"
done
have || { echo "install-prometheus: the packages held no $dir/bin tools; the Prometheus tests will skip"; exit 0; }
"$dir/bin/prometheus" --version 2>&1 | head -1
