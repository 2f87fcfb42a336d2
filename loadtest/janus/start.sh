#!/usr/bin/env bash
# Start and stop Janus (Debian's `janus` package, 1.1.x) for the side-by-side benchmark.
#
#   loadtest/janus/start.sh start   # prints JANUS_PID=..., JANUS_WS=..., JANUS_RUN_DIR=...
#   loadtest/janus/start.sh stop
#   loadtest/janus/start.sh status
#
# Janus leaves loopback interfaces out of ICE gathering, so its media address is a loopback
# address (JANUS_MEDIA_IP, 127.0.0.88/32) on one end of a veth pair, pjanus0, and `-E pjanus0`
# makes that the only interface it gathers on. libnice then pins its sockets to pjanus0
# (IP_UNICAST_IF): a reply to 127.0.0.1 fails with EINVAL, since a loopback source may not
# leave through a non-loopback device. So the participants talk to Janus from the other end,
# pjanus1 (JANUS_CLIENT_IP, 127.0.0.89/32), with their sockets bound to that device
# (SO_BINDTODEVICE; `loadtest --janus-client-iface`), and every media packet really crosses the
# veth. Both ends stay in this network namespace; each gets route_localnet and accept_local
# (loopback addresses on a non-loopback link), a /32 route to the other end and a permanent
# neighbour entry (the kernel answers no ARP for loopback addresses). Other sockets are
# unaffected: only a socket bound to one of the two devices skips the local routing table.
#
# The WebSocket (8188) and HTTP (8088) APIs listen on 127.0.0.1 only; only the videoroom plugin
# and those two transports are loaded. The configuration is generated into the run directory
# on every start.
#
# Bounded: Janus runs under `timeout` (JANUS_MAX_SECONDS, default 900), so it ends by itself
# even if nobody calls `stop`; `stop` ends it (TERM, then KILL after 5 s) and removes the veth
# (and with it its routes and neighbours). Needs root (ip link, sysctl).
set -euo pipefail

RUN_DIR=${JANUS_RUN_DIR:-/tmp/ponte-janus}
MEDIA_IP=${JANUS_MEDIA_IP:-127.0.0.88}
CLIENT_IP=${JANUS_CLIENT_IP:-127.0.0.89}
IFACE=${JANUS_IFACE:-pjanus0}
PEER=${JANUS_CLIENT_IFACE:-pjanus1}
WS_PORT=${JANUS_WS_PORT:-8188}
HTTP_PORT=${JANUS_HTTP_PORT:-8088}
MAX_SECONDS=${JANUS_MAX_SECONDS:-900}
DEBUG_LEVEL=${JANUS_DEBUG_LEVEL:-4}
JANUS=${JANUS_BIN:-janus}
# More flags for Janus, e.g. "-l" for libnice's debug log.
EXTRA_ARGS=${JANUS_EXTRA_ARGS:-}

die() { echo "janus/start.sh: $*" >&2; exit 1; }

# Where Debian put the plugins: the directory of the videoroom plugin.
lib_dir() {
    local so
    so=$(ls /usr/lib/*/janus/plugins/libjanus_videoroom.so /usr/lib/janus/plugins/libjanus_videoroom.so 2>/dev/null | head -n1) \
        || true
    [ -n "$so" ] || die "libjanus_videoroom.so not found (apt-get install janus)"
    dirname "$(dirname "$so")"
}

setup_net() {
    if ! ip link show "$IFACE" >/dev/null 2>&1; then
        ip link add "$IFACE" type veth peer name "$PEER"
    fi
    ip addr replace "$MEDIA_IP/32" dev "$IFACE"
    ip addr replace "$CLIENT_IP/32" dev "$PEER"
    local dev
    for dev in "$IFACE" "$PEER"; do
        sysctl -qw "net.ipv4.conf.$dev.route_localnet=1" "net.ipv4.conf.$dev.accept_local=1" "net.ipv4.conf.$dev.rp_filter=0"
        ip link set "$dev" up
    done
    ip route replace "$CLIENT_IP/32" dev "$IFACE"
    ip route replace "$MEDIA_IP/32" dev "$PEER"
    ip neigh replace "$CLIENT_IP" lladdr "$(cat "/sys/class/net/$PEER/address")" dev "$IFACE" nud permanent
    ip neigh replace "$MEDIA_IP" lladdr "$(cat "/sys/class/net/$IFACE/address")" dev "$PEER" nud permanent
}

teardown_net() {
    ip link del "$IFACE" 2>/dev/null || true
}

write_config() {
    local lib conf=$RUN_DIR/conf
    lib=$(lib_dir)
    mkdir -p "$conf" "$RUN_DIR/plugins" "$RUN_DIR/transports"
    # Load only what the benchmark uses.
    ln -sf "$lib/plugins/libjanus_videoroom.so" "$RUN_DIR/plugins/"
    ln -sf "$lib/transports/libjanus_websockets.so" "$lib/transports/libjanus_http.so" "$RUN_DIR/transports/"
    cat >"$conf/janus.jcfg" <<EOF
general: {
	configs_folder = "$conf"
	plugins_folder = "$RUN_DIR/plugins"
	transports_folder = "$RUN_DIR/transports"
	events_folder = "$RUN_DIR/none"
	loggers_folder = "$RUN_DIR/none"
	debug_level = $DEBUG_LEVEL
	server_name = "ponte-bench-janus"
	session_timeout = 60
}
certificates: {
}
media: {
}
nat: {
	nice_debug = false
	ice_enforce_list = "$IFACE"
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
}
EOF
    cat >"$conf/janus.transport.websockets.jcfg" <<EOF
general: {
	json = "plain"
	ws = true
	ws_port = $WS_PORT
	ws_ip = "127.0.0.1"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
EOF
    cat >"$conf/janus.transport.http.jcfg" <<EOF
general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = $HTTP_PORT
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
EOF
    # No static rooms: the benchmark creates its own.
    cat >"$conf/janus.plugin.videoroom.jcfg" <<EOF
general: {
}
EOF
}

pid_alive() { [ -f "$RUN_DIR/janus.pid" ] && kill -0 "$(cat "$RUN_DIR/janus.pid")" 2>/dev/null; }

ws_ready() { (exec 3<>"/dev/tcp/127.0.0.1/$WS_PORT") 2>/dev/null; }

start() {
    command -v "$JANUS" >/dev/null || die "janus is not installed (apt-get install janus)"
    [ "$(id -u)" = 0 ] || die "needs root for the veth"
    if pid_alive; then die "already running (pid $(cat "$RUN_DIR/janus.pid")); run stop first"; fi
    ws_ready && die "port $WS_PORT on 127.0.0.1 is taken"
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR"
    setup_net
    write_config
    # `timeout` is the bound; Janus writes its own pid so that stop and the benchmark's CPU
    # sampling see Janus itself, not the wrapper.
    timeout -k 5 "$MAX_SECONDS" "$JANUS" -F "$RUN_DIR/conf" -C "$RUN_DIR/conf/janus.jcfg" \
        -p "$RUN_DIR/janus.pid" -i "$MEDIA_IP" -E "$IFACE" -d "$DEBUG_LEVEL" -o $EXTRA_ARGS \
        </dev/null >"$RUN_DIR/janus.log" 2>&1 &
    local wrapper=$! i
    for i in $(seq 1 100); do
        if ws_ready && [ -s "$RUN_DIR/janus.pid" ]; then
            echo "JANUS_PID=$(cat "$RUN_DIR/janus.pid")"
            echo "JANUS_WS=ws://127.0.0.1:$WS_PORT"
            echo "JANUS_MEDIA_IP=$MEDIA_IP"
            echo "JANUS_CLIENT_IP=$CLIENT_IP"
            echo "JANUS_CLIENT_IFACE=$PEER"
            echo "JANUS_RUN_DIR=$RUN_DIR"
            return 0
        fi
        kill -0 "$wrapper" 2>/dev/null || break
        sleep 0.1
    done
    echo "janus/start.sh: Janus did not come up; last log lines:" >&2
    tail -n 20 "$RUN_DIR/janus.log" >&2 || true
    stop
    exit 1
}

stop() {
    if [ -f "$RUN_DIR/janus.pid" ]; then
        local pid i
        pid=$(cat "$RUN_DIR/janus.pid")
        if kill -0 "$pid" 2>/dev/null && grep -q janus "/proc/$pid/comm" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$RUN_DIR/janus.pid"
    fi
    teardown_net
}

status() {
    if pid_alive; then
        echo "running: pid $(cat "$RUN_DIR/janus.pid"), ws://127.0.0.1:$WS_PORT, media $MEDIA_IP on $IFACE, clients $CLIENT_IP on $PEER"
    else
        echo "not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
