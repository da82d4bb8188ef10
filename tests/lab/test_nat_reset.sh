#!/bin/bash
# test_nat_reset: test_nat_reset_port without --port (ephemeral local ports).
NP_SOURCE_DIR=${NP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NP_RESET_ARGS="" exec bash "$NP_SOURCE_DIR/tests/lab/test_nat_reset_port.sh"
