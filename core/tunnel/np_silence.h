/* np_silence: "sent but not heard", the fast silence rule of an active
 * tunnel, and the passive keepalive that makes it safe for one-way traffic
 * (as WireGuard's timers, with shorter times). Pure: no I/O, no libev, no
 * clock of its own (times are the caller's ev_now() seconds), so
 * tests/unit/test_silence.c runs it on a fake clock; np_recover.c drives it.
 *
 *  - Suspicion: data sent and nothing authenticated heard since. The wait
 *    starts with the first data packet sent after the last packet heard
 *    from the peer; after suspect_s more without a packet from the peer
 *    the path is suspect (np_recover.c then probes it and asks the server).
 *    Keepalives and probes start no wait: an idle tunnel keeps the slow
 *    rules (a keepalive after --keepalive idle seconds, re-punching at
 *    --keepalive + 2 s of silence, down at --dead-after).
 *  - Passive keepalive: data heard and nothing sent since. passive_s after
 *    the first data packet heard since our last send, a keepalive goes
 *    back, so a peer that only sends hears from us well within its
 *    suspect_s, even with one of our keepalives lost.
 *  - Stopped: the peer's data stopped arriving a short while ago, which
 *    for a tunnel that carried data means a broken path. np_peer.c asks
 *    it when the server names the peer at a new address.
 * A packet heard or sent at the very moment of the other (the same ev_now())
 * counts as an answer. */
#ifndef NP_SILENCE_H
#define NP_SILENCE_H

#define NP_SILENCE_SUSPECT_S 2.0 /* at most; never more than the slow rule */
#define NP_SILENCE_PASSIVE_S 0.5 /* at most; never more than --keepalive */
#define NP_SILENCE_STOPPED_S 1.0 /* quiet this long after data: stopped */

struct np_silence {
	double tx_unanswered; /* first data sent since the last packet heard; 0: none */
	double rx_unanswered; /* first data heard since the last packet sent; 0: none */
	double suspected;     /* the tx_unanswered already reported suspect */
	double data_heard;    /* the last data heard; 0: none yet */
};

void np_silence_reset(struct np_silence *s);
/* Data went to the peer at now; last_rx: the last packet heard from it.
 * 1 when this send starts a wait (the caller arms its timer). */
int np_silence_data_sent(struct np_silence *s, double last_rx, double now);
/* Data came from the peer at now; last_tx: the last packet we sent.
 * 1 when a passive keepalive is now due later (the caller arms its timer). */
int np_silence_data_heard(struct np_silence *s, double last_tx, double now);
/* When the path becomes suspect (tx_unanswered + suspect_s), or 0 when
 * nothing sent is unanswered or this wait was reported already. */
double np_silence_suspect_at(const struct np_silence *s, double last_rx, double suspect_s);
/* The caller acted on (or chose to ignore) the suspicion of this wait: the
 * next one starts with the next data sent after a packet heard. */
void np_silence_suspected(struct np_silence *s);
/* When a passive keepalive is due, or 0 when we sent something since. */
double np_silence_passive_at(const struct np_silence *s, double last_tx, double passive_s);
/* How long data sent has gone unanswered (0: nothing unanswered). */
double np_silence_unanswered(const struct np_silence *s, double last_rx, double now);
/* The peer's traffic stopped: data came until shortly before the last
 * packet heard (within window_s of it; np_peer.c: --keepalive), and nothing
 * at all for quiet_s since. An idle tunnel (no data for longer) never
 * "stopped": its keepalives come seconds apart. */
int np_silence_stopped(const struct np_silence *s, double last_rx, double now, double quiet_s, double window_s);
/* When the earlier of the two is due (one already due: now; 0: neither). */
double np_silence_next(const struct np_silence *s, double last_rx, double last_tx, double suspect_s,
		       double passive_s, double now);

#endif
