#!/usr/bin/env bash
# Build LobbyHost.app and a disk image on macOS (run from the repository root):
#   python3.11 -m venv .venv && .venv/bin/pip install -e '.[installer]'
#   bash resources/installer/macos/make_dmg.sh
# Makes dist/LobbyHost.app (PyInstaller's BUNDLE step of lobbyhost.spec) and
# dist/lobbyhost-<version>-macos.dmg. Sign and notarise before handing it out:
#   codesign --deep --force --options runtime --sign "Developer ID Application: ..." dist/LobbyHost.app
#   xcrun notarytool submit dist/lobbyhost-<version>-macos.dmg --keychain-profile ... --wait
set -euo pipefail
cd "$(dirname "$0")/../../.."
.venv/bin/python resources/installer/build.py --bundle-only
version=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
staging=$(mktemp -d)
cp -R dist/LobbyHost.app "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "LobbyHost $version" -srcfolder "$staging" -ov -format UDZO \
    "dist/lobbyhost-$version-macos.dmg"
rm -rf "$staging"
echo "dist/lobbyhost-$version-macos.dmg"
