#!/usr/bin/env bash
# Time from launching the app to its main window being mapped on an X display.
#
#   packaging/measure_cold_start.sh COMMAND [ARGS...]
#   e.g. packaging/measure_cold_start.sh /tmp/medsam-gui-build/unpacked/medsam-gui/medsam-gui
#
# Runs under its own Xvfb (xvfb-run; Debian: apt-get install -y xvfb x11-utils), polls
# `xwininfo -root -tree` every 20 ms for a window whose title contains "medsam-gui",
# prints the milliseconds, then ends the app. "Cold" means a new process; the OS file
# cache may still be warm: drop it (echo 3 > /proc/sys/vm/drop_caches) for a first start.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
TIMEOUT_S="${TIMEOUT_S:-120}"
export COLD_START_TIMEOUT_S="$TIMEOUT_S"
exec xvfb-run -n "${DISPLAY_NUMBER:-$((100 + RANDOM % 800))}" bash -c '
    unset QT_QPA_PLATFORM
    started=$(date +%s%N)
    "$@" > /tmp/medsam-gui-cold-start.log 2>&1 &
    app_pid=$!
    deadline=$(( $(date +%s) + COLD_START_TIMEOUT_S ))
    while ! xwininfo -root -tree 2>/dev/null | grep -q "\"[^\"]*medsam-gui[^\"]*\": ("; do
        if ! kill -0 "$app_pid" 2>/dev/null; then
            echo "the app exited before showing a window; its output:" >&2
            cat /tmp/medsam-gui-cold-start.log >&2
            exit 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "no window after ${COLD_START_TIMEOUT_S} s" >&2
            kill "$app_pid"
            exit 1
        fi
        sleep 0.02
    done
    echo "window shown after $(( ($(date +%s%N) - started) / 1000000 )) ms"
    kill "$app_pid"
    wait "$app_pid" 2>/dev/null || true
' cold-start "$@"
