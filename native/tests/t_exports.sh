#!/bin/sh
# t_exports: libmmbus.so exports exactly the functions mmbus.h declares MMBUS_API (no internal symbol
# such as wake or os_close), and its SONAME carries the ABI version.
#   t_exports.sh <libmmbus.so> <mmbus.h> <soversion>
set -u
lib=$1 header=$2 soversion=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

nm -D --defined-only "$lib" > "$tmp/nm" || { echo "t_exports: cannot list the dynamic symbols of $lib (nm, from binutils)"; exit 1; }
awk '{ print $NF }' "$tmp/nm" | sed 's/@.*//' | sort -u > "$tmp/exported"
sed -n 's/^MMBUS_API[^(]*[^A-Za-z0-9_]\(mmbus_[A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort -u > "$tmp/declared"
[ -s "$tmp/declared" ] || { echo "t_exports: no MMBUS_API function found in $header"; exit 1; }

extra=$(comm -23 "$tmp/exported" "$tmp/declared")
if [ -n "$extra" ]; then
  echo "t_exports: $lib exports symbols that are not the public API:"; echo "$extra" | sed 's/^/  /'; status=1
fi
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$missing" ]; then
  echo "t_exports: functions declared MMBUS_API in $header are not exported by $lib:"; echo "$missing" | sed 's/^/  /'; status=1
fi

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libmmbus.so.$soversion" ]; then
  echo "t_exports: SONAME is '$soname', expected libmmbus.so.$soversion"; status=1
fi
[ $status -eq 0 ] && echo "t_exports: $(wc -l < "$tmp/exported") symbols exported, all declared in mmbus.h; SONAME $soname"
exit $status
