#!/bin/sh
# Keeps only the named subpackages of an installed package; its top-level modules stay.
#   sh keep-subpackages.sh <site-packages>/<package> <subpackage>...
# Every Dockerfile that calls it says why the rest is never imported and checks the imports
# that need the kept parts at the end of its build.
set -eu
package=$1
shift
for dir in "$package"/*/; do
    name=$(basename "$dir")
    keep=no
    for wanted in "$@" __pycache__; do
        [ "$name" = "$wanted" ] && keep=yes
    done
    [ "$keep" = yes ] || rm -rf "$dir"
done
