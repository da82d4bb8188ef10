/* np_recover: what a tunnel does when the peer goes silent, before it asks
 * the server again. A NAT that rebooted (conntrack flushed) or renumbered,
 * or a server that is gone, should not cost more than a few seconds past
 * the moment the silence is noticed.
 *
 * When: np_recover_suspect_s() after the last packet from the peer (the
 * keepalive interval + 2 s: both sides send at least one keepalive per
 * interval, so by then one was lost or the path is gone), not the dead
 * timer. Everything sent on the old path and the slot path is a liveness
 * probe (an in-tunnel PMTU_PROBE without padding and size 0, which the peer
 * answers with a PMTU_ACK at once): if only a keepalive was lost, the answer
 * ends the recovery within a round trip. The tunnel goes down no earlier
 * than the dead timer (--dead-after) and no earlier than the budget below
 * after the start.
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
 * When the budget is spent, the tunnel goes down and registers again (from a
 * fresh socket, see np_peer.c). Only with keys: without them nothing could
 * tell the peer's packets from anyone else's on a new endpoint. */
#include "np_peer_int.h"

#define NP_LOG_COMPONENT "recover"
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
	if (now - p->recover_old_at >= RECOVER_OLD_MS / 1000.0) {
		p->recover_old_at = now;
		send_keepalive_to(p, p->path_sock, &p->path_peer, 0);
	}
	if (now - p->recover_reg_at >= RECOVER_REG_MS / 1000.0) {
		p->recover_reg_at = now;
		np_peer_send_register(p);
	}
	if (p->recover_fresh) {
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

void np_recover_init(struct np_peer *p)
{
	ev_timer_init(&p->recover_timer, on_recover_tick, RECOVER_TICK_MS / 1000.0, 0.);
	p->recover_timer.data = p;
	p->recover_sock = -1;
}

int np_recover_start(struct np_peer *p)
{
	char a[NP_ADDR_STRLEN];

	if (!p->secure || !p->path_peer.family || !p->socks[p->path_sock])
		return -1;
	p->recovering = 1;
	p->recover_fresh = preserving(&p->self_nat) && preserving(&p->peer_nat);
	p->recover_start_at = ev_now(p->loop);
	p->recover_rx0 = p->last_rx;
	p->recover_until = p->recover_start_at + recover_budget(p);
	if (p->recover_until < p->last_rx + p->cfg->dead_after_s)
		p->recover_until = p->last_rx + p->cfg->dead_after_s;
	p->recover_started_ms = np_mono_ms();
	p->recover_old_at = 0;
	p->recover_reg_at = 0;
	p->recover_slot = (uint64_t)-1;
	p->recover_sock = -1;
	np_info("no packet from the peer for %.1f s: re-punching toward %s for up to %.1f s%s, same session keys",
		ev_now(p->loop) - p->last_rx, np_astr(&p->path_peer, a), p->recover_until - p->recover_start_at,
		p->recover_fresh ? " (old path and fresh ports)" : " (old path)");
	on_recover_tick(p->loop, &p->recover_timer, 0);
	return 0;
}

void np_recover_stop(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->recover_timer);
	close_slot_socket(p);
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
		np_info("the peer answered on the same path after %.1f s of silence: carrying on", silent);
		np_peer_recovered(p);
		return;
	}
	p->recoveries++;
	np_info("tunnel recovered: peer %s via %s after %llu ms of re-punching, same session keys", np_astr(from, a),
		fresh ? "fresh ports" : "the last endpoints",
		(unsigned long long)(np_mono_ms() - p->recover_started_ms));
	np_peer_fire_hook(p, "endpoint_change", fresh ? "recovered on fresh ports" : "recovered");
	np_peer_recovered(p);
}
