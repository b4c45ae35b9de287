#!/bin/sh
# The runtime root every Python image of this stack starts from, run in a debian:bookworm-slim
# stage: Debian's own python3.11 (the interpreter the builder's venv was made with, same path
# /usr/bin/python3.11), CA certificates, any extra packages named as arguments, and nothing
# to build or install with afterwards. The image is then flattened (FROM scratch + COPY
# --from), so what is deleted here is really gone, not hidden in a lower layer.
#   sh runtime-root.sh [extra Debian packages...]
set -eu

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3.11-minimal libpython3.11-stdlib ca-certificates "$@"
ln -sf python3.11 /usr/bin/python3

# The package manager and the Perl only its scripts use: the images are rebuilt, never
# upgraded in place. Purged through dpkg, so its database (what image scanners read) still
# tells what the image holds.
apt-get clean
rm -rf /var/lib/apt/lists/*
dpkg --purge --force-remove-essential --force-remove-protected --force-depends \
    apt libapt-pkg6.0 perl-base
rm -rf /var/cache/* /var/log/* /var/lib/dpkg/*-old /etc/apt

# glibc's iconv converters (8 MB): Python has its own codecs, and UTF-8 is built into glibc.
rm -rf /usr/lib/x86_64-linux-gnu/gconv

# Documentation (the packages' copyright files stay), manuals, translations (no locale but
# C.UTF-8 is ever set) and lintian data.
find /usr/share/doc -type f ! -name copyright -delete
find /usr/share/doc -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian /usr/share/bug

# The standard library's parts no service imports: its own test suite, IDLE, 2to3, turtle demo
# and ensurepip (no pip in a runtime image: see prune-venv.sh).
cd /usr/lib/python3.11
rm -rf test idlelib lib2to3 turtledemo ensurepip turtle.py pydoc_data

# Byte-code for the rest of the standard library: Debian compiles only part of it at install,
# and on a read-only root the missing .pyc files are recompiled in memory on every start
# (measured: docker run -> ready 1.30 s without, 1.06 s with). -j0: every core the build has.
python3.11 -m compileall -q -j0 /usr/lib/python3.11
