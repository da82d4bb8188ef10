/* np_punch: the punch state machine (see np_punch.h). The strategy host
 * (np_host_api_t), probe authentication and acknowledgement, the probe
 * budget and opener rule, the attempt timeout, and the choice of strategy
 * for --strategy=auto. Everything outside goes through pu->up.
 *
 * Whatever the strategy .so does, the core enforces (np_probeguard.h):
 * probes and acks of another round are dropped before their MAC is
 * checked; an address that never answered gets a bounded number of probes
 * per attempt; the LAN endpoint is offered only when private or link-local;
 * succeed() is honoured only for a (socket, address) from which an
 * authenticated ack to our own probe came. */
#include "np_punch.h"

#include "np_auth.h"
#include "np_autoselect.h"
#define NP_LOG_COMPONENT "punch"
#include "np_log.h"
#include "np_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int np_punch_running(const struct np_punch *pu)
{
	return pu->st == NP_PUNCH_RUNNING;
}

const char *np_punch_strategy_name(const struct np_punch *pu)
{
	return pu->mod ? pu->mod->desc.name : pu->cfg_strategy;
}

static const char *astr(const np_addr_t *a, char *buf)
{
	return np_addr_str(a, buf, NP_ADDR_STRLEN);
}

static int same_nat(const struct np_punch_attempt *a);

/* The address of a without its port. */
static const char *ip_str(const np_addr_t *a, char *buf)
{
	if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, buf, NP_ADDR_STRLEN))
		snprintf(buf, NP_ADDR_STRLEN, "none");
	return buf;
}

static void stop_timers(struct np_punch *pu, int first, int last)
{
	for (int i = first; i <= last; i++)
		pu->up->timer_stop(pu->ctx, i);
}

/* Destroys the strategy instance; never called from inside its callbacks. */
static void destroy_strategy(struct np_punch *pu)
{
	stop_timers(pu, 0, NP_HOST_MAX_TIMERS - 1);
	if (pu->strat && pu->mod)
		pu->mod->desc.destroy(pu->strat);
	pu->strat = NULL;
	if (pu->st != NP_PUNCH_IDLE)
		pu->st = NP_PUNCH_DONE;
}

/* Ends the attempt from inside a callback: the reap timer destroys it. */
static void finish(struct np_punch *pu, enum np_punch_state st)
{
	pu->st = st;
	stop_timers(pu, 0, NP_PUNCH_TIMER_ATTEMPT);
	pu->up->timer_start(pu->ctx, NP_PUNCH_TIMER_REAP, 0);
}

static void report_failure(struct np_punch *pu, const char *reason)
{
	np_warn("punch failed (attempt %u, strategy %s): %s", pu->a.attempt, np_punch_strategy_name(pu), reason);
	if (reason != pu->fail_reason)
		snprintf(pu->fail_reason, sizeof(pu->fail_reason), "%s", reason);
	pu->up->failed(pu->ctx, pu->fail_reason);
}

static uint64_t probe_nonce(struct np_punch *pu, int sock_id, const np_addr_t *to)
{
	uint8_t in[1 + 2 + 16 + 4], out[8];
	uint64_t n;

	in[0] = to->family;
	in[1] = (uint8_t)(to->port >> 8);
	in[2] = (uint8_t)to->port;
	memcpy(in + 3, to->ip, 16);
	memcpy(in + 19, &sock_id, 4);
	crypto_generichash(out, sizeof(out), in, sizeof(in), pu->nonce_salt, sizeof(pu->nonce_salt));
	memcpy(&n, out, sizeof(n));
	return n;
}

static int send_probe_msg(struct np_punch *pu, int sock_id, const np_addr_t *to, uint8_t type, uint64_t nonce,
			  int ttl)
{
	struct np_msg_probe m = { 0 };
	uint8_t buf[NP_PROBE_WIRE_LEN];
	int len;

	m.type = type;
	m.flags = pu->a.high ? NP_PROBE_F_HIGH : 0;
	m.round = pu->a.round;
	m.nonce = nonce;
	len = np_wire_encode_probe(buf, sizeof(buf), &m);
	if (len < 0)
		return len;
	np_auth_mac(pu->a.probe_key, buf, NP_PROBE_MAC_OFFSET, buf + NP_PROBE_MAC_OFFSET);
	return pu->up->send(pu->ctx, sock_id, to, buf, (size_t)len, ttl);
}

/* ---- the host API a strategy drives ---------------------------------------- */

/* A probe of the recorded pairing: the budget, the opener rule, the guard. */
static int send_bounded_probe(struct np_punch *pu, int sock_id, const np_addr_t *to, unsigned flags)
{
	int ttl = 0;

	if (!to || (to->family != 4 && to->family != 6) || !to->port)
		return -EINVAL;
	if (to->family != pu->a.family)
		return -EAFNOSUPPORT;
	if (pu->probes_this_attempt >= NP_PUNCH_PROBE_BUDGET)
		return -EDQUOT;
	if (flags & NP_PROBE_OPENER) {
		ttl = np_punch_opener_ttl(&pu->a);
		if (ttl == 0)
			return 0; /* a public host sends no openers: they would poison the peer's NAT */
	}
	if (!np_probeguard_send(&pu->guard, to, (flags & NP_PROBE_OPENER) != 0)) {
		pu->stats.refused_probes++;
		return -EDQUOT;
	}
	pu->probes_this_attempt++;
	pu->stats.probes_sent++;
	return send_probe_msg(pu, sock_id, to, NP_MSG_PROBE, probe_nonce(pu, sock_id, to), ttl);
}

static int h_send_probe(void *host, int sock_id, const np_addr_t *to, unsigned flags)
{
	struct np_punch *pu = host;

	if (!np_punch_running(pu))
		return -EINVAL;
	return send_bounded_probe(pu, sock_id, to, flags);
}

static int h_open_socket(void *host)
{
	struct np_punch *pu = host;
	int id;

	if (!np_punch_running(pu))
		return -EINVAL;
	id = pu->up->open_socket(pu->ctx);
	if (id > 0 && id <= NP_HOST_MAX_SOCKETS)
		pu->sock_open[id] = 1;
	return id;
}

static void h_close_socket(void *host, int sock_id)
{
	struct np_punch *pu = host;

	if (sock_id > 0 && sock_id <= NP_HOST_MAX_SOCKETS && pu->sock_open[sock_id]) {
		pu->sock_open[sock_id] = 0;
		pu->up->close_socket(pu->ctx, sock_id);
	}
}

static int h_timer_start(void *host, int id, uint32_t after_ms)
{
	struct np_punch *pu = host;

	if (id < 0 || id >= NP_HOST_MAX_TIMERS || !np_punch_running(pu))
		return -EINVAL;
	pu->up->timer_start(pu->ctx, id, after_ms);
	return 0;
}

static void h_timer_stop(void *host, int id)
{
	struct np_punch *pu = host;

	if (id >= 0 && id < NP_HOST_MAX_TIMERS)
		pu->up->timer_stop(pu->ctx, id);
}

static uint64_t h_now_ms(void *host)
{
	struct np_punch *pu = host;

	return pu->up->now_ms(pu->ctx);
}

static void h_random(void *host, void *buf, size_t len)
{
	struct np_punch *pu = host;

	pu->up->random(pu->ctx, buf, len);
}

static void h_log(void *host, int level, const char *fmt, ...)
{
	struct np_punch *pu = host;
	char line[512];
	va_list ap;

	if (level > np_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	np_log(level < 0 ? 0 : level > 3 ? 3 : level, "strategy %s: %s", np_punch_strategy_name(pu), line);
}

static void h_succeed(void *host, int sock_id, const np_addr_t *peer)
{
	struct np_punch *pu = host;
	char a[NP_ADDR_STRLEN];

	if (!np_punch_running(pu) || !peer || sock_id < 0 || sock_id > NP_HOST_MAX_SOCKETS ||
	    !pu->sock_open[sock_id])
		return;
	/* Only a path that an authenticated ack to our own probe came back on. */
	if (!np_probeguard_may_succeed(&pu->guard, sock_id, peer)) {
		pu->stats.refused_succeed++;
		np_debug("strategy %s called succeed() for %s, which never acknowledged a probe of ours: ignored",
			 pu->mod->desc.name, astr(peer, a));
		return;
	}
	finish(pu, NP_PUNCH_ENDING);
	np_info("punch succeeded: peer %s reached with %s after %u probes (attempt %u)", astr(peer, a),
		pu->mod->desc.name, pu->probes_this_attempt, pu->a.attempt);
	/* The tunnel keeps this socket and closes the others. */
	memset(pu->sock_open + 1, 0, NP_HOST_MAX_SOCKETS);
	pu->up->path_found(pu->ctx, sock_id, peer);
}

static void h_fail(void *host, const char *reason)
{
	struct np_punch *pu = host;

	if (!np_punch_running(pu))
		return;
	snprintf(pu->fail_reason, sizeof(pu->fail_reason), "%s", reason ? reason : "strategy gave up");
	finish(pu, NP_PUNCH_FAILING); /* the reap timer reports the failure */
}

/* ---- timers ------------------------------------------------------------------ */

void np_punch_on_timer(struct np_punch *pu, int id)
{
	char why[sizeof(pu->fail_reason)], a[NP_ADDR_STRLEN];

	if (id >= 0 && id < NP_HOST_MAX_TIMERS) {
		if (np_punch_running(pu) && pu->mod->desc.on_timer)
			pu->mod->desc.on_timer(pu->strat, id);
	} else if (id == NP_PUNCH_TIMER_REAP) {
		int failed = pu->st == NP_PUNCH_FAILING;

		if (pu->st == NP_PUNCH_IDLE)
			return;
		destroy_strategy(pu);
		if (failed)
			report_failure(pu, pu->fail_reason);
	} else if (id == NP_PUNCH_TIMER_CONFIRM) {
		if (pu->st != NP_PUNCH_DONE || !pu->confirm_left)
			return;
		pu->confirm_left--;
		if (send_bounded_probe(pu, pu->confirm_sock, &pu->confirm_to, 0) == 0) {
			pu->stats.confirm_probes++;
			np_debug("no handshake from the peer yet: probe %u of %u on the path to %s, so that its "
				 "strategy can confirm the path too",
				 NP_PUNCH_CONFIRM_PROBES - pu->confirm_left, NP_PUNCH_CONFIRM_PROBES,
				 astr(&pu->confirm_to, a));
		}
		if (pu->confirm_left)
			pu->up->timer_start(pu->ctx, NP_PUNCH_TIMER_CONFIRM, NP_PUNCH_CONFIRM_MS);
	} else if (id == NP_PUNCH_TIMER_ATTEMPT) {
		if (!np_punch_running(pu))
			return;
		if (same_nat(&pu->a) && (!pu->auto_mode || strcmp(pu->mod->desc.name, "simple") == 0))
			/* One NAT (or CGNAT) in front of both, and neither its LAN
			 * nor the public address answered: a NAT that does not
			 * hairpin, in front of two different LANs. */
			snprintf(why, sizeof(why),
				 "no authenticated answer after %u probes: no hairpin through NAT %s (in front of both) "
				 "answered, the peer's LAN is out of reach (--turn: relay)",
				 pu->probes_this_attempt, ip_str(&pu->a.self_public, a));
		else
			snprintf(why, sizeof(why), "no authenticated answer after %u probes", pu->probes_this_attempt);
		destroy_strategy(pu);
		report_failure(pu, why);
	}
}

/* ---- probes from the peer ----------------------------------------------------- */

int np_punch_handle_probe(struct np_punch *pu, int sock_id, const uint8_t *buf, size_t len, const np_addr_t *from)
{
	struct np_msg_probe m;

	if (np_wire_parse_probe(buf, len, &m) < 0) {
		pu->stats.bad++;
		return NP_PUNCH_RX_NONE;
	}
	if (pu->st == NP_PUNCH_IDLE)
		return NP_PUNCH_RX_NONE;
	/* Another pairing's probe (a replay, or a peer one round behind): its
	 * key is not ours, and nothing of it may count here. */
	if (m.round != pu->a.round) {
		pu->stats.other_pairing++;
		return NP_PUNCH_RX_NONE;
	}
	if (np_auth_verify(pu->a.probe_key, buf, NP_PROBE_MAC_OFFSET, m.mac) < 0) {
		pu->stats.bad_mac++;
		pu->up->auth_warn(pu->ctx,
				  pu->secure ? "probe with a bad MAC (wrong --peer-key or --psk on one side, or a forgery)"
					     : "probe with a bad MAC (different --session, or a forgery)",
				  from);
		return NP_PUNCH_RX_NONE;
	}
	/* Our own probe reflected back to us: ignore. */
	if (!!(m.flags & NP_PROBE_F_HIGH) == !!pu->a.high) {
		pu->stats.bad++;
		return NP_PUNCH_RX_NONE;
	}
	pu->stats.probes_rx++;
	if (m.type == NP_MSG_PROBE) {
		/* One ack per probe, of the same size, and one probe of ours
		 * may go back to where it came from. */
		send_probe_msg(pu, sock_id, from, NP_MSG_PROBE_ACK, m.nonce, 0);
		np_probeguard_probe_rx(&pu->guard, from);
		if (np_punch_running(pu) && pu->mod->desc.on_answer)
			pu->mod->desc.on_answer(pu->strat, sock_id, from, 0);
		return NP_PUNCH_RX_PROBE;
	}
	if (m.nonce != probe_nonce(pu, sock_id, from)) {
		np_debug("probe-ack that answers no probe of ours: ignored");
		return NP_PUNCH_RX_NONE;
	}
	np_probeguard_ack_rx(&pu->guard, sock_id, from);
	if (np_punch_running(pu) && pu->mod->desc.on_answer)
		pu->mod->desc.on_answer(pu->strat, sock_id, from, 1);
	return NP_PUNCH_RX_ACK;
}

int np_punch_send_probe(struct np_punch *pu, int sock_id, const np_addr_t *to, unsigned flags)
{
	if (pu->st != NP_PUNCH_DONE)
		return -EINVAL;
	return send_bounded_probe(pu, sock_id, to, flags);
}

/* ---- attempts ------------------------------------------------------------------- */

int np_punch_same_public(const struct np_punch_attempt *a)
{
	return a->self_public.family && a->self_public.family == a->peer_public.family &&
	       memcmp(a->self_public.ip, a->peer_public.ip, a->self_public.family == 4 ? 4 : 16) == 0;
}

int np_punch_opener_ttl(const struct np_punch_attempt *a)
{
	if (a->nat_depth <= 0)
		return 0;
	return np_punch_same_public(a) ? a->nat_depth : a->nat_depth + 1;
}

/* Both peers leave through the same public address (one NAT, or one
 * CGNAT), and the peer told us a LAN endpoint of the same family. */
static int same_nat(const struct np_punch_attempt *a)
{
	return np_punch_same_public(a) && a->peer_local.family == a->self_public.family;
}

/* Sets pu->mod for this attempt; with --strategy=auto from both NAT kinds. */

static int select_strategy(struct np_punch *pu)
{
	char why[200], err[256];
	const char *name;
	int i;

	if (!pu->auto_mode) {
		pu->mod = &pu->mods[0];
		return 0;
	}
	if (same_nat(&pu->a)) {
		/* Behind one NAT: the LAN endpoint answers whatever the NAT's
		 * kind, and "simple" probes it (first) as well as the public one.
		 * Behind one hairpinning CGNAT, each peer behind its own home
		 * NAT, simple's probes to the public endpoint take the hairpin:
		 * that works between endpoint-independent home NATs. When one
		 * home NAT maps per destination (random, sequential), and the
		 * other does not, the two cannot be one NAT on one LAN: the odd
		 * attempts (and a relayed tunnel's background attempts, which
		 * count from 1) are "hairpin" (spray with the roles turned
		 * round: strategies/hairpin.c), the even ones simple. */
		enum np_nat_hardness hs = np_nat_hardness(&pu->a.self_nat), hp = np_nat_hardness(&pu->a.peer_nat);
		int hard_s = hs == NP_NAT_HARD_SEQ || hs == NP_NAT_HARD_RANDOM;
		int hard_p = hp == NP_NAT_HARD_SEQ || hp == NP_NAT_HARD_RANDOM;

		if (pu->a.attempt % 2 == 1 && hs != NP_NAT_HARD_UNKNOWN && hp != NP_NAT_HARD_UNKNOWN &&
		    hard_s != hard_p) {
			name = "hairpin";
			snprintf(why, sizeof(why),
				 "same public address as the peer, one home NAT maps per destination: "
				 "openers from the easy side, probes from the hard side's fresh sockets");
		} else {
			name = "simple";
			snprintf(why, sizeof(why),
				 "same public address as the peer: behind one NAT, probing its LAN endpoint");
		}
	} else {
		name = np_autoselect(&pu->a.self_nat, &pu->a.peer_nat, pu->a.attempt, why, sizeof(why));
	}
	if (!name) {
		snprintf(pu->fail_reason, sizeof(pu->fail_reason), "%s", why); /* for natpunch status */
		pu->up->no_path(pu->ctx, why);
		return -EHOSTUNREACH;
	}
	for (i = 0; i < pu->nmods; i++)
		if (strcmp(pu->mods[i].desc.name, name) == 0)
			break;
	if (i == pu->nmods) {
		if (pu->nmods == (int)(sizeof(pu->mods) / sizeof(pu->mods[0]))) {
			snprintf(err, sizeof(err), "no room to load strategy %s", name);
			i = -1;
		} else if (np_strategy_load(name, pu->strategy_path, &pu->mods[i], err, sizeof(err)) < 0) {
			i = -1;
		}
		if (i < 0) {
			np_err("--strategy=auto: %s", err);
			report_failure(pu, "strategy could not be loaded");
			return -ENOENT;
		}
		pu->nmods++;
	}
	pu->mod = &pu->mods[i];
	np_info("--strategy=auto chose %s: %s (attempt %u)", name, why[0] ? why : "-", pu->a.attempt);
	return 0;
}

void np_punch_stop(struct np_punch *pu)
{
	destroy_strategy(pu);
	pu->confirm_left = 0;
	stop_timers(pu, NP_PUNCH_TIMER_ATTEMPT, NP_PUNCH_TIMER_CONFIRM);
}

void np_punch_confirm_start(struct np_punch *pu, int sock_id, const np_addr_t *to)
{
	if (pu->st == NP_PUNCH_IDLE || pu->st == NP_PUNCH_RUNNING || !to || sock_id < 0 ||
	    sock_id > NP_HOST_MAX_SOCKETS)
		return;
	pu->confirm_sock = sock_id;
	pu->confirm_to = *to;
	pu->confirm_left = NP_PUNCH_CONFIRM_PROBES;
	pu->up->timer_start(pu->ctx, NP_PUNCH_TIMER_CONFIRM, NP_PUNCH_CONFIRM_MS);
}

int np_punch_follow(struct np_punch *pu, int sock_id, const np_addr_t *cur, int verdict, const np_addr_t *from)
{
	if (pu->st != NP_PUNCH_DONE || verdict == NP_PUNCH_RX_NONE || !from || !cur || np_addr_equal(from, cur))
		return 0;
	if (np_probeguard_has_path(&pu->guard, sock_id, from))
		return 1;
	if (verdict == NP_PUNCH_RX_PROBE)
		send_bounded_probe(pu, sock_id, from, 0);
	return 0;
}

void np_punch_confirmed(struct np_punch *pu)
{
	if (!pu->up)
		return;
	pu->confirm_left = 0;
	pu->up->timer_stop(pu->ctx, NP_PUNCH_TIMER_CONFIRM);
}

void np_punch_pair(struct np_punch *pu, const struct np_punch_attempt *a)
{
	np_punch_stop(pu);
	pu->a = *a;
	pu->st = NP_PUNCH_DONE; /* a pairing, no strategy */
	pu->up->random(pu->ctx, pu->nonce_salt, sizeof(pu->nonce_salt));
	pu->probes_this_attempt = 0;
	memset(pu->sock_open, 0, sizeof(pu->sock_open));
	pu->sock_open[0] = 1;
	/* A LAN endpoint is a candidate only in private or link-local space. */
	if (pu->a.peer_local.family && !np_probeguard_lan_ok(&pu->a.peer_local)) {
		char s1[NP_ADDR_STRLEN];
		np_info("the peer's LAN endpoint %s is not a private address: not probed", astr(&pu->a.peer_local, s1));
		memset(&pu->a.peer_local, 0, sizeof(pu->a.peer_local));
	}
	np_probeguard_reset(&pu->guard, &pu->a.peer_public, &pu->a.peer_local);
}

int np_punch_start(struct np_punch *pu, const struct np_punch_attempt *a)
{
	np_strategy_view_t v = { 0 };
	char s1[NP_ADDR_STRLEN], s2[NP_ADDR_STRLEN];
	uint32_t timeout;
	int rc;

	np_punch_pair(pu, a);
	rc = select_strategy(pu);
	if (rc < 0)
		return rc;
	np_info("peer found: public %s, lan %s (round %u); punching with %s, opener TTL %d",
		astr(&pu->a.peer_public, s1), astr(&pu->a.peer_local, s2), a->round, pu->mod->desc.name,
		np_punch_opener_ttl(&pu->a));

	v.size = sizeof(v);
	v.attempt = a->attempt;
	v.round = a->round;
	v.self_local = a->self_local;
	v.self_public = a->self_public;
	v.peer_local = pu->a.peer_local;
	v.peer_public = pu->a.peer_public;
	v.self_nat = a->self_nat;
	v.self_nat.depth = (uint8_t)a->nat_depth;
	v.peer_nat = a->peer_nat;
	v.peer_mapped = a->peer_mapped;
	v.start_at_ms = pu->up->now_ms(pu->ctx) + a->start_in_ms;
	v.self_is_high = a->high;
	rc = pu->mod->desc.create(&pu->api, pu, &pu->strat);
	if (rc < 0) {
		pu->strat = NULL;
		report_failure(pu, "strategy could not be created");
		return rc;
	}
	pu->st = NP_PUNCH_RUNNING;
	rc = pu->mod->desc.start(pu->strat, &v);
	if (rc < 0 && np_punch_running(pu)) {
		destroy_strategy(pu);
		report_failure(pu, "strategy could not start");
		return rc;
	}
	if (!np_punch_running(pu))
		return 0; /* start() already succeeded or failed: the reap timer runs */
	timeout = pu->mod->desc.attempt_timeout_ms ? pu->mod->desc.attempt_timeout_ms : NP_PUNCH_DEFAULT_ATTEMPT_MS;
	if (pu->auto_mode && same_nat(&pu->a) && timeout > NP_PUNCH_SAME_NAT_ATTEMPT_MS)
		timeout = NP_PUNCH_SAME_NAT_ATTEMPT_MS;
	pu->up->timer_start(pu->ctx, NP_PUNCH_TIMER_ATTEMPT, timeout);
	return 0;
}

void np_punch_end(struct np_punch *pu)
{
	if (pu->st == NP_PUNCH_RUNNING || pu->st == NP_PUNCH_FAILING)
		finish(pu, NP_PUNCH_ENDING);
}

void np_punch_reset(struct np_punch *pu)
{
	np_punch_stop(pu);
	pu->st = NP_PUNCH_IDLE;
	pu->mod = NULL;
}

int np_punch_init(struct np_punch *pu, const struct np_punch_cfg *cfg, const struct np_punch_upcalls *up, void *ctx,
		  char *err, size_t errlen)
{
	int rc;

	memset(pu, 0, sizeof(*pu));
	pu->up = up;
	pu->ctx = ctx;
	pu->cfg_strategy = cfg->strategy;
	pu->strategy_path = cfg->strategy_path;
	pu->secure = cfg->secure;
	pu->api = (np_host_api_t){
		.size = sizeof(np_host_api_t),
		.send_probe = h_send_probe,
		.open_socket = h_open_socket,
		.close_socket = h_close_socket,
		.timer_start = h_timer_start,
		.timer_stop = h_timer_stop,
		.now_ms = h_now_ms,
		.random = h_random,
		.log = h_log,
		.succeed = h_succeed,
		.fail = h_fail,
	};
	rc = np_probeguard_init(&pu->guard);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	pu->auto_mode = strcmp(cfg->strategy, "auto") == 0;
	if (!pu->auto_mode) {
		rc = np_strategy_load(cfg->strategy, cfg->strategy_path, &pu->mods[0], err, errlen);
		if (rc < 0) {
			np_probeguard_free(&pu->guard);
			return rc;
		}
		pu->nmods = 1;
	}
	return 0;
}

void np_punch_fini(struct np_punch *pu)
{
	if (!pu->up)
		return;
	np_punch_reset(pu);
	for (int i = 0; i < pu->nmods; i++)
		np_strategy_unload(&pu->mods[i]);
	pu->nmods = 0;
	np_probeguard_free(&pu->guard);
	sodium_memzero(pu->a.probe_key, sizeof(pu->a.probe_key));
}
