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
 * restart) reaches the other side.
 *
 * Several relays (--turn repeated, or the server's list) are tried in
 * order: when the one in use cannot be reached or refuses us before it
 * ever allocated, or fails twice in a row after it did, the next one is
 * used (round robin). A peer that registers over TCP (np_regtcp.c: its
 * network passes no UDP) skips relays over UDP, and goes to the relay at
 * once, as does its peer (PEER_INFO says NP_PI_F_PEER_TCP): no direct path
 * exists. */
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
static const struct np_turn_callbacks callbacks;

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
	p->relay_gap = 0;
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

/* ---- the relays to try ---------------------------------------------------- */

/* 1 if this relay can carry us: not over UDP when the network has none. */
static int uri_usable(const struct np_peer *p, const struct np_turn_uri *u)
{
	return !p->regtcp || u->transport != NP_TURN_UDP;
}

/* Opens the first usable relay at index `from` or after (round robin);
 * the one in use is closed first. Returns 0, or -ENOENT if none is usable. */
static int relay_open(struct np_peer *p, size_t from, const char *why)
{
	char err[256];

	ev_timer_stop(p->loop, &p->relay_next);
	for (size_t k = 0; k < p->relay_nuris; k++) {
		size_t i = (from + k) % p->relay_nuris;
		struct np_turn_config tc = { 0 };
		struct np_turn *t = NULL;

		if (np_turn_uri_parse(p->relay_uris[i], &tc.uri, err, sizeof(err)) < 0) {
			np_warn("relay %s cannot be used: %s", p->relay_uris[i], err);
			continue;
		}
		if (!uri_usable(p, &tc.uri))
			continue;
		snprintf(tc.user, sizeof(tc.user), "%s", p->relay_user);
		snprintf(tc.password, sizeof(tc.password), "%s", p->relay_pass);
		tc.ca_file = p->cfg->turn_ca;
		if (np_turn_new(p->loop, &tc, &callbacks, p, &t, err, sizeof(err)) < 0) {
			np_warn("relay %s cannot be used: %s", p->relay_uris[i], err);
			sodium_memzero(tc.password, sizeof(tc.password));
			continue;
		}
		sodium_memzero(tc.password, sizeof(tc.password));
		np_turn_free(p->relay);
		p->relay = t;
		p->relay_cur = i;
		p->relay_transport = tc.uri.transport;
		p->relay_fails = 0;
		p->relay_ready_once = 0;
		memset(&p->relay_self, 0, sizeof(p->relay_self));
		if (p->relay_peer.family)
			np_turn_add_peer(p->relay, &p->relay_peer);
		if (why)
			np_info("using relay %s (%zu of %zu): %s", np_turn_uri(t), i + 1, p->relay_nuris, why);
		return 0;
	}
	return -ENOENT;
}

static size_t usable_count(const struct np_peer *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->relay_nuris; i++) {
		struct np_turn_uri u;
		char err[160];

		if (np_turn_uri_parse(p->relay_uris[i], &u, err, sizeof(err)) == 0 && uri_usable(p, &u))
			n++;
	}
	return n;
}

static void on_relay_next(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	char why[300];

	snprintf(why, sizeof(why), "%s failed: %s", np_turn_uri(p->relay), np_turn_last_error(p->relay));
	relay_open(p, p->relay_cur + 1, why);
}

/* ---- the TURN client's callbacks ---------------------------------------- */

static void on_fail(void *arg, const char *msg)
{
	struct np_peer *p = arg;

	p->relay_fails++;
	if (usable_count(p) < 2 || (p->relay_ready_once && p->relay_fails < 2))
		return;
	/* Not from inside the np_turn that is calling us. */
	ev_timer_stop(p->loop, &p->relay_next);
	ev_timer_set(&p->relay_next, 0., 0.);
	ev_timer_start(p->loop, &p->relay_next);
}

static void on_ready(void *arg, const np_addr_t *relayed, const np_addr_t *mapped)
{
	struct np_peer *p = arg;

	p->relay_self = *relayed;
	p->relay_fails = 0;
	p->relay_ready_once = 1;
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

static const struct np_turn_callbacks callbacks = { on_ready, on_data, on_down, on_fail };

int np_relay_init(struct np_peer *p, char *err, size_t errlen)
{
	struct np_turn_uri u;
	char perr[256];

	p->relay_sock.fd = -1;
	p->relay_sock.id = 0;
	p->relay_sock.p = p;
	ev_timer_init(&p->relay_next, on_relay_next, 0., 0.);
	p->relay_next.data = p;
	if (!p->cfg->nturn || p->cfg->relay_mode == NP_RELAY_NEVER)
		return 0;
	for (size_t i = 0; i < p->cfg->nturn && i < NP_RELAY_URIS; i++) {
		if (np_turn_uri_parse(p->cfg->turn_uris[i], &u, err, errlen) < 0)
			return -EINVAL;
		snprintf(p->relay_uris[i], sizeof(p->relay_uris[i]), "%s", p->cfg->turn_uris[i]);
		p->relay_nuris++;
	}
	if (p->cfg->nturn > NP_RELAY_URIS)
		np_warn("using the first %d of %zu --turn relays", NP_RELAY_URIS, p->cfg->nturn);
	snprintf(p->relay_user, sizeof(p->relay_user), "%s", p->cfg->turn_user);
	if (np_turn_read_secret(p->cfg->turn_password_file, p->relay_pass, sizeof(p->relay_pass), perr,
				sizeof(perr)) < 0) {
		snprintf(err, errlen, "--turn-password-file: %s", perr);
		return -EINVAL;
	}
	if (relay_open(p, 0, p->relay_nuris > 1 ? "the first --turn relay" : NULL) < 0) {
		snprintf(err, errlen, "none of the %zu --turn relays can be used (see above)", p->relay_nuris);
		return -EINVAL;
	}
	return 0;
}

void np_relay_free(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->relay_next);
	np_turn_free(p->relay);
	p->relay = NULL;
	sodium_memzero(p->relay_pass, sizeof(p->relay_pass));
}

int np_relay_over_udp(const struct np_peer *p)
{
	return p->relay && p->relay_transport == NP_TURN_UDP && np_turn_get_state(p->relay) == NP_TURN_READY;
}

/* We register over TCP: a relay over UDP cannot carry us, and there is
 * no direct path. */
void np_relay_no_udp(struct np_peer *p)
{
	if (p->cfg->relay_mode == NP_RELAY_NEVER) {
		np_warn("not relaying (--relay never): without UDP there will be no tunnel");
		return;
	}
	if (p->relay && p->relay_transport == NP_TURN_UDP &&
	    relay_open(p, p->relay_cur + 1, "no UDP here: a relay over TCP or TLS") < 0)
		np_warn("no relay over TCP or TLS (turn:HOST?transport=tcp, turns:HOST) is configured; %s "
			"cannot be reached without UDP", np_turn_uri(p->relay));
	else if (!p->relay && !p->relay_nuris)
		np_info("no relay of our own (--turn): waiting for the server to offer one over TCP or TLS");
}

/* The server offers relays and credentials (natpunch-server --turn): used
 * when we have no --turn of our own and may relay. */
static void server_offer(struct np_peer *p, const struct np_msg_peer_info *m)
{
	const char *s;

	if (p->cfg->nturn || p->cfg->relay_mode == NP_RELAY_NEVER || !m->turn_uris[0] || !m->turn_user[0] ||
	    !m->turn_pass[0])
		return;
	snprintf(p->relay_user, sizeof(p->relay_user), "%s", m->turn_user);
	snprintf(p->relay_pass, sizeof(p->relay_pass), "%s", m->turn_pass);
	if (p->relay && strcmp(p->relay_offer, m->turn_uris) == 0) {
		np_turn_set_credentials(p->relay, m->turn_user, m->turn_pass);
		return;
	}
	/* A first offer, or another list: split it, and start at its first usable relay. */
	snprintf(p->relay_offer, sizeof(p->relay_offer), "%s", m->turn_uris);
	p->relay_nuris = 0;
	for (s = m->turn_uris; *s && p->relay_nuris < NP_RELAY_URIS;) {
		size_t n = strcspn(s, " ");

		if (n)
			snprintf(p->relay_uris[p->relay_nuris++], sizeof(p->relay_uris[0]), "%.*s", (int)n, s);
		s += n;
		s += strspn(s, " ");
	}
	if (relay_open(p, 0, NULL) < 0) {
		np_warn("the server offers no relay I can use%s: %s", p->regtcp ? " without UDP" : "", m->turn_uris);
		return;
	}
	np_info("using the relay the server offers: %s", np_turn_uri(p->relay));
}

/* PEER_INFO: the peer's relayed address (family 0: none), and maybe relays
 * the server offers. */
void np_relay_peer_info(struct np_peer *p, const struct np_msg_peer_info *m)
{
	const np_addr_t *peer_relay = &m->peer_relay;
	char a[NP_ADDR_STRLEN];

	server_offer(p, m);
	p->relay_peer_tcp = (m->flags & NP_PI_F_PEER_TCP) != 0;

	if (!p->relay || np_addr_equal(peer_relay, &p->relay_peer))
		return;
	if (peer_relay->family)
		np_info("the peer's relayed address is %s", np_astr(peer_relay, a));
	np_turn_clear_peers(p->relay);
	/* Its relay moved: follow. While it has none (allocating again after a
	 * relay restart) nothing goes out, and the next one is followed. */
	if (np_relay_on_path(p) || (p->relay_gap && p->st == NP_ST_UP)) {
		p->path_peer = *peer_relay;
		p->relay_gap = !peer_relay->family;
	}
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
	/* Without UDP on either side there is no direct path to try. */
	if ((p->regtcp || p->relay_peer_tcp) && p->cfg->relay_mode != NP_RELAY_NEVER && !p->relay_wanted) {
		snprintf(p->relay_why, sizeof(p->relay_why), "%s",
			 p->regtcp ? "no UDP here (registered over TCP)" : "the peer has no UDP (registered over TCP)");
		p->relay_wanted = 1;
	}
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

#define R(...) np_status_add(buf, cap, &n, __VA_ARGS__)
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
