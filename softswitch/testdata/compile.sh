#!/bin/sh
# Recompiles the engine's test programs. p4c is built outside the repository
# (see p4/README.md); point P4C at p4c-bm2-ss and P4INCLUDE at its p4include.
set -e
cd "$(dirname "$0")"
: "${P4C:=p4c-bm2-ss}"
for p in arith tables stack externs meter checksum selmiss; do
	"$P4C" --arch v1model --std p4-16 ${P4INCLUDE:+-I "$P4INCLUDE"} \
		-o "$p.json" --p4runtime-files "$p.p4info.txtpb" "$p.p4"
done
"$P4C" --version | tail -n 1 > p4c-version.txt
