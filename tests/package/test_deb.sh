#!/usr/bin/env bash
# The Debian package, as a user of this machine gets it: `cpack -G DEB` from
# a packager's Release build (default options, no -Werror, prefix /usr and
# Debian's multiarch libdir), then for real, as root:
#
#   - the .deb is volley_VERSION_amd64.deb; its Depends (dpkg-shlibdeps)
#     name every runtime library volley and its plugins link;
#   - `apt-get install ./volley_*.deb` (apt resolves and checks Depends);
#     `dpkg -L volley` has the binary, the eight plugins, the SDK headers, the
#     .pc files, the test host library and the documentation;
#   - /usr/bin/volley lists its eight plugins from
#     /usr/lib/x86_64-linux-gnu/volley/plugins, none broken;
#   - the installed SDK: `pkg-config --cflags --libs volley-plugin`, and the
#     packaged example plugin (share/doc/volley/examples/plugins/csv-out)
#     built against it with its unit test on the installed test host, then
#     loaded by the installed volley;
#   - the packaged smoke spec against a loopback nginx (tests/nginx): exit
#     0, the --summary-export with requests, passed checks and thresholds;
#   - `apt-get purge volley` leaves no /usr/bin/volley and no plugin dir.
#
# The package is removed whatever happens (trap on exit, SIGINT, SIGTERM).
# It refuses to run over a /usr/bin/volley that no volley package owns; a
# volley package already installed (say, left by a run that was killed) is
# replaced and removed like its own.
#
#   tests/package/test_deb.sh [BUILD_DIR]
# BUILD_DIR: a packager build to package (tools/test passes the one
# tests/install/test_install.py --packager-build made); without it, a
# fresh Release build is made in a temporary directory. Every step is
# bounded by `timeout`; about 15 s with BUILD_DIR, 30 s without, here.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
PLUGINDIR="/usr/lib/$MULTIARCH/volley/plugins"
PLUGINS=(http ws checks-basic checks-json checks-html json-out analytics-sink junit prometheus-rw)

say() { echo "-- deb: $*"; }
die() { echo "tests/package/test_deb.sh: $*" >&2; exit 1; }

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps is missing (dpkg-dev; tools/setup installs it)"
command -v apt-get >/dev/null || die "apt-get is missing: this test needs a Debian system"

installed() { dpkg-query -W -f='${Status}' volley 2>/dev/null | grep -q "install ok installed"; }
if [ -e /usr/bin/volley ] && ! dpkg -S /usr/bin/volley 2>/dev/null | grep -q '^volley:'; then
    die "/usr/bin/volley exists and no volley package owns it: not installing over it"
fi
if installed; then
    echo "tests/package/test_deb.sh: warning: a volley package is installed already; it is replaced and removed" >&2
fi

WORK="$(mktemp -d /tmp/volley-deb.XXXXXX)"
chmod 755 "$WORK"     # apt's _apt user reads the .deb from here
export DEBIAN_FRONTEND=noninteractive
APT=(timeout 300 $SUDO apt-get -y -q -o DPkg::Lock::Timeout=120)
remove_package() {
    if installed || dpkg-query -W -f='${Status}' volley 2>/dev/null | grep -q "config-files\|half"; then
        "${APT[@]}" purge volley >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; return 1; }
    fi
}
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    remove_package || { echo "tests/package/test_deb.sh: could not remove the volley package" >&2; rc=1; }
    if [ -e /usr/bin/volley ] && dpkg -S /usr/bin/volley >/dev/null 2>&1; then
        echo "tests/package/test_deb.sh: /usr/bin/volley is still installed" >&2; rc=1
    fi
    "$SOURCE/tests/nginx/stop.sh" "$WORK/nginx" >/dev/null 2>&1
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the build and the package -------------------------------------------
T0=$SECONDS
if [ $# -ge 1 ]; then
    BUILD="$(cd "$1" && pwd)"
    say "packaging the packager build in $BUILD"
else
    BUILD="$WORK/build"
    say "a packager's Release build in $BUILD"
    timeout 300 cmake -S "$SOURCE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DVOLLEY_TESTS=OFF >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log" >&2; die "configure failed"; }
    timeout 900 cmake --build "$BUILD" -j"$(nproc)" >"$WORK/build.log" 2>&1 \
        || { tail -50 "$WORK/build.log" >&2; die "build failed"; }
    if grep -q "warning:" "$WORK/build.log"; then grep -B2 -A5 "warning:" "$WORK/build.log" >&2; die "the default build warns"; fi
fi
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
[ "$(cache CMAKE_BUILD_TYPE)" = Release ] || die "$BUILD is not a Release build"
[ "$(cache CMAKE_INSTALL_PREFIX)" = /usr ] || die "$BUILD is not configured with -DCMAKE_INSTALL_PREFIX=/usr"
[ "$(cache VOLLEY_WERROR)" != ON ] || die "$BUILD has VOLLEY_WERROR=ON (a packager's build has the default options)"
VERSION="$(cache CMAKE_PROJECT_VERSION)"
ARCH="$(dpkg --print-architecture)"
DEB="volley_${VERSION}_${ARCH}.deb"

rm -f "$BUILD"/volley_*.deb
(cd "$BUILD" && timeout 300 cpack -G DEB) >"$WORK/cpack.log" 2>&1 || { cat "$WORK/cpack.log" >&2; die "cpack failed"; }
if grep -qi "warning" "$WORK/cpack.log"; then cat "$WORK/cpack.log" >&2; die "cpack warned"; fi
[ -f "$BUILD/$DEB" ] || { ls "$BUILD" >&2; die "cpack made no $DEB"; }
cp "$BUILD/$DEB" "$WORK/"; chmod 644 "$WORK/$DEB"
say "$DEB ($(du -k "$WORK/$DEB" | cut -f1) KiB) in $((SECONDS - T0)) s"

DEPENDS="$(dpkg-deb -f "$WORK/$DEB" Depends)"
echo "   Depends: $DEPENDS"
for lib in libc6 libcurl4 libuv1 libyaml-0-2 libjansson4 libwebsockets17 libssl3 libxml2 libsnappy1v5 libprotobuf-c1; do
    grep -qE "(^|, )$lib( |,|$)" <<<"$DEPENDS" || die "Depends has no $lib: $DEPENDS"
done
[ "$(dpkg-deb -f "$WORK/$DEB" Package)" = volley ] || die "the package is not named volley"
[ "$(dpkg-deb -f "$WORK/$DEB" Version)" = "$VERSION" ] || die "the package's version is not $VERSION"
[ "$(dpkg-deb -f "$WORK/$DEB" Architecture)" = "$ARCH" ] || die "the package's architecture is not $ARCH"
# Every file root's, nothing outside /usr, no build or source path inside.
if dpkg-deb -c "$WORK/$DEB" | awk '{print $2}' | grep -v '^root/root$' >/dev/null; then
    dpkg-deb -c "$WORK/$DEB" >&2; die "files not owned by root/root"
fi
if dpkg-deb -c "$WORK/$DEB" | awk '{print $6}' | grep -v '^\./usr/' | grep -v '^\./$' >/dev/null; then
    dpkg-deb -c "$WORK/$DEB" >&2; die "files outside /usr"
fi

# --- install ----------------------------------------------------------------
say "apt-get install ./$DEB"
(cd "$WORK" && "${APT[@]}" install "./$DEB") >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log" >&2; die "apt-get install failed"; }
installed || die "dpkg does not list volley as installed"
dpkg -L volley >"$WORK/files.txt"
for f in /usr/bin/volley /usr/include/volley/plugin.h /usr/include/volley/testhost.h \
         "/usr/lib/$MULTIARCH/pkgconfig/volley-plugin.pc" "/usr/lib/$MULTIARCH/pkgconfig/volley-testhost.pc" \
         "/usr/lib/$MULTIARCH/libvolley-testhost.so.0" "/usr/lib/$MULTIARCH/libvolley-testhost.so" \
         /usr/share/doc/volley/README.md /usr/share/doc/volley/docs/spec-reference.md \
         /usr/share/doc/volley/docs/plugin-guide.md /usr/share/doc/volley/docs/architecture.md \
         /usr/share/doc/volley/docs/packaging.md /usr/share/doc/volley/specs/examples/smoke.yaml \
         /usr/share/doc/volley/examples/plugins/csv-out/csv_out.c; do
    grep -qx "$f" "$WORK/files.txt" || die "dpkg -L volley has no $f"
    [ -e "$f" ] || die "$f is listed but not there"
done
for p in "${PLUGINS[@]}"; do
    grep -qx "$PLUGINDIR/volley-$p.so" "$WORK/files.txt" || die "dpkg -L volley has no $PLUGINDIR/volley-$p.so"
done
[ "$(grep -c '\.so$' <(grep "^$PLUGINDIR/" "$WORK/files.txt"))" = "${#PLUGINS[@]}" ] \
    || die "the plugin dir does not hold exactly the ${#PLUGINS[@]} plugins"
echo "   $(wc -l <"$WORK/files.txt") paths; volley $(/usr/bin/volley version | cut -d' ' -f2)"

# --- the installed volley and its plugins -----------------------------------
say "/usr/bin/volley plugins"
env -u VOLLEY_PLUGIN_PATH timeout 30 /usr/bin/volley plugins -v >"$WORK/plugins.txt" 2>&1 \
    || { cat "$WORK/plugins.txt" >&2; die "volley plugins failed"; }
for p in "${PLUGINS[@]}"; do
    grep -qE "^$p\s+\S+\s+\S+\s+1\.[0-9]+\s+$PLUGINDIR/volley-$p\.so$" "$WORK/plugins.txt" \
        || { cat "$WORK/plugins.txt" >&2; die "plugin $p is not listed from $PLUGINDIR"; }
done
grep -q "BROKEN" "$WORK/plugins.txt" && { cat "$WORK/plugins.txt" >&2; die "a broken plugin"; }
grep -qE "^\s+$PLUGINDIR\s+\(installed, relative to the executable; ${#PLUGINS[@]} plugin files\)$" "$WORK/plugins.txt" \
    || { cat "$WORK/plugins.txt" >&2; die "volley does not say it found its plugins next to itself"; }

# --- the installed SDK --------------------------------------------------------
say "pkg-config and the packaged example plugin against the installed SDK"
PC="$(env -u PKG_CONFIG_PATH pkg-config --cflags --libs volley-plugin)" || die "pkg-config volley-plugin failed"
echo "   pkg-config --cflags --libs volley-plugin: $PC"
inc="$(tr ' ' '\n' <<<"$PC" | sed -n 's/^-I//p' | head -1)"
[ -z "$inc" ] || [ "$(realpath "$inc")" = /usr/include ] || die "volley-plugin's include dir is $inc, not /usr/include"
grep -q -- "-fvisibility=hidden" <<<"$PC" || die "volley-plugin's cflags lack -fvisibility=hidden"
[ "$(realpath "$(env -u PKG_CONFIG_PATH pkg-config --variable=plugindir volley-plugin)")" = "$PLUGINDIR" ] \
    || die "volley-plugin's plugindir is not $PLUGINDIR"
cp -r /usr/share/doc/volley/examples/plugins/csv-out "$WORK/csv-out"
( cd "$WORK/csv-out" &&
  env -u PKG_CONFIG_PATH timeout 120 cmake -S . -B build -DCMAKE_C_FLAGS=-Werror &&
  timeout 300 cmake --build build &&
  cd build && timeout 120 ctest --output-on-failure ) >"$WORK/csv-out.log" 2>&1 \
    || { cat "$WORK/csv-out.log" >&2; die "the example plugin did not build or pass its test against the installed SDK"; }
grep -q "100% tests passed" "$WORK/csv-out.log" || { cat "$WORK/csv-out.log" >&2; die "csv-out's test did not run"; }
timeout 30 /usr/bin/volley plugins --plugin-path "$WORK/csv-out/build" >"$WORK/plugins2.txt" 2>&1 || true
grep -qE "^csv-out\s+output\s" "$WORK/plugins2.txt" || { cat "$WORK/plugins2.txt" >&2; die "volley does not load csv-out"; }

# --- a smoke run -------------------------------------------------------------
say "the packaged smoke spec against a loopback nginx"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$SOURCE/tests/nginx/start.sh" "$PORT" "$WORK/nginx" >/dev/null
rc=0
(cd "$WORK" && timeout 60 /usr/bin/volley run -q --duration 2s -e "TARGET_URL=http://127.0.0.1:$PORT" \
    --summary-export "$WORK/summary.json" --out "json-out=$WORK/points.ndjson" \
    /usr/share/doc/volley/specs/examples/smoke.yaml) >"$WORK/smoke.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/smoke.txt" >&2; die "the smoke run exited $rc"; }
python3 - "$WORK/summary.json" "$WORK/points.ndjson" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
n = m["http_reqs"]["count"]
points = sum(1 for l in open(sys.argv[2]) if '"metric":"http_reqs"' in l and '"Point"' in l)
failed = [(k, t) for k, v in m.items() for t, f in v.get("thresholds", {}).items() if f]
bad = []
if n < 20: bad.append("only %d requests" % n)
if m["checks"]["fails"] or not m["checks"]["passes"]: bad.append("checks: %r" % m["checks"])
if m["http_req_failed"]["passes"]: bad.append("failed requests: %r" % m["http_req_failed"])
if failed: bad.append("thresholds failed: %r" % failed)
if points != n: bad.append("json-out has %d http_reqs points, the summary %d" % (points, n))
if bad: sys.exit("tests/package/test_deb.sh: smoke summary: " + "; ".join(bad))
print("   exit 0, %d requests, %d checks passed, no threshold failed" % (n, m["checks"]["passes"]))
EOF

# --- removal -----------------------------------------------------------------
say "apt-get purge volley"
remove_package || die "apt-get purge volley failed"
installed && die "volley is still installed after apt-get purge"
[ ! -e /usr/bin/volley ] || die "/usr/bin/volley is still there"
[ ! -e "$PLUGINDIR" ] || die "$PLUGINDIR is still there"
[ ! -e /usr/include/volley ] || die "/usr/include/volley is still there"
[ ! -e /usr/share/doc/volley ] || die "/usr/share/doc/volley is still there"
say "passed in $((SECONDS - T0)) s"
