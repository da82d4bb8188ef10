#!/bin/bash
# test_offload_off: test_offload_bulk with --no-offload on every peer, so the
# batched sendmmsg/recvmmsg path gets the same 1 GiB checksummed transfers,
# mixed traffic, MTU edge and IPv6 checks as the offload path.
set -eu -o pipefail
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_OFFLOAD_MODE=off exec bash "$NP_SOURCE_DIR/tests/lab/test_offload_bulk.sh"
