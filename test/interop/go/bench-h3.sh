#!/bin/sh
# Rough HTTP/3 comparison (docs/http3.md): the quic-go client against QuicEndpoint and Caddy in the same run.
# Usage: bench-h3.sh H3CLIENT OUR_PORT CADDY_PORT [ROUNDS]   (both servers answer /hello and /1m.bin)
set -eu
client=$1 ours=$2 caddy=$3 rounds=${4:-3}
for round in $(seq "$rounds"); do
  for target in "ours $ours" "caddy $caddy"; do
    set -- $target
    mib=$("$client" -insecure -repeat 100 -concurrency 4 "https://localhost:$2/1m.bin")
    hello=$("$client" -insecure -repeat 3000 -concurrency 50 "https://localhost:$2/hello")
    echo "round $round $1 1MiB: $mib | hello: $hello"
  done
done
