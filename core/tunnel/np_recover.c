/* np_recover: what a tunnel does when the peer goes silent, before it asks
 * the server again. A NAT that rebooted (conntrack flushed) or renumbered,
 * or a server that is gone, should not cost more than a few seconds past
 * the moment the silence is noticed.
 *
 * When, for an idle tunnel (the slow rule): np_recover_suspect_s() after the
 * last packet from the peer (the keepalive interval + 2 s: both sides send
 * at least one keepalive per interval, so by then one was lost or the path
 * is gone), not the dead timer.
 * When, for an active one (np_silence.h): data sent and nothing heard for
 * silence_suspect_s() (2 s) since the first unanswered data packet. The
 * peer answers data within silence_passive_s() (0.5 s) even when it has
 * nothing to send (a passive keepalive), so this takes two losses in a row
 * or a dead path. Such an early start only probes the old path and asks
 * the server (a REGISTER): when the old path answers, the suspicion was
 * false, and it cost a few small packets and a REGISTER the server answers
 * with the round we have; nothing is torn down. When our own public
 * endpoint changed (a NAT that renumbered), the server's answer says so
 * (a new round, or our address in it is not the one the tunnel came up
 * with), and the tunnel registers afresh at once (np_peer.c): the peer's
 * NAT filters our new address, and our packets toward it have left an
 * entry there that spoils our old port, so only a new pairing gets
 * through. The fresh ports below start only at the slow rule's silence,
 * as before (they are for NAT resets, and need both sides recovering).
 * Relayed tunnels, and tunnels that may fall back to a relay (np_pathsel.h
 * has its own faster silence rule), keep the slow rule.
 * Everything sent on the old path and the slot path is a liveness probe (an
 * in-tunnel PMTU_PROBE without padding and size 0, which the peer answers
 * with a PMTU_ACK at once): if only a keepalive was lost, the answer ends the
 * recovery within a round trip. The tunnel goes down no earlier than the
 * dead timer (--dead-after) and no earlier than the budget below after the
 * start, except where a new round is the only way back (below: a NAT that
 * does not preserve ports, a renumbering, the peer registering again).
 *
 * The session keys stay (as WireGuard's roaming does): any authenticated
 * packet from the peer, on any of our sockets, from any endpoint, ends the
 * recovery at once, and the tunnel carries on under the same keys, with no
 * new handshake and no new registration.
 *
 * Two things run together for at most recover_budget() seconds:
 *   - the old path: an authenticated keepalive from the main socket to the
 *     peer's last endpoint every RECOVER_OLD_MS. Enough when only one NAT
 *     forgot us, or when the forgetting created no conflicting state.
 *   - a fresh pair of sockets (only between port-preserving NATs). After a
 *     reset, the NATs often hold "reply-less" entries that make the old
 *     ports unusable (the conntrack clash: our next mapping toward the peer
 *     gets a random port, and every packet we send keeps that state alive).
 *     Both peers can agree on new ports without a server: wall-clock slots
 *     of RECOVER_SLOT_MS, and in slot k each side binds the port
 *     recover_port(probe key, side, k). In the first RECOVER_OPEN_MS of the
 *     slot each side sends openers (TTL = NAT depth + 1, as the punch
 *     does: they create our mapping and die before the peer's NAT), then
 *     authenticated keepalives every RECOVER_TICK_MS to the peer's last
 *     address at the peer's slot port. A port-preserving NAT maps the new
 *     port to itself, so both mappings exist before either side's packets
 *     arrive. The peers' clocks must agree to a few hundred ms (they already
 *     must for the server's registration tokens). A side that enters
 *     recovery late starts with the next slot; reply-less entries its peer
 *     left behind only concern the old slot's ports.
 * Meanwhile a REGISTER goes to the server every RECOVER_REG_MS from the main
 * socket: if the peer restarted or either side's public endpoint changed (a
 * NAT that renumbered), the server starts a new round, and its PEER_INFO
 * ends the recovery with a punch (np_peer.c); if nothing changed, the
 * server's answer repeats the round we have and changes nothing; if the
 * server is gone, nothing answers.
 * Between NATs that do not both preserve ports there are no fresh ports, and
 * an old path a reset spoiled stays spoiled (the clash: every packet we send
 * refreshes it; an EIM NAT that does not preserve ports maps the old port to
 * the same public port, so the server sees nothing change and starts no new
 * round). Such a recovery runs NAT discovery at once, from fresh sockets:
 * its answer shows the server is there. Once the old path had its short try
 * past the slow rule's silence (7 + 1.5 s) and the server answered, the
 * tunnel goes down and registers afresh at once, with those facts (taken
 * after the fault: no second discovery), instead of waiting for the dead
 * timer; the peer follows on the new round. With the server gone, the old
 * path goes on until the dead timer. Between sequential NATs neither that
 * early discovery nor an early start's REGISTERs (before the slow rule's
 * silence) are used: a registration sooner than the peer's makes a round
 * the peer joins late, after our punch spent the ports it predicts.
 * When the budget is spent, the tunnel goes down and registers again (from a
 * fresh socket, see np_peer.c). Only with keys: without them nothing could
 * tell the peer's packets from anyone else's on a new endpoint. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "recover"
#include "np_discovery.h"
#include "np_log.h"
#include "np_time.h"
#include "np_udp.h"
#include "np_wire.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define RECOVER_SLOT_MS 1500
#define RECOVER_OPEN_MS 400   /* openers only, at the start of a slot */
#define RECOVER_JOIN_MS 200   /* a slot this far along can still be joined */
#define RECOVER_TICK_MS 100
#define RECOVER_OLD_MS 300
#define RECOVER_REG_MS 1000
#define PRE_MAX_AGE_S 15.0    /* a discovery run while re-punching is used this long */

static int preserving(const np_nat_info_t *n)
{
	return !n->known || n->mapping == NP_NAT_MAP_NONE || n->allocation == NP_NAT_ALLOC_PRESERVE;
}

/* Seconds of recovery before the server is asked: long enough for the peer,
 * whose dead timer may fire up to a keepalive interval later, to join two
 * common slots; only the old path (a short try) when a fresh port would not
 * map to itself. */
static double recover_budget(const struct np_peer *p)
{
	if (!p->recover_fresh)
		return 1.5;
	return p->cfg->keepalive_s + 2.0 * RECOVER_SLOT_MS / 1000.0 + 0.5;
}

static uint16_t recover_port(const struct np_peer *p, int high, uint64_t slot)
{
	uint8_t in[11 + 1 + 8], out[4];
	uint32_t v;

	memcpy(in, "np-recover", 11);
	in[11] = (uint8_t)!!high;
	for (int i = 0; i < 8; i++)
		in[12 + i] = (uint8_t)(slot >> (8 * i));
	crypto_generichash(out, sizeof(out), in, sizeof(in), p->probe_key, sizeof(p->probe_key));
	v = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 | (uint32_t)out[2] << 8 | out[3];
	return (uint16_t)(10000 + v % 50000);
}

double np_recover_suspect_s(const struct np_peer *p)
{
	double s = p->cfg->keepalive_s + 2.0;

	return s < p->cfg->dead_after_s ? s : p->cfg->dead_after_s;
}

/* The fast rule's times: never slower than the slow rule. */
static double silence_suspect_s(const struct np_peer *p)
{
	double s = np_recover_suspect_s(p);

	return s < NP_SILENCE_SUSPECT_S ? s : NP_SILENCE_SUSPECT_S;
}

static double silence_passive_s(const struct np_peer *p)
{
	return p->cfg->keepalive_s < NP_SILENCE_PASSIVE_S ? p->cfg->keepalive_s : NP_SILENCE_PASSIVE_S;
}

/* An authenticated liveness probe from socket `id` to `to`, TTL-limited if
 * ttl: a PMTU_PROBE of size 0 (no search ever uses that size), which the
 * peer answers. */
static void send_keepalive_to(struct np_peer *p, int id, const np_addr_t *to, int ttl)
{
	uint8_t buf[NP_TRANSPORT_HDR_LEN + NP_PMTU_MSG_LEN + NP_TRANSPORT_TAG_LEN + 16];
	size_t len = 0;
	uint32_t pid;

	randombytes_buf(&pid, sizeof(pid));
	np_pmtu_msg_encode(buf + NP_TRANSPORT_HDR_LEN, NP_PMTU_MSG_LEN, NP_PMTU_MSG_PROBE, pid, 0);
	if (np_session_encrypt(&p->sess, np_mono_ms(), buf, NP_PMTU_MSG_LEN, sizeof(buf), &len) < 0)
		return;
	if (np_sock_send(p, id, to, buf, len, ttl) == 0 && id == p->path_sock)
		p->last_tx = ev_now(p->loop);
}

static void close_slot_socket(struct np_peer *p)
{
	if (p->recover_sock > 0)
		np_sock_close(p, p->recover_sock);
	p->recover_sock = -1;
}

/* Opens the socket of slot `slot`; -1 when its port is taken (skip it). */
static void open_slot_socket(struct np_peer *p, uint64_t slot)
{
	char a[NP_ADDR_STRLEN];
	int id = -1;

	close_slot_socket(p);
	p->recover_slot = slot;
	for (int i = 1; i <= MAX_EXTRA_SOCKETS; i++)
		if (!p->socks[i]) {
			id = i;
			break;
		}
	if (id < 0 || np_sock_open(p, id, recover_port(p, p->high, slot)) < 0)
		return;
	p->recover_sock = id;
	p->recover_peer = p->path_peer;
	p->recover_peer.port = recover_port(p, !p->high, slot);
	np_debug("recovery slot %llu: port %u -> %s", (unsigned long long)slot, recover_port(p, p->high, slot),
		 np_astr(&p->recover_peer, a));
}

static void on_recover_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	uint64_t wall = np_wall_ms(), slot = wall / RECOVER_SLOT_MS, off = wall % RECOVER_SLOT_MS;
	double now = ev_now(loop);

	if (!p->recovering)
		return;
	if (now >= p->recover_until) {
		char why[128];
		snprintf(why, sizeof(why), "no packet from the peer for %.0f s, and none on the last endpoints in %.1f s",
			 p->cfg->dead_after_s, now - p->recover_start_at);
		np_recover_stop(p);
		np_peer_tunnel_down(p, why);
		return;
	}
	/* Between NATs that do not both preserve ports there are no fresh
	 * ports to try, only the old path; once it had its short try past
	 * the slow rule's silence, waiting for the dead timer gains nothing
	 * if the server is there to pair us again (it answered during this
	 * recovery): register afresh now. The peer, recovering too, follows
	 * on the new round. A direct path only: a relayed one keeps the
	 * dead timer. With the server gone: the old path, until the dead
	 * timer. */
	if (!p->recover_fresh && !np_relay_on_path(p) && p->server_heard_at >= p->recover_start_at &&
	    now - p->last_rx >= np_recover_suspect_s(p) + recover_budget(p) &&
	    now - p->recover_start_at >= recover_budget(p)) {
		char why[160];
		snprintf(why, sizeof(why),
			 "no packet from the peer for %.1f s and none on the last endpoints; a NAT does not preserve "
			 "ports, so only a new round can help: registering afresh",
			 now - p->last_rx);
		np_recover_stop(p);
		np_peer_tunnel_down(p, why);
		return;
	}
	if (now - p->recover_old_at >= RECOVER_OLD_MS / 1000.0) {
		p->recover_old_at = now;
		send_keepalive_to(p, p->path_sock, &p->path_peer, 0);
	}
	/* Between sequential NATs an early start (one side's data went
	 * unanswered) asks the server only from the slow rule's silence on:
	 * its REGISTER makes a new round at once, and the side that is not
	 * suspecting yet (one-way traffic) would join it seconds later,
	 * after this side's punch spent the ports the server names it at.
	 * Both reach the slow rule within a round trip of each other. */
	if (now - p->recover_reg_at >= RECOVER_REG_MS / 1000.0 &&
	    (!p->recover_early || now - p->last_rx >= np_recover_suspect_s(p) - 0.001 ||
	     !np_peer_seq_pair(p))) {
		p->recover_reg_at = now;
		np_peer_send_register(p);
	}
	/* Fresh ports only from the slow rule's silence on (both peers get
	 * there; an early start may be a false suspicion). */
	if (p->recover_fresh && now - p->last_rx >= np_recover_suspect_s(p) - 0.001) {
		if (slot != p->recover_slot && off < RECOVER_JOIN_MS)
			open_slot_socket(p, slot);
		if (p->recover_sock > 0 && slot == p->recover_slot) {
			if (off < RECOVER_OPEN_MS) {
				int ttl = np_punch_opener_ttl(&p->punch.a); /* an opener's TTL */

				if (ttl > 0)
					send_keepalive_to(p, p->recover_sock, &p->recover_peer, ttl);
			} else {
				send_keepalive_to(p, p->recover_sock, &p->recover_peer, 0);
			}
		}
	}
	ev_timer_set(w, RECOVER_TICK_MS / 1000.0, 0.);
	ev_timer_start(loop, w);
}

/* ---- the fast silence rule (np_silence.h) ------------------------------- */

static int suspicion_applies(const struct np_peer *p)
{
	return p->st == NP_ST_UP && p->secure && !p->recovering && !p->stopping && !np_relay_on_path(p) &&
	       !p->sw_on;
}

static void silence_arm(struct np_peer *p)
{
	double now = ev_now(p->loop);
	double next = np_silence_next(&p->silence, p->last_rx, p->last_tx, silence_suspect_s(p),
				      silence_passive_s(p), now);

	if (!next)
		return;
	if (ev_is_active(&p->silence_timer)) {
		if (ev_timer_remaining(p->loop, &p->silence_timer) <= next - now + 0.001)
			return;
		ev_timer_stop(p->loop, &p->silence_timer);
	}
	ev_timer_set(&p->silence_timer, next - now, 0.);
	ev_timer_start(p->loop, &p->silence_timer);
}

static void on_silence(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	double now = ev_now(loop), at;

	(void)revents;
	if (p->st != NP_ST_UP)
		return;
	at = np_silence_passive_at(&p->silence, p->last_tx, silence_passive_s(p));
	if (at && now >= at - 0.001)
		np_dp_send_keepalive(p);
	at = np_silence_suspect_at(&p->silence, p->last_rx, silence_suspect_s(p));
	if (at && now >= at - 0.001) {
		np_silence_suspected(&p->silence);
		if (suspicion_applies(p))
			np_recover_start(p, 1);
	}
	silence_arm(p);
}

void np_recover_data_sent(struct np_peer *p)
{
	if (np_silence_data_sent(&p->silence, p->last_rx, ev_now(p->loop)) || !ev_is_active(&p->silence_timer))
		silence_arm(p);
}

void np_recover_data_heard(struct np_peer *p)
{
	if (np_silence_data_heard(&p->silence, p->last_tx, ev_now(p->loop)))
		silence_arm(p);
}

void np_recover_silence_reset(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->silence_timer);
	np_silence_reset(&p->silence);
	if (p->recover_disc)
		np_discovery_cancel(p->recover_disc);
	p->recover_disc = NULL;
}

/* ---- our public address changed while up ---------------------------------- */

/* A peer that moved to another network keeps its tunnel (the peer follows
 * it, or a rejoin does), but the NAT facts it punches and registers with
 * (kind, depth: whether openers go out) are those of the old network.
 * The next re-punch (a renumbering, a reset) needs the new ones. */
static void on_moved_disc(const struct np_discovery_result *res, void *arg)
{
	struct np_peer *p = arg;
	char before[32], after[32];
	np_addr_t local = p->self_local;
	int depth = p->nat_depth;

	p->recover_disc = NULL;
	if (p->st != NP_ST_UP || res->error)
		return;
	np_natclass_kind_str(&p->self_nat, before, sizeof(before));
	p->self_nat = res->nat;
	np_peer_learn_depth(p);
	np_peer_main_socket_changed(p); /* our LAN address may be another */
	if (!p->self_local.family)
		p->self_local = local;
	np_info("our public address changed while up: NAT discovery again: %s -> %s, depth %d -> %d", before,
		np_natclass_kind_str(&p->self_nat, after, sizeof(after)), depth, p->nat_depth);
}

void np_recover_self_moved(struct np_peer *p)
{
	if (p->recover_disc || p->st != NP_ST_UP)
		return;
	if (np_peer_discover(p, on_moved_disc, &p->recover_disc) < 0)
		p->recover_disc = NULL;
}

void np_recover_init(struct np_peer *p)
{
	ev_timer_init(&p->recover_timer, on_recover_tick, RECOVER_TICK_MS / 1000.0, 0.);
	ev_timer_init(&p->silence_timer, on_silence, 1., 0.);
	p->recover_timer.data = p->silence_timer.data = p;
	p->recover_sock = -1;
	np_silence_reset(&p->silence);
}

/* ---- a discovery while re-punching --------------------------------------- */

static void cancel_pre_disc(struct np_peer *p)
{
	if (p->pre_disc)
		np_discovery_cancel(p->pre_disc);
	p->pre_disc = NULL;
}

static void on_pre_disc(const struct np_discovery_result *res, void *arg)
{
	struct np_peer *p = arg;

	p->pre_disc = NULL;
	if (!p->recovering || res->error)
		return;
	p->pre_res = *res;
	p->pre_at = p->server_heard_at = ev_now(p->loop);
}

const struct np_discovery_result *np_recover_take_discovery(struct np_peer *p, double *ago_s)
{
	double at = p->pre_at;

	p->pre_at = 0;
	*ago_s = ev_now(p->loop) - at;
	if (!at || *ago_s > PRE_MAX_AGE_S || !np_addr_equal(&p->pre_server, &p->server))
		return NULL;
	return &p->pre_res;
}

int np_recover_start(struct np_peer *p, int early)
{
	char a[NP_ADDR_STRLEN];
	double from;

	if (!p->secure || !p->path_peer.family || !p->socks[p->path_sock])
		return -1;
	p->recovering = 1;
	p->recover_early = early;
	p->recover_fresh = preserving(&p->self_nat) && preserving(&p->peer_nat);
	p->recover_start_at = ev_now(p->loop);
	p->recover_rx0 = p->last_rx;
	/* The budget counts from the slow rule's start (the fresh ports'). */
	from = p->recover_start_at;
	if (p->recover_fresh && from < p->last_rx + np_recover_suspect_s(p))
		from = p->last_rx + np_recover_suspect_s(p);
	p->recover_until = from + recover_budget(p);
	if (p->recover_until < p->last_rx + p->cfg->dead_after_s)
		p->recover_until = p->last_rx + p->cfg->dead_after_s;
	p->recover_started_ms = np_mono_ms();
	p->recover_old_at = 0;
	p->recover_reg_at = 0;
	p->recover_slot = (uint64_t)-1;
	p->recover_sock = -1;
	/* No fresh ports to try: the way out is a new round through the
	 * server. Discovery now shows whether it is there, and gives the
	 * registration that may follow facts from after the fault. */
	cancel_pre_disc(p);
	p->pre_at = 0;
	/* Not between sequential NATs: there the registration that follows
	 * must not come sooner than the peer's, which has no such facts
	 * when its tunnel goes down on our new round (it discovers for 1 s):
	 * our punch would spend the ports the server names us at before the
	 * peer joins. */
	if (!p->recover_fresh && !np_relay_on_path(p) && !np_peer_seq_pair(p)) {
		p->pre_server = p->server;
		if (np_peer_discover(p, on_pre_disc, &p->pre_disc) < 0)
			p->pre_disc = NULL;
	}
	if (early) {
		p->suspicions++;
		np_info("data sent for %.1f s and no packet from the peer (last %.1f s ago): probing %s and asking the "
			"server, same session keys",
			ev_now(p->loop) - p->silence.tx_unanswered, ev_now(p->loop) - p->last_rx,
			np_astr(&p->path_peer, a));
	} else {
		np_info("no packet from the peer for %.1f s: re-punching toward %s for up to %.1f s%s, same session keys",
			ev_now(p->loop) - p->last_rx, np_astr(&p->path_peer, a),
			p->recover_until - p->recover_start_at,
			p->recover_fresh ? " (old path and fresh ports)" : " (old path)");
	}
	on_recover_tick(p->loop, &p->recover_timer, 0);
	return 0;
}

/* The facts stay for np_recover_take_discovery() (the registration that
 * may follow at once). */
void np_recover_stop(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->recover_timer);
	close_slot_socket(p);
	cancel_pre_disc(p);
	p->recovering = 0;
}


int np_recover_accepts(const struct np_peer *p, int sock_id)
{
	return p->recovering && sock_id > 0 && sock_id == p->recover_sock;
}

void np_recover_done(struct np_peer *p, struct np_sock *s, const np_addr_t *from)
{
	char a[NP_ADDR_STRLEN];
	int fresh = s->id != 0;
	/* Only a keepalive was lost: the peer answered on the same path
	 * before the dead timer. Nothing moved; no hook. */
	double silent = ev_now(p->loop) - p->recover_rx0;
	int same = !fresh && np_addr_equal(from, &p->path_peer) && silent < p->cfg->dead_after_s;

	ev_timer_stop(p->loop, &p->recover_timer);
	cancel_pre_disc(p);
	p->pre_at = 0;
	if (fresh) {
		/* The slot socket becomes the main one; the old one closes. */
		p->recover_sock = -1;
		np_sock_promote(p, s->id);
	} else {
		close_slot_socket(p);
	}
	p->recovering = 0;
	p->path_sock = 0;
	p->path_peer = *from;
	if (same) {
		if (p->recover_early)
			p->suspicions_false++;
		np_info("the peer answered on the same path after %.1f s of silence: carrying on", silent);
		np_peer_recovered(p, 0);
		return;
	}
	p->recoveries++;
	np_info("tunnel recovered: peer %s via %s after %llu ms of re-punching, same session keys", np_astr(from, a),
		fresh ? "fresh ports" : "the last endpoints",
		(unsigned long long)(np_mono_ms() - p->recover_started_ms));
	np_peer_fire_hook(p, "endpoint_change", fresh ? "recovered on fresh ports" : "recovered");
	np_peer_recovered(p, 1);
}
