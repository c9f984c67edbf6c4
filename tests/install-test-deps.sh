#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what utsfs needs plus what only its tests use (editors driven as
# people use them, strace to hold the daemon mid-operation, and a desktop on a
# virtual screen for tests/test_desktop.py: X server, session bus, window
# manager, Thunar with gvfs, Mousepad, xdotool to type, xprop to list the
# windows, ImageMagick for screenshots); the quick start installs none of these.
set -eu
cd "$(dirname "$0")/.."
exec contrib/install-deps.sh nano vim strace \
	xvfb dbus-daemon openbox thunar gvfs mousepad xdotool x11-utils imagemagick "$@"
