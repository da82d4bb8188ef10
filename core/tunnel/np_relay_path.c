/* np_relay_path: the relayed path of a tunnel, through a TURN relay.
 *
 * Both peers hold an allocation on their --turn relay (np_turn) and tell
 * the rendezvous server their relayed address in REGISTER; the server hands
 * each the other's in PEER_INFO. Each binds a channel to the other's
 * relayed address (which also installs the permission), and the relayed
 * path is then one more path: its "peer endpoint" is the peer's relayed
 * address, and whatever the tunnel sends there (handshake, keepalives,
 * data) leaves as ChannelData through our allocation; what the relay
 * delivers enters the data path as if it came from that address on socket
 * 0. The Noise handshake, keepalives and the data path are unchanged.
 *
 * When it is used (--relay): "always" skips the punch; "fallback" (the
 * default) goes relayed when autoselect knows there is no direct path or a
 * punch attempt fails; "never" never does, and says so. While relayed the
 * peer keeps registering (every 5 s) so a new relayed address (a relay
 * restart) reaches the other side. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "relay"
#include "np_log.h"
#include "np_turn.h"
#include "np_turn_cred.h"
#include "np_wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define RELAYED_REGISTER_S 5.0

static void relay_maybe_start(struct np_peer *p, const char *why);

int np_relay_on_path(const struct np_peer *p)
{
	return p->relay && p->relay_peer.family && np_addr_equal(&p->path_peer, &p->relay_peer);
}

int np_relay_is_peer(const struct np_peer *p, const np_addr_t *to)
{
	return p->relay && p->relay_peer.family && np_addr_equal(to, &p->relay_peer);
}

int np_relay_send(struct np_peer *p, const void *buf, size_t len)
{
	int rc = np_turn_send(p->relay, &p->relay_peer, buf, len);

	if (rc < 0)
		p->stats.send_errors++;
	return rc;
}

/* The sealed datagrams of one data-path batch, one ChannelData each. */
void np_relay_flush(struct np_peer *p)
{
	struct np_dp *dp = &p->dp;
	int sent = 0;

	for (int i = 0; i < dp->ntx; i++) {
		if (np_turn_send(p->relay, &p->relay_peer, dp->txv[i].iov_base, dp->txv[i].iov_len) == 0) {
			p->stats.tx_packets++;
			p->stats.tx_bytes += dp->txv[i].iov_len;
			sent++;
		} else {
			p->stats.send_errors++;
		}
	}
	if (sent)
		p->last_tx = ev_now(p->loop);
	dp->ntx = 0;
}

/* Starts the handshake on the relayed path. */
static void start_path(struct np_peer *p, const char *why)
{
	char a[NP_ADDR_STRLEN];

	np_punch_stop(&p->punch);
	np_sock_close_extra(p, -1);
	p->relay_wanted = 0;
	p->relay_wait_logged = 0;
	p->path_sock = 0;
	p->path_peer = p->relay_peer;
	np_info("path: relayed through %s (%s), to the peer's relayed address %s: %s", np_turn_uri(p->relay),
		np_turn_transport_name(p->relay_transport), np_astr(&p->relay_peer, a), why);
	snprintf(p->path_why, sizeof(p->path_why), "%s", why);
	np_peer_path_found(p);
}

static void relay_maybe_start(struct np_peer *p, const char *why)
{
	if (!p->relay || p->st != NP_ST_PUNCH || p->punch.strat)
		return;
	if (!(p->relay_wanted || p->cfg->relay_mode == NP_RELAY_ALWAYS))
		return;
	if (np_turn_get_state(p->relay) != NP_TURN_READY || !p->relay_peer.family)
		return;
	start_path(p, why);
}

/* ---- the TURN client's callbacks ---------------------------------------- */

static void on_ready(void *arg, const np_addr_t *relayed, const np_addr_t *mapped)
{
	struct np_peer *p = arg;

	p->relay_self = *relayed;
	if (p->relay_peer.family)
		np_turn_add_peer(p->relay, &p->relay_peer);
	/* Tell the server (and so the peer) at once. */
	if (p->socks[0])
		np_peer_send_register(p);
	relay_maybe_start(p, p->cfg->relay_mode == NP_RELAY_ALWAYS ? "--relay always" : p->relay_why);
}

static void on_data(void *arg, const np_addr_t *peer, uint8_t *buf, size_t len)
{
	struct np_peer *p = arg;

	if (!p->relay_peer.family || !np_addr_equal(peer, &p->relay_peer)) {
		p->stats.bad++;
		return;
	}
	np_dp_input(p, &p->relay_sock, buf, len, peer);
}

static void on_down(void *arg, const char *msg)
{
	struct np_peer *p = arg;

	memset(&p->relay_self, 0, sizeof(p->relay_self));
	if (np_relay_on_path(p))
		np_warn("the relayed path is down until the relay is back: %s", msg);
}

/* ---- what np_peer.c calls ------------------------------------------------- */

static const struct np_turn_callbacks callbacks = { on_ready, on_data, on_down };

int np_relay_init(struct np_peer *p, char *err, size_t errlen)
{
	struct np_turn_config tc = { 0 };
	char perr[256];

	p->relay_sock.fd = -1;
	p->relay_sock.id = 0;
	p->relay_sock.p = p;
	if (!p->cfg->nturn || p->cfg->relay_mode == NP_RELAY_NEVER)
		return 0;
	if (np_turn_uri_parse(p->cfg->turn_uris[0], &tc.uri, err, errlen) < 0)
		return -EINVAL;
	snprintf(tc.user, sizeof(tc.user), "%s", p->cfg->turn_user);
	if (np_turn_read_secret(p->cfg->turn_password_file, tc.password, sizeof(tc.password), perr,
				sizeof(perr)) < 0) {
		snprintf(err, errlen, "--turn-password-file: %s", perr);
		return -EINVAL;
	}
	tc.ca_file = p->cfg->turn_ca;
	p->relay_transport = tc.uri.transport;
	if (p->cfg->nturn > 1)
		np_info("using the first of %zu --turn relays", p->cfg->nturn);
	return np_turn_new(p->loop, &tc, &callbacks, p, &p->relay, err, errlen);
}

void np_relay_free(struct np_peer *p)
{
	np_turn_free(p->relay);
	p->relay = NULL;
}

/* The server offers relays and credentials (natpunch-server --turn): used
 * when we have no --turn of our own and may relay. */
static void server_offer(struct np_peer *p, const struct np_msg_peer_info *m)
{
	struct np_turn_config tc = { 0 };
	char err[256], first[NP_WIRE_TURN_URIS_MAX + 1];

	if (p->cfg->nturn || p->cfg->relay_mode == NP_RELAY_NEVER || !m->turn_uris[0] || !m->turn_user[0] ||
	    !m->turn_pass[0])
		return;
	if (p->relay) {
		np_turn_set_credentials(p->relay, m->turn_user, m->turn_pass);
		return;
	}
	snprintf(first, sizeof(first), "%s", m->turn_uris);
	first[strcspn(first, " ")] = 0;
	if (np_turn_uri_parse(first, &tc.uri, err, sizeof(err)) < 0) {
		np_warn("the server offers a relay I cannot use: %s", err);
		return;
	}
	snprintf(tc.user, sizeof(tc.user), "%s", m->turn_user);
	snprintf(tc.password, sizeof(tc.password), "%s", m->turn_pass);
	tc.ca_file = p->cfg->turn_ca;
	p->relay_transport = tc.uri.transport;
	if (np_turn_new(p->loop, &tc, &callbacks, p, &p->relay, err, sizeof(err)) < 0) {
		np_warn("the relay the server offers (%s) cannot be used: %s", first, err);
		p->relay = NULL;
		return;
	}
	np_info("using the relay the server offers: %s", np_turn_uri(p->relay));
	sodium_memzero(tc.password, sizeof(tc.password));
}

/* PEER_INFO: the peer's relayed address (family 0: none), and maybe relays
 * the server offers. */
void np_relay_peer_info(struct np_peer *p, const struct np_msg_peer_info *m)
{
	const np_addr_t *peer_relay = &m->peer_relay;
	char a[NP_ADDR_STRLEN];

	server_offer(p, m);

	if (!p->relay || np_addr_equal(peer_relay, &p->relay_peer))
		return;
	if (peer_relay->family)
		np_info("the peer's relayed address is %s", np_astr(peer_relay, a));
	np_turn_clear_peers(p->relay);
	if (np_relay_on_path(p))
		p->path_peer = *peer_relay; /* its relay moved: follow */
	p->relay_peer = *peer_relay;
	if (peer_relay->family)
		np_turn_add_peer(p->relay, peer_relay);
	relay_maybe_start(p, p->cfg->relay_mode == NP_RELAY_ALWAYS ? "--relay always" : p->relay_why);
}

/* PEER_INFO arrived and the punch would start: 1 if the relay takes it. */
int np_relay_instead_of_punch(struct np_peer *p)
{
	if (!p->relay)
		return 0;
	if (p->cfg->relay_mode != NP_RELAY_ALWAYS && !p->relay_wanted)
		return 0;
	if (np_turn_get_state(p->relay) == NP_TURN_READY && p->relay_peer.family) {
		start_path(p, p->cfg->relay_mode == NP_RELAY_ALWAYS ? "--relay always" : p->relay_why);
		return 1;
	}
	np_peer_set_state(p, NP_ST_PUNCH);
	if (!p->relay_wait_logged++)
		np_info("waiting for the relay: %s", np_turn_get_state(p->relay) != NP_TURN_READY
						       ? "our allocation is not ready"
						       : "the peer has not told its relayed address yet");
	return 1;
}

/* No direct path (autoselect), or a punch attempt failed: 1 if the relay
 * takes over, 0 to go on as without a relay (the reason is logged). */
int np_relay_fallback(struct np_peer *p, const char *why)
{
	if (p->cfg->relay_mode == NP_RELAY_NEVER) {
		np_warn("not relaying (--relay never): waiting for a direct path (%s)", why);
		return 0;
	}
	if (!p->relay) {
		np_info("no relay configured (--turn): waiting for a direct path");
		return 0;
	}
	snprintf(p->relay_why, sizeof(p->relay_why), "%s", why);
	p->relay_wanted = 1;
	if (np_turn_get_state(p->relay) == NP_TURN_READY && p->relay_peer.family) {
		start_path(p, why);
		return 1;
	}
	/* Stay in PUNCH without a strategy, registering, until both relayed
	 * addresses are known (on_ready / np_relay_peer_info start it). */
	np_punch_stop(&p->punch);
	np_peer_set_state(p, NP_ST_PUNCH);
	np_info("falling back to the relay %s once %s (%s)", np_turn_uri(p->relay),
		np_turn_get_state(p->relay) != NP_TURN_READY ? "our allocation is ready"
							      : "the peer's relayed address is known",
		why);
	return 1;
}

/* The tunnel came up: with a relay, keep registering so that a new relayed
 * address (after a relay restart) reaches the peer, and let
 * np_relay_switch.c move between direct and relayed. */
void np_relay_on_up(struct np_peer *p)
{
	if (!np_relay_on_path(p)) {
		p->relay_wanted = 0;
		snprintf(p->path_why, sizeof(p->path_why), "direct path found by the punch");
	}
	np_switch_up(p);
	if (!np_relay_on_path(p) && !p->sw_on)
		return;
	ev_timer_set(&p->reg_timer, RELAYED_REGISTER_S, RELAYED_REGISTER_S);
	ev_timer_again(p->loop, &p->reg_timer);
}

/* The tunnel went silent on the relay: check the allocation at once. */
void np_relay_on_dead(struct np_peer *p)
{
	if (p->relay)
		np_turn_check(p->relay);
}

size_t np_relay_status(struct np_peer *p, char *buf, size_t cap)
{
	size_t n = 0;
	char a[NP_ADDR_STRLEN];

#define R(...)                                                                  \
	do {                                                                    \
		if (n < cap) {                                                  \
			int w_ = snprintf(buf + n, cap - n, __VA_ARGS__);       \
			n += w_ > 0 ? (size_t)w_ : 0;                           \
		}                                                               \
	} while (0)
	R("relay_mode: %s\n", p->cfg->relay_mode == NP_RELAY_NEVER    ? "never"
			      : p->cfg->relay_mode == NP_RELAY_ALWAYS ? "always"
								       : "fallback");
	if (p->relay) {
		const struct np_turn_stats *st = np_turn_get_stats(p->relay);

		R("relay: %s\n", np_turn_uri(p->relay));
		R("relay_transport: %s\n", np_turn_transport_name(p->relay_transport));
		R("relay_state: %s\n", np_turn_state_name(np_turn_get_state(p->relay)));
		if (np_turn_relayed(p->relay)->family)
			R("relay_address: %s\n", np_astr(np_turn_relayed(p->relay), a));
		if (p->relay_peer.family)
			R("relay_peer_address: %s\n", np_astr(&p->relay_peer, a));
		if (st->rtt_ms > 0)
			R("relay_rtt_ms: %.1f\n", st->rtt_ms);
		R("relay_tx_bytes: %llu\n", (unsigned long long)st->tx_bytes);
		R("relay_rx_bytes: %llu\n", (unsigned long long)st->rx_bytes);
		R("relay_allocations: %u\n", st->allocations);
		if (np_turn_last_error(p->relay)[0])
			R("relay_last_error: %s\n", np_turn_last_error(p->relay));
	}
#undef R
	if (n < cap)
		n += np_switch_status(p, buf + n, cap - n);
	return n;
}
