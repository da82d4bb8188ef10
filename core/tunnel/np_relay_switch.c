/* np_relay_switch: moving an up tunnel between the direct and the relayed
 * path, by np_pathsel's rules (hysteresis; see np_pathsel.h and the
 * README's "switching" rules).
 *
 * Relayed, the tunnel keeps looking for a direct path in the background:
 * every 15 s it re-runs NAT discovery (a changed NAT kind or public address
 * is a hint: try now), and on np_pathsel's schedule (30 s doubling to
 * 5 min, from the "high" peer only; a hint from either) it registers from a
 * fresh main socket. The server sees a new endpoint and pushes a new round
 * to both peers, which run the normal punch (strategies, openers, probe
 * MACs) in the background while data stays on the relay. A path the punch
 * finds (or one the peer probes us over) is a candidate: probed with
 * PATH_PROBE in-tunnel messages, sealed with the session keys, each
 * answered by PATH_ACK over the path it came on. Only such an authenticated
 * round trip counts. When np_pathsel says so, the candidate's socket
 * becomes the main one and the peer endpoint moves: one log line, one
 * `path_change` hook event.
 *
 * Direct, with a usable relay (allocation ready, the peer's relayed
 * address known), the tunnel probes the direct path when it has been
 * silent for a moment and falls back to the relay when it stays silent:
 * in seconds, without a new handshake. Packets over the path not in use
 * are accepted (they authenticate) but never move the endpoint: only these
 * rules do. Nothing here runs per data packet. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "path"
#include "np_discovery.h"
#include "np_log.h"
#include "np_natclass.h"
#include "np_turn.h"
#include "np_wire.h"

#include <string.h>

#define NATCHECK_S 15.0       /* relayed: NAT discovery this often */
#define DISC_FRESH_S 3.0      /* a discovery this recent needs no rerun before an attempt */
#define JOIN_FRESH_S 3.0      /* a round within this of our fresh REGISTER is ours to punch */

static uint64_t now_ms(const struct np_peer *p)
{
	return (uint64_t)(ev_now(p->loop) * 1000.0);
}

static int relay_ok(const struct np_peer *p)
{
	return p->relay && np_turn_get_state(p->relay) == NP_TURN_READY && p->relay_peer.family;
}

static void poll_now(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->sw_timer);
	ev_timer_set(&p->sw_timer, 0., 0.);
	ev_timer_start(p->loop, &p->sw_timer);
}

static void record_switch(struct np_peer *p, const char *to, const char *why)
{
	struct np_path_switch *h = &p->path_hist[p->path_switches % NP_PATH_HISTORY];

	h->at = ev_now(p->loop);
	snprintf(h->to, sizeof(h->to), "%s", to);
	snprintf(h->why, sizeof(h->why), "%s", why);
	p->path_switches++;
	snprintf(p->path_why, sizeof(p->path_why), "%s", why);
}

/* No candidate any more (its socket, if any, closed or promoted by the caller). */
static void forget_candidate(struct np_peer *p)
{
	p->cand_sock = 0;
	memset(&p->cand_peer, 0, sizeof(p->cand_peer));
}

static void drop_candidate(struct np_peer *p)
{
	if (p->cand_sock > 0)
		np_sock_close(p, p->cand_sock);
	forget_candidate(p);
}

static void natcheck_arm(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->sw_natcheck);
	ev_timer_set(&p->sw_natcheck, NATCHECK_S, NATCHECK_S);
	ev_timer_start(p->loop, &p->sw_natcheck);
}

/* ---- switching ------------------------------------------------------------ */

static void to_direct(struct np_peer *p, const char *why)
{
	char a[NP_ADDR_STRLEN];
	np_addr_t peer = p->cand_peer;
	int sock = p->cand_sock;

	if (!peer.family || (sock > 0 && !p->socks[sock]))
		return;
	if (sock > 0) {
		np_sock_promote(p, sock); /* the old main socket and the rest close */
		np_peer_main_socket_changed(p);
	} else {
		np_sock_close_extra(p, -1);
	}
	p->sw_punch = 0;
	p->path_sock = 0;
	p->path_peer = peer;
	forget_candidate(p);
	p->last_rx = ev_now(p->loop);
	ev_timer_stop(p->loop, &p->sw_natcheck);
	record_switch(p, "direct", why);
	np_info("switched to direct, peer %s: %s (switch %u)", np_astr(&peer, a), why, p->path_switches);
	np_dp_send_keepalive(p);
	np_pmtud_start(p, "switched to the direct path");
	np_peer_set_state(p, NP_ST_UP); /* the summary (systemd STATUS=) says so */
	np_peer_fire_hook(p, "path_change", why);
}

static void to_relayed(struct np_peer *p, const char *why)
{
	char a[NP_ADDR_STRLEN];

	/* The direct path stays a candidate: it may come back. */
	p->cand_sock = p->path_sock;
	p->cand_peer = p->path_peer;
	p->path_sock = 0;
	p->path_peer = p->relay_peer;
	p->last_rx = ev_now(p->loop);
	np_pmtud_stop(p);
	record_switch(p, "relayed", why);
	np_info("switched to relayed through %s, peer's relayed address %s: %s (switch %u)",
		np_turn_uri(p->relay), np_astr(&p->relay_peer, a), why, p->path_switches);
	np_dp_send_keepalive(p);
	natcheck_arm(p);
	np_peer_set_state(p, NP_ST_UP);
	np_peer_fire_hook(p, "path_change", why);
}

/* ---- background attempts -------------------------------------------------- */

/* A fresh main socket and a REGISTER from it: the server sees a new
 * endpoint and pushes a new round to both peers (np_switch_peer_info). */
static void register_fresh(struct np_peer *p)
{
	int rc = np_sock_renew_main(p);

	if (rc < 0) {
		np_warn_e(rc, "background direct attempt: no fresh socket");
		np_pathsel_try_failed(&p->ps, now_ms(p));
		return;
	}
	np_peer_main_socket_changed(p);
	p->sw_renewed_at = ev_now(p->loop);
	np_peer_send_register(p);
}

static void on_sw_disc(const struct np_discovery_result *res, void *arg)
{
	struct np_peer *p = arg;
	int then_try = p->sw_disc_try;
	char old[32], now[32], a[NP_ADDR_STRLEN];

	p->sw_disc = NULL;
	p->sw_disc_try = 0;
	if (!p->sw_on || p->st != NP_ST_UP)
		return;
	p->sw_disc_at = ev_now(p->loop);
	if (!res->error) {
		int changed = p->self_nat.known && res->nat.known &&
			      (strcmp(np_natclass_kind_str(&p->self_nat, old, sizeof(old)),
				      np_natclass_kind_str(&res->nat, now, sizeof(now))) != 0 ||
			       (p->self_public.family && res->public_ep.family == p->self_public.family &&
				!np_addr_same_ip(&res->public_ep, &p->self_public)));

		if (changed) {
			np_info("our NAT changed: %s -> %s (public %s): looking for a direct path now", old, now,
				np_astr(&res->public_ep, a));
			p->sw_hint = 1;
			np_pathsel_hint(&p->ps, now_ms(p));
		}
		p->self_nat = res->nat;
	}
	if (then_try && p->ps.path == NP_PATH_RELAYED && !p->ps.have_cand && !p->sw_punch) {
		np_info("looking for a direct path in the background (attempt %u): registering from a fresh socket",
			p->ps.tries);
		register_fresh(p);
	}
	else
		poll_now(p);
}

static void discover(struct np_peer *p, int then_try)
{
	int rc;

	if (p->sw_disc) {
		p->sw_disc_try |= then_try;
		return;
	}
	rc = np_peer_discover(p, on_sw_disc, &p->sw_disc);
	if (rc < 0) {
		p->sw_disc = NULL;
		if (then_try)
			register_fresh(p);
		return;
	}
	p->sw_disc_try = then_try;
}

static void start_try(struct np_peer *p)
{
	/* Periodic attempts come from the "high" peer; the other joins the
	 * round the server pushes. A hint starts one from either side. */
	if (!p->high && !p->sw_hint) {
		np_pathsel_try_failed(&p->ps, now_ms(p));
		return;
	}
	p->sw_hint = 0;
	if (p->sw_punch)
		return;
	if (p->sw_disc_at && ev_now(p->loop) - p->sw_disc_at < DISC_FRESH_S) {
		np_info("looking for a direct path in the background (attempt %u): registering from a fresh socket",
			p->ps.tries);
		register_fresh(p);
	} else
		discover(p, 1);
}

static void on_natcheck(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;

	(void)loop;
	(void)revents;
	if (p->sw_on && p->st == NP_ST_UP && p->ps.path == NP_PATH_RELAYED && !p->sw_punch && !p->ps.have_cand)
		discover(p, 0);
}

static void on_sw_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	struct np_pathsel_out out;
	uint64_t next, last = 0;
	char a[NP_ADDR_STRLEN];

	(void)loop;
	(void)revents;
	if (!p->sw_on || p->st != NP_ST_UP)
		return;
	if (p->ps.path == NP_PATH_DIRECT)
		last = (uint64_t)(p->last_rx * 1000.0);
	next = np_pathsel_poll(&p->ps, now_ms(p), last, relay_ok(p), &out);
	if (out.act & NP_PS_CAND_DROPPED) {
		np_info("the direct path to %s does not answer: dropped; staying relayed",
			np_astr(&p->cand_peer, a));
		drop_candidate(p);
	}
	if (out.act & NP_PS_PROBE) {
		if (p->ps.path == NP_PATH_DIRECT)
			np_pmtud_send_to(p, p->path_sock, &p->path_peer, NP_PATH_MSG_PROBE, out.probe_id, 0,
					 NP_PMTU_MSG_LEN);
		else if (p->cand_peer.family)
			np_pmtud_send_to(p, p->cand_sock, &p->cand_peer, NP_PATH_MSG_PROBE, out.probe_id, 0,
					 NP_PMTU_MSG_LEN);
	}
	if (out.act & NP_PS_TO_DIRECT)
		to_direct(p, out.why);
	if (out.act & NP_PS_TO_RELAYED)
		to_relayed(p, out.why);
	if (out.act & NP_PS_TRY)
		start_try(p);
	if (!ev_is_active(&p->sw_timer) && p->sw_on) {
		ev_timer_set(&p->sw_timer, (double)next / 1000.0, 0.);
		ev_timer_start(p->loop, &p->sw_timer);
	}
}

/* ---- what the rest of the tunnel calls ------------------------------------ */

void np_switch_init(struct np_peer *p)
{
	ev_timer_init(&p->sw_timer, on_sw_timer, 1., 0.);
	ev_timer_init(&p->sw_natcheck, on_natcheck, NATCHECK_S, NATCHECK_S);
	p->sw_timer.data = p->sw_natcheck.data = p;
}

void np_switch_up(struct np_peer *p)
{
	np_switch_stop(p);
	if (!p->relay || !p->secure || p->cfg->relay_mode == NP_RELAY_NEVER)
		return;
	p->sw_on = 1;
	np_pathsel_init(&p->ps, NULL, np_relay_on_path(p) ? NP_PATH_RELAYED : NP_PATH_DIRECT, now_ms(p));
	if (p->cfg->relay_mode == NP_RELAY_ALWAYS && np_relay_on_path(p)) {
		p->sw_on = 0; /* --relay always: stays relayed */
		return;
	}
	if (np_relay_on_path(p) && (p->regtcp || p->relay_peer_tcp)) {
		/* A side registered over TCP (np_regtcp.c): its network passes
		 * no UDP, so there is no direct path to look for. */
		p->sw_on = 0;
		np_info("not looking for a direct path in the background: %s no UDP",
			p->regtcp ? "this network passes" : "the peer's network passes");
		return;
	}
	if (np_relay_on_path(p))
		natcheck_arm(p);
	poll_now(p);
}

void np_switch_stop(struct np_peer *p)
{
	p->relay_gap = 0;
	p->sw_on = 0;
	p->sw_punch = 0;
	p->sw_hint = 0;
	forget_candidate(p);
	ev_timer_stop(p->loop, &p->sw_timer);
	ev_timer_stop(p->loop, &p->sw_natcheck);
	if (p->sw_disc) {
		np_discovery_cancel(p->sw_disc);
		p->sw_disc = NULL;
	}
}

int np_switch_peer_info(struct np_peer *p, const struct np_msg_peer_info *m)
{
	if (!p->sw_on || p->ps.path != NP_PATH_RELAYED)
		return 0;
	if (p->ps.have_cand)
		return 1; /* a candidate is being verified: that one first */
	/* The peer started it: join from a fresh socket too, so the server
	 * (and so the peer) sees our NAT's newest mapping, as a normal cycle
	 * does; the round that makes is the one both punch. */
	if (ev_now(p->loop) - p->sw_renewed_at > JOIN_FRESH_S) {
		np_info("the peer looks for a direct path (round %u): joining from a fresh socket", m->round);
		register_fresh(p);
		return 1;
	}
	np_info("background direct attempt (round %u) while the relay carries the tunnel", m->round);
	p->sw_punch = 1;
	np_sock_close_extra(p, -1);
	np_peer_bg_punch(p, m); /* a failure is reported through np_switch_punch_failed */
	return 1;
}

void np_switch_punch_found(struct np_peer *p, int sock_id, const np_addr_t *peer)
{
	char a[NP_ADDR_STRLEN];

	p->sw_punch = 0;
	if (!p->sw_on || p->ps.path != NP_PATH_RELAYED) {
		np_sock_close_extra(p, -1);
		return;
	}
	if (p->ps.have_cand) { /* the peer's probes got there first */
		np_sock_close_extra(p, p->cand_sock);
		return;
	}
	np_sock_close_extra(p, sock_id);
	p->cand_sock = sock_id;
	p->cand_peer = *peer;
	np_pathsel_candidate(&p->ps, now_ms(p));
	np_info("direct path to %s found in the background (%s): verifying it before switching", np_astr(peer, a),
		np_punch_strategy_name(&p->punch));
	poll_now(p);
}

void np_switch_punch_failed(struct np_peer *p, const char *reason)
{
	p->sw_punch = 0;
	np_sock_close_extra(p, p->ps.have_cand ? p->cand_sock : -1);
	if (!p->sw_on)
		return;
	np_pathsel_try_failed(&p->ps, now_ms(p));
	if (!p->ps.have_cand)
		np_info("no direct path in the background: %s; staying relayed (next attempt in %.0f s)", reason,
			p->ps.next_try > now_ms(p) ? (double)(p->ps.next_try - now_ms(p)) / 1000.0 : 0.0);
}

int np_switch_accepts(const struct np_peer *p, int sock_id)
{
	return p->sw_on && (p->sw_punch || (p->cand_peer.family && sock_id == p->cand_sock));
}

int np_switch_other_path(struct np_peer *p, struct np_sock *s, const np_addr_t *from)
{
	(void)s;
	if (!p->sw_on)
		return 0;
	/* Relayed: whatever does not come from the relay came directly.
	 * Direct: the relay's packets (the peer fell back first). Anything
	 * else is the direct endpoint moving (roaming), as without a relay. */
	if (np_relay_on_path(p) || np_relay_is_peer(p, from)) {
		p->last_rx_other = ev_now(p->loop);
		return 1;
	}
	return 0;
}

void np_switch_msg(struct np_peer *p, struct np_sock *s, const np_addr_t *from, int type, uint32_t id)
{
	char a[NP_ADDR_STRLEN];

	if (type == NP_PATH_MSG_PROBE) {
		/* Answered over the path it came on: that is what it tests. */
		np_pmtud_send_to(p, s->id, from, NP_PATH_MSG_ACK, id, 0, NP_PMTU_MSG_LEN);
		if (p->sw_on && p->ps.path == NP_PATH_RELAYED && !p->ps.have_cand && !np_relay_is_peer(p, from)) {
			p->cand_sock = s->id;
			p->cand_peer = *from;
			np_pathsel_candidate(&p->ps, now_ms(p));
			np_info("the peer probes us over a direct path from %s: verifying it before switching",
				np_astr(from, a));
			poll_now(p);
		}
		return;
	}
	if (!p->sw_on)
		return;
	np_pathsel_ack(&p->ps, id, now_ms(p));
	if (p->ps.path == NP_PATH_RELAYED)
		poll_now(p);
}

size_t np_switch_status(struct np_peer *p, char *buf, size_t cap)
{
	size_t n = 0;
	double now = ev_now(p->loop);
	uint64_t ms = now_ms(p);
	char a[NP_ADDR_STRLEN];

#define R(...) np_status_add(buf, cap, &n, __VA_ARGS__)
	if (p->st == NP_ST_UP && p->path_why[0])
		R("path_reason: %s\n", p->path_why);
	R("path_switches: %u\n", p->path_switches);
	if (p->path_switches) {
		const struct np_path_switch *last = &p->path_hist[(p->path_switches - 1) % NP_PATH_HISTORY];

		R("last_switch: %s\n", last->to);
		R("last_switch_reason: %s\n", last->why);
		R("last_switch_seconds_ago: %.0f\n", now - last->at);
	}
	for (unsigned i = p->path_switches > NP_PATH_HISTORY ? p->path_switches - NP_PATH_HISTORY : 0;
	     i < p->path_switches; i++) {
		const struct np_path_switch *h = &p->path_hist[i % NP_PATH_HISTORY];
		R("path_switch_%u: %.0f s ago to %s: %s\n", i + 1, now - h->at, h->to, h->why);
	}
	if (p->sw_on) {
		if (p->ps.path == NP_PATH_RELAYED) {
			if (p->cand_peer.family)
				R("direct_candidate: %s (%u answered probes in a row)\n", np_astr(&p->cand_peer, a),
				  p->ps.good);
			R("direct_attempts: %u\n", p->ps.tries);
			R("direct_attempt_running: %s\n", p->sw_punch ? "yes" : "no");
			if (!p->cand_peer.family && !p->sw_punch)
				R("direct_next_attempt_s: %.0f\n",
				  p->ps.next_try > ms ? (double)(p->ps.next_try - ms) / 1000.0 : 0.0);
		}
		if (p->last_rx_other > 0)
			R("other_path_last_packet_seconds_ago: %.1f\n", now - p->last_rx_other);
		R("path_holddown_s: %.0f\n", (double)p->ps.hold / 1000.0);
		R("path_fallbacks: %u\n", p->ps.fallbacks);
	}
#undef R
	return n;
}
