#!/usr/bin/env sh
# Put medsam-gui in the desktop's application menu (per user, no root needed).
# Run from the unpacked folder:  ./install-desktop-entry.sh
set -eu
APP_DIR="$(cd "$(dirname "$0")" && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$DATA_HOME/applications"
sed -e "s|^Exec=medsam-gui|Exec=\"$APP_DIR/medsam-gui\"|" -e "s|^TryExec=medsam-gui|TryExec=$APP_DIR/medsam-gui|" \
    "$APP_DIR/share/applications/medsam-gui.desktop" > "$DATA_HOME/applications/medsam-gui.desktop"
cp -r "$APP_DIR/share/icons" "$DATA_HOME/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA_HOME/applications" || true
echo "medsam-gui added to the application menu ($DATA_HOME/applications/medsam-gui.desktop)"
