/* np_relay_cli: the relay part of `natpunch probe`: does each configured
 * TURN relay answer, over which transport, with which relayed address and
 * round trip; optionally an echo through it to a test peer. */
#ifndef NP_RELAY_CLI_H
#define NP_RELAY_CLI_H

/* 1 if argv holds relay options (--turn ...), so probe hands over. */
int np_relay_cli_wanted(int argc, char **argv);
int np_relay_cli(int argc, char **argv);

#endif
