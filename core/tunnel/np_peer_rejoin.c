/* np_peer_rejoin: the tunnel's side of np_rejoin (see np_rejoin.h). While
 * up it answers two hints that the peer restarted: the server naming the
 * peer at a new endpoint (a newer round), and an authenticated probe of our
 * pairing arriving after the tunnel went quiet. It probes the candidate
 * from the main socket and, as the initiator, sends a HANDSHAKE_INIT there
 * once the candidate acks. The tunnel stays up meanwhile, on the old path
 * and the old keys; np_peer.c moves the endpoint only on an authenticated
 * handshake response or transport packet. Only with keys, and not on the
 * relayed path (the relay has its own way back). */
#include "np_peer_int.h"

#include "np_auth.h"
#define NP_LOG_COMPONENT "peer"
#include "np_log.h"
#include "np_time.h"

#include <sodium.h>
#include <string.h>

static int applies(const struct np_peer *p)
{
	return p->secure && p->st == NP_ST_UP && !p->stopping && !np_relay_on_path(p);
}

static void arm(struct np_peer *p, uint64_t next_ms, uint64_t now_ms)
{
	ev_timer_stop(p->loop, &p->rejoin_timer);
	if (!next_ms)
		return;
	ev_timer_set(&p->rejoin_timer, next_ms > now_ms ? (double)(next_ms - now_ms) / 1000.0 : 0., 0.);
	ev_timer_start(p->loop, &p->rejoin_timer);
}

static void on_rejoin(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct np_peer *p = w->data;
	uint64_t now = np_mono_ms(), next;
	char a[NP_ADDR_STRLEN], b[NP_ADDR_STRLEN];

	(void)loop;
	(void)revents;
	if (!applies(p)) {
		np_rejoin_done(&p->rejoin);
		return;
	}
	switch (np_rejoin_tick(&p->rejoin, now, &next)) {
	case NP_RJ_OPENERS_NOW:
		for (int i = 0; i < NP_RJ_OPENERS; i++)
			np_punch_send_probe(&p->punch, 0, &p->rejoin.target, NP_PROBE_OPENER);
		break;
	case NP_RJ_PROBE_NOW:
		if (np_punch_send_probe(&p->punch, 0, &p->rejoin.target, 0) < 0)
			np_debug("rejoin: probe to %s refused", np_astr(&p->rejoin.target, a));
		break;
	}
	if (!next && p->rejoin_pending)
		np_info("no answer from %s, where the peer registered again: the tunnel stays on %s",
			np_astr(&p->rejoin.target, a), np_astr(&p->path_peer, b));
	arm(p, next, now);
}

void np_peer_rejoin_init(struct np_peer *p)
{
	ev_timer_init(&p->rejoin_timer, on_rejoin, 1., 0.);
	p->rejoin_timer.data = p;
	np_rejoin_reset(&p->rejoin);
}

void np_peer_rejoin_stop(struct np_peer *p)
{
	ev_timer_stop(p->loop, &p->rejoin_timer);
	np_rejoin_reset(&p->rejoin);
	p->rejoin_pending = 0;
}

void np_peer_rejoin_done(struct np_peer *p)
{
	p->rejoin_pending = 0;
	if (p->rejoin.active) {
		np_rejoin_done(&p->rejoin);
		ev_timer_stop(p->loop, &p->rejoin_timer);
	}
}

void np_peer_rejoin_peer_info(struct np_peer *p, const struct np_msg_peer_info *m)
{
	struct np_punch_attempt a = { 0 };
	np_addr_t before = p->peer_public;
	char s1[NP_ADDR_STRLEN], s2[NP_ADDR_STRLEN];
	uint64_t now = np_mono_ms();

	/* The newest round is the one to compare with from now on (recovery
	 * asks whether the peer registered again since). The tunnel's probe
	 * key (recovery's slot ports) stays that of the pairing it came up in. */
	p->round = m->round;
	p->have_round = 1;
	memcpy(p->pairing, m->pairing, NP_PAIRING_LEN);
	p->self_public = m->observed;
	p->peer_public = m->peer_public;
	p->peer_local = m->peer_local;
	p->peer_nat = m->peer_nat;
	p->peer_mapped = m->peer_mapped;
	if (!applies(p))
		return;
	/* Record the new pairing (its probes are acked, ours carry its key)
	 * without a strategy: the tunnel is up. A peer that restarted on the
	 * same endpoint punches with this round too (the server makes a new
	 * round for a new registration), and its probes start the rejoin. */
	np_peer_attempt_facts(p, m->round, &a);
	a.attempt = p->attempts;
	np_auth_probe_key(p->probe_base, p->pairing, a.probe_key);
	np_punch_pair(&p->punch, &a);
	sodium_memzero(a.probe_key, sizeof(a.probe_key));
	if (np_addr_equal(&m->peer_public, &before) || np_addr_equal(&m->peer_public, &p->path_peer)) {
		np_debug("round %u: the peer's endpoint is unchanged (%s)", m->round, np_astr(&m->peer_public, s1));
		return;
	}
	np_info("the peer registered again from %s (round %u) while the tunnel is up on %s: reaching for it there; "
		"the path moves only once a handshake from there authenticates",
		np_astr(&m->peer_public, s1), m->round, np_astr(&p->path_peer, s2));
	p->rejoin_round = m->round;
	p->rejoin_pending = 1;
	np_rejoin_start(&p->rejoin, &m->peer_public, now);
	arm(p, now, now);
}

void np_peer_rejoin_probe(struct np_peer *p, int sock_id, int verdict, const np_addr_t *from)
{
	uint64_t now = np_mono_ms();
	double t = ev_now(p->loop);
	char a[NP_ADDR_STRLEN];

	if (verdict == NP_PUNCH_RX_NONE || sock_id != 0 || !applies(p))
		return;
	if (verdict == NP_PUNCH_RX_PROBE) {
		if (np_rejoin_probe_rx(&p->rejoin, from, now, (uint64_t)((t - p->up_since) * 1000.0),
				       (uint64_t)((t - p->last_rx) * 1000.0))) {
			np_info("a probe of our pairing from %s while the tunnel is up and quiet: the peer may have "
				"restarted; probing back", np_astr(from, a));
			arm(p, now, now);
		}
		return;
	}
	if (np_rejoin_ack_rx(&p->rejoin, from, now, np_session_is_initiator(&p->sess))) {
		np_info("%s answers our probes: handshake initiation there", np_astr(from, a));
		np_peer_send_init_to(p, 0, from);
	}
}
