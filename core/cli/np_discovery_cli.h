/* np_discovery_cli: `natpunch probe SERVER PORT [--json]`, the person-facing
 * report of NAT behaviour discovery (like `tailscale netcheck`). */
#ifndef NP_DISCOVERY_CLI_H
#define NP_DISCOVERY_CLI_H

int np_discovery_cli(int argc, char **argv);

#endif
