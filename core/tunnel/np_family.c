/* np_family: the underlay address families of one tunnel (IPv4 and IPv6).
 *
 * The server may be known under both families ("HOST" resolved both ways,
 * or "ADDR4,ADDR6"). Each registration cycle of np_peer.c runs on one
 * family (p->server), IPv6 first when this host can reach the server over
 * it. While not up, a second, registration-only "leg" keeps us registered
 * on the other family from its own socket, so the server pairs us there
 * too (it pairs each family on its own; a leg registration, flag
 * NP_REG_F_LEG, is only told whether the peer is there and is never given
 * to the peer to punch) and we learn whether the peer is there. The cycle moves to the other family when the peer turns out to be
 * registered only there (its PEER_INFO arrives on the leg, not flagged
 * PEER_LEG, and none on the main family within SWITCH_AFTER_S of our
 * first REGISTER there), or when an attempt on the current
 * family failed while the leg saw the peer. See "IPv6" in core/DESIGN.md. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "family"
#include "np_auth.h"
#include "np_log.h"
#include "np_time.h"
#include "np_udp.h"
#include "np_wire.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEG_INTERVAL 1.0     /* REGISTER on the other family every second */
#define SWITCH_AFTER_S 1.5   /* the main family had this long to pair */
#define SEEN_FRESH_S 30.0    /* a leg PEER_INFO this recent says the peer is there */

static int fidx(int family)
{
	return family == 6 ? 1 : 0;
}

/* 1 if this host has a route to the server over `family`. */
static int usable(const struct np_peer *p, int family)
{
	np_addr_t src;

	return p->server_fam[fidx(family)].family && np_route_source(&p->server_fam[fidx(family)], &src) == 0;
}

int np_family_init(struct np_peer *p, char *err, size_t errlen)
{
	char hosts[256], *save = NULL, *h;
	int any = 0;

	if (snprintf(hosts, sizeof(hosts), "%s", p->cfg->server_host) >= (int)sizeof(hosts)) {
		snprintf(err, errlen, "server address too long");
		return -EINVAL;
	}
	p->leg_fd = -1;
	for (h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		for (int fam = 4; fam <= 6; fam += 2) {
			np_addr_t a = { 0 };
			char e2[160];

			/* A literal resolves to its own family whatever the hint. */
			if (p->server_fam[fidx(fam)].family || np_resolve(h, fam, &a, e2, sizeof(e2)) < 0 ||
			    a.family != fam)
				continue;
			a.port = p->cfg->server_port;
			p->server_fam[fidx(fam)] = a;
			any = 1;
		}
	}
	if (!any)
		return np_resolve(p->cfg->server_host, 0, &p->server, err, errlen);
	/* IPv6 first, as long as the server is reachable over it. */
	p->server = usable(p, 6) || !p->server_fam[0].family ? p->server_fam[1] : p->server_fam[0];
	if (!p->server.family)
		p->server = p->server_fam[0];
	return 0;
}

static void leg_close(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->leg_timer);
	ev_timer_stop(p->loop, &p->leg_switch);
	if (p->leg_fd >= 0) {
		ev_io_stop(p->loop, &p->leg_io);
		close(p->leg_fd);
	}
	p->leg_fd = -1;
	p->leg_have_cookie = 0;
}

static void leg_send_register(struct np_peer *p)
{
	struct np_msg_register m = { 0 };
	np_addr_t local;
	uint8_t buf[256];
	int len;

	if (p->leg_fd < 0)
		return;
	m.flags = NP_REG_F_LEG | (p->keys.has_token ? NP_REG_F_MAC : 0);
	if (p->leg_have_cookie) {
		m.flags |= NP_REG_F_COOKIE;
		memcpy(m.cookie, p->leg_cookie, NP_COOKIE_LEN);
	}
	m.nonce = p->leg_nonce;
	m.timestamp_ms = np_wall_ms();
	snprintf(m.session, sizeof(m.session), "%s", p->cfg->session);
	if (np_route_source(&p->leg_server, &m.local) == 0 && np_udp_local(p->leg_fd, &local) == 0)
		m.local.port = local.port;
	else
		memset(&m.local, 0, sizeof(m.local));
	len = np_wire_encode_register(buf, sizeof(buf), &m);
	if (len < 0)
		return;
	if (p->keys.has_token)
		np_auth_server_mac(p->keys.token_key, p->leg_server.port, buf, (size_t)len - NP_MAC_LEN,
				   buf + len - NP_MAC_LEN);
	np_udp_send(p->leg_fd, &p->leg_server, buf, (size_t)len, 0, NULL);
}

static int leg_msg_ok(struct np_peer *p, const uint8_t *buf, size_t mac_off, const uint8_t *mac, uint8_t flags,
		      uint32_t nonce, const np_addr_t *from)
{
	if (!np_addr_equal(from, &p->leg_server) || nonce != p->leg_nonce)
		return 0;
	if (p->keys.has_token && (!(flags & NP_REG_F_MAC) ||
				  np_auth_server_verify(p->keys.token_key, p->leg_server.port, buf, mac_off, mac) < 0)) {
		p->stats.bad_mac++;
		return 0;
	}
	return 1;
}

static void leg_input(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	switch (np_wire_type(buf, len)) {
	case NP_MSG_REGISTER_COOKIE: {
		struct np_msg_register_cookie m;

		if (np_wire_parse_register_cookie(buf, len, &m) < 0 ||
		    !leg_msg_ok(p, buf, m.mac_offset, m.mac, m.flags, m.nonce, from))
			break;
		if (p->leg_have_cookie && sodium_memcmp(p->leg_cookie, m.cookie, NP_COOKIE_LEN) == 0)
			break;
		memcpy(p->leg_cookie, m.cookie, NP_COOKIE_LEN);
		p->leg_have_cookie = 1;
		leg_send_register(p);
		break;
	}
	case NP_MSG_PEER_INFO: {
		struct np_msg_peer_info m;
		char a[NP_ADDR_STRLEN];

		if (np_wire_parse_peer_info(buf, len, &m) < 0 ||
		    !leg_msg_ok(p, buf, m.mac_offset, m.mac, m.flags, m.nonce, from))
			break;
		if (ev_now(p->loop) - p->leg_peer_seen > SEEN_FRESH_S)
			np_debug("the peer is registered over IPv%d too (%s)", p->leg_server.family,
				 np_astr(&m.peer_public, a));
		p->leg_peer_seen = ev_now(p->loop);
		/* The peer's registration here is a leg too: its main family is
		 * ours, and it pairs with us there; no reason to move (an
		 * attempt that fails there may still move both: leg_peer_seen). */
		if (m.flags & NP_PI_F_PEER_LEG)
			break;
		if ((p->st == NP_ST_REGISTER || p->st == NP_ST_WAIT_PEER) && !ev_is_active(&p->leg_switch)) {
			/* A random share breaks the tie when both peers sit
			 * on different families and both could move. */
			ev_timer_set(&p->leg_switch, SWITCH_AFTER_S + randombytes_uniform(1500) / 1000.0, 0.);
			ev_timer_start(p->loop, &p->leg_switch);
		}
		break;
	}
	default:
		break; /* REGISTER_ACK and anything else: nothing to do */
	}
}

static void on_leg_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct np_peer *p = w->data;
	uint8_t buf[512];
	np_addr_t from;

	for (int i = 0; i < 16 && p->leg_fd >= 0; i++) {
		ssize_t n = np_udp_recv(p->leg_fd, buf, sizeof(buf), &from, NULL);

		if (n < 0)
			break;
		leg_input(p, buf, (size_t)n, &from);
	}
}

static void on_leg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	leg_send_register(w->data);
}

/* The peer paired with us on the other family only: move there. */
static void on_leg_switch(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	char why[64];
	double since;

	if (p->st != NP_ST_REGISTER && p->st != NP_ST_WAIT_PEER)
		return;
	/* The main family has SWITCH_AFTER_S from its first REGISTER, not from
	 * the leg's news: its NAT discovery (1 s, longer when the server does
	 * not answer it at once) comes first, and the peer's own main
	 * registration may be just as late. */
	since = p->reg_sent_at > 0. ? ev_now(loop) - p->reg_sent_at : 0.;
	if (since < SWITCH_AFTER_S) {
		ev_timer_set(w, SWITCH_AFTER_S - since, 0.);
		ev_timer_start(loop, w);
		return;
	}
	snprintf(why, sizeof(why), "the peer is registered over IPv%d only", p->leg_server.family);
	p->fam_switch = 1;
	np_peer_enter_register(p, why);
}

static void leg_open(struct np_peer *p, int family)
{
	char err[160];
	int fd;

	leg_close(p);
	if (!usable(p, family))
		return;
	fd = np_udp_open(family, NULL, 0, 0, err, sizeof(err));
	if (fd < 0) {
		np_debug("no IPv%d registration: %s", family, err);
		return;
	}
	p->leg_fd = fd;
	p->leg_server = p->server_fam[fidx(family)];
	randombytes_buf(&p->leg_nonce, sizeof(p->leg_nonce));
	ev_io_init(&p->leg_io, on_leg_read, fd, EV_READ);
	p->leg_io.data = p;
	ev_io_start(p->loop, &p->leg_io);
	ev_timer_set(&p->leg_timer, 0., LEG_INTERVAL);
	ev_timer_start(p->loop, &p->leg_timer);
}

void np_family_setup(struct np_peer *p)
{
	ev_init(&p->leg_timer, on_leg_timer);
	ev_init(&p->leg_switch, on_leg_switch);
	p->leg_timer.data = p->leg_switch.data = p;
	p->leg_peer_seen = -1e9;
	p->leg_fd = -1;
}

void np_family_cycle(struct np_peer *p, int failed)
{
	int cur = p->server.family, other = cur == 6 ? 4 : 6;
	int seen = ev_now(p->loop) - p->leg_peer_seen <= SEEN_FRESH_S;

	if (p->server_fam[0].family && p->server_fam[1].family) {
		/* Move when the peer is only over there, when this family
		 * failed and the peer is over there too, or when this family
		 * lost its route. */
		if (usable(p, other) && ((p->fam_switch || (failed && seen)) || !usable(p, cur))) {
			np_info("moving to IPv%d: %s", other,
				p->fam_switch ? "the peer is registered there only"
				: !usable(p, cur) ? "no route to the server over the other family"
						  : "the attempt failed and the peer is registered there too");
			p->server = p->server_fam[fidx(other)];
			cur = other;
			other = cur == 6 ? 4 : 6;
			p->leg_peer_seen = -1e9;
		}
	}
	p->fam_switch = 0;
	if (p->server_fam[fidx(other)].family)
		leg_open(p, other);
	else
		leg_close(p);
}

void np_family_up(struct np_peer *p)
{
	leg_close(p);
}

void np_family_free(struct np_peer *p)
{
	leg_close(p);
}

const char *np_family_name(int family)
{
	return family == 6 ? "IPv6" : family == 4 ? "IPv4" : "none";
}
