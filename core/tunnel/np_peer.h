/* np_peer: one tunnel of the natpunch peer daemon.
 *
 * The session state machine (REGISTER -> WAIT_PEER -> PUNCH -> HANDSHAKE ->
 * UP -> back to REGISTER when the peer goes silent), the Noise handshake
 * driver, keepalive/dead/rekey timers and the hook events. The punch (the
 * strategy host and probes) is its own state machine, np_punch.h; packet
 * forwarding between the tun and UDP lives in np_datapath.c. */
#ifndef NP_PEER_H
#define NP_PEER_H

#include <stdint.h>

struct ev_loop;
struct np_config;
struct np_hookd;
struct np_peer;

enum np_peer_state {
	NP_ST_REGISTER = 0,
	NP_ST_WAIT_PEER,
	NP_ST_PUNCH,
	NP_ST_HANDSHAKE,
	NP_ST_UP,
};

struct np_peer_keys {
	uint8_t priv[32];
	uint8_t peer_pub[32];
	uint8_t psk[32];
	int has_psk;
	uint8_t token_key[32];
	int has_token;
};

/* Creates the tun, loads the strategy and starts registering. */
int np_peer_new(struct ev_loop *loop, const struct np_config *cfg, const struct np_peer_keys *keys,
		struct np_hookd *hooks, struct np_peer **out, char *err, size_t errlen);
/* Graceful stop: on_down hooks run (if up), then done(arg) is called. */
void np_peer_stop(struct np_peer *p, void (*done)(void *), void *arg);
void np_peer_free(struct np_peer *p);
const char *np_peer_state_name(enum np_peer_state st);
/* fn(arg, summary) on every state change, summary being one line such as
 * "waiting for peer" or "up, direct via simple" (natpunch sends it to
 * systemd as STATUS=). Called once at once with the current state. */
/* SIGHUP: use hooks from now on. If the old hooks had an "up" active they get
 * "down" (reason "reload"), and once they finished the new ones get "up"
 * (reason "reload"), so down undoes up in the old files and up runs in the
 * new ones. The old hooks are freed when idle (or by np_peer_free); the
 * caller keeps owning the new ones. */
void np_peer_replace_hooks(struct np_peer *p, struct np_hookd *hooks);
void np_peer_on_state(struct np_peer *p, void (*fn)(void *arg, const char *summary), void *arg);

#endif
