#!/bin/sh
# Add (or remove) "Desktop Search" in the desktop's application menu, for the current user.
#
#   ./install-desktop-entry.sh              # from inside dist/desktop-search/ (the built bundle)
#   packaging/linux/install-desktop-entry.sh dist/desktop-search
#   ./install-desktop-entry.sh --uninstall
#
# Writes ~/.local/share/applications/desktop-search.desktop (Exec = this bundle's absolute
# path) and the icon into ~/.local/share/icons/hicolor/. Nothing needs root. The file name
# matches QGuiApplication::desktopFileName ("desktop-search") so docks group the window with it.
set -eu

data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/desktop-search.desktop" "$icons/scalable/apps/desktop-search.svg"
    for s in 32 64 256; do rm -f "$icons/${s}x${s}/apps/desktop-search.png"; done
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
    echo "removed the Desktop Search menu entry"
    exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then
    bundle=$(cd "$1" && pwd)
elif [ -x "$here/desktop-search" ]; then
    bundle="$here"
else
    bundle=$(cd "$here/../.." && pwd)/dist/desktop-search
fi
exe="$bundle/desktop-search"
if [ ! -x "$exe" ]; then
    echo "no built app at $exe (build it first: pyinstaller --noconfirm --clean build.spec)" >&2
    exit 1
fi

# the .desktop template and icons: inside the bundle, or in the source tree
for d in "$bundle/_internal/linux" "$here"; do
    [ -f "$d/desktop-search.desktop" ] && template="$d/desktop-search.desktop" && break
done
for d in "$bundle/_internal/resources/icons" "$here/../../resources/icons"; do
    [ -f "$d/desktop-search.svg" ] && icondir="$d" && break
done
: "${template:?desktop-search.desktop not found}" "${icondir:?icons not found}"

mkdir -p "$apps" "$icons/scalable/apps"
cp "$icondir/desktop-search.svg" "$icons/scalable/apps/desktop-search.svg"
for s in 32 64 256; do
    if [ -f "$icondir/desktop-search-$s.png" ]; then
        mkdir -p "$icons/${s}x${s}/apps"
        cp "$icondir/desktop-search-$s.png" "$icons/${s}x${s}/apps/desktop-search.png"
    fi
done

# Exec/TryExec: the absolute path, quoted as the Desktop Entry spec asks: inside the quotes
# \ " ` $ get a backslash, and every backslash is doubled again because the value is a string;
# % is doubled (field codes). Written with a read loop, so no character of the path is special.
quoted=$(printf '%s' "$exe" | sed -e 's/\\/\\\\\\\\/g' -e 's/"/\\\\"/g' -e 's/`/\\\\`/g' \
    -e 's/\$/\\\\$/g' -e 's/%/%%/g')
tryexec=$(printf '%s' "$exe" | sed -e 's/\\/\\\\/g')
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        Exec=*) printf 'Exec="%s"\n' "$quoted" ;;
        TryExec=*) printf 'TryExec=%s\n' "$tryexec" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$template" > "$apps/desktop-search.desktop"
chmod 644 "$apps/desktop-search.desktop"

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
echo "installed $apps/desktop-search.desktop -> $exe"
