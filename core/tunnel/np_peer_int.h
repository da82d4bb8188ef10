/* np_peer_int: the tunnel struct shared by the files of one tunnel:
 * np_peer.c (state machine, registration, handshake, timers), np_sock.c
 * (sockets), np_peer_punch.c (the punch's upcalls), np_datapath.c (packet
 * forwarding) and np_peer_status.c (the status report). Nothing else
 * includes it. The punch (np_punch.h) keeps its own state in `punch`. */
#ifndef NP_PEER_INT_H
#define NP_PEER_INT_H

#include "np_config.h"
#include "np_discovery.h"
#include "np_hsgate.h"
#include "np_peer.h"
#include "np_pathsel.h"
#include "np_pmtu.h"
#include "np_punch.h"
#include "np_rejoin.h"
#include "np_silence.h"
#include "np_session.h"
#include "np_strategy_loader.h"
#include "np_wire.h"

#include <ev.h>
#include <net/if.h>
#include <sys/socket.h>

#define MAX_EXTRA_SOCKETS NP_HOST_MAX_SOCKETS

struct np_peer;

struct np_sock {
	int fd;
	int id;
	ev_io io;
	struct np_peer *p;
};

/* The punch's timers (np_punch.h: NP_PUNCH_TIMERS), run by libev. */
struct np_punch_timer {
	ev_timer t;
	int id;
	struct np_peer *p;
};

struct np_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t bad, bad_mac, replay, not_up, send_errors, hs_limited; /* punch.stats: the probes' */
	uint64_t other_pairing;      /* probes and acks of another pairing (old rounds, replays) */
	uint64_t hs_cookies;         /* handshake cookie replies sent (under load) */
	uint64_t inner_src;          /* authenticated packets whose inner source is not --allowed-ips */
	uint64_t other_version;      /* datagrams of another natpunch wire version */
};

/* Data path buffers and offload state, allocated once by np_dp_init(). */
#define NP_DP_TX_SLOTS 128           /* datagrams sealed per flush */
#define NP_DP_RX_MSGS 64             /* recvmmsg batch (batched path) */
#define NP_DP_RX_GRO_MSGS 16         /* recvmmsg batch with UDP_GRO (64 KiB each) */
#define NP_DP_CTL_LEN 128            /* control bytes per received message */

struct np_gro;

struct np_dp {
	size_t slot;                 /* bytes per packet slot */
	uint8_t *tx, *rx;            /* NP_DP_TX_SLOTS slots; receive buffers */
	size_t rx_len;               /* bytes per receive buffer */
	int rx_msgs;                 /* receive buffers in use */
	struct mmsghdr txm[NP_DP_TX_SLOTS], rxm[NP_DP_RX_MSGS];
	struct iovec txv[NP_DP_TX_SLOTS], rxv[NP_DP_RX_MSGS];
	uint16_t txn[NP_DP_TX_SLOTS];  /* datagrams carried by txm[i] */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} txc[NP_DP_TX_SLOTS];       /* UDP_SEGMENT per message */
	union {
		char buf[NP_DP_CTL_LEN];
		struct cmsghdr align;
	} rxc[NP_DP_RX_MSGS];
	struct sockaddr_storage rxa[NP_DP_RX_MSGS];
	struct sockaddr_storage txa; /* the peer, for the whole batch */
	socklen_t txalen;
	int ntx;
	/* offloads */
	int vnet;                    /* tun has IFF_VNET_HDR and TSO enabled */
	int gso;                     /* UDP_SEGMENT sends allowed */
	int gro;                     /* UDP_GRO wanted on receiving sockets */
	int gro_fd[NP_HOST_MAX_SOCKETS + 1]; /* fd that UDP_GRO was set on, per id (+1) */
	uint8_t *tunbuf;             /* one vnet tun read (vnet_len + 64 KiB) */
	size_t tunbuf_len;
	struct np_gro *gr;           /* coalescer for tun writes (vnet only) */
	const char *path;            /* active path, for logs and status */
	uint64_t gso_sends, gro_bufs, tso_packets;
	/* path MTU (np_pmtud.c sets inner_max; SIZE_MAX: no limit) */
	size_t inner_max;            /* largest inner packet that fits the path */
	uint8_t *scratch;            /* one slot: a packet being fragmented, probes */
	uint64_t too_big_icmp, too_big_frag, too_big_drop;
	double icmp_tokens, icmp_at; /* ICMP answers we may still write */
};

/* One switch between the direct and the relayed path, for status. */
#define NP_PATH_HISTORY 8
struct np_path_switch {
	double at;                   /* ev_now() */
	char to[8];                  /* "direct" or "relayed" */
	char why[120];
};

struct np_turn;

struct np_peer {
	struct ev_loop *loop;
	const struct np_config *cfg;
	struct np_peer_keys keys;
	struct np_hookd *hooks;              /* the hook helper, or NULL */
	struct np_hookd *hooks_draining;     /* replaced by SIGHUP, running its on_down */
	int secure;

	/* addressing */
	np_addr_t server;
	char ifname[IFNAMSIZ];
	int tun_fd;
	ev_io tun_io;

	/* sockets: [0] is the main one (registration, then data) */
	struct np_sock *socks[NP_HOST_MAX_SOCKETS + 1];

	/* state */
	enum np_peer_state st;
	void (*state_fn)(void *arg, const char *summary);   /* np_peer_on_state */
	void *state_arg;
	uint64_t cycle_start_ms;
	double reg_sent_at;          /* ev_now() of this cycle's first REGISTER (0: none yet) */
	uint64_t punch_started_ms;   /* when the current attempt began */
	/* the last up (for natpunch status): time from the cycle start, the
	 * attempt that made it; and how often the tunnel came up, went down */
	uint64_t up_ms;
	unsigned up_attempt, ups, downs;
	unsigned attempts;
	uint32_t round, reg_nonce;
	int have_round;
	uint8_t pairing[NP_PAIRING_LEN];  /* the server's id of the current pairing */
	uint8_t reg_cookie[NP_COOKIE_LEN]; /* the server's cookie for our main socket */
	int have_reg_cookie;
	double last_version_warn;
	np_addr_t self_local, self_public, peer_public, peer_local;
	np_addr_t up_peer_local;     /* peer_local of the pairing the tunnel came up in */
	/* our public endpoint while the peer last answered, and when the
	 * server last named self_public (np_peer.c good_public()) */
	np_addr_t good_public;
	double self_public_at;
	np_nat_info_t self_nat, peer_nat;
	/* The newest NAT mapping our last discovery saw (REGISTER MAPPED;
	 * family 0 when that discovery failed), and the peer's from PEER_INFO. */
	np_addr_t self_mapped, peer_mapped;
	int no_mapped;               /* the server never answered a REGISTER with MAPPED */
	int disc_udp_ok;             /* this cycle's NAT discovery had answers over UDP */
	int role, high, nat_depth;
	int server_silent_logged;
	/* registration over TCP (np_regtcp.c) once UDP got no answer */
	struct np_regtcp *regtcp;    /* NULL: over UDP */
	unsigned udp_unanswered;     /* REGISTERs over UDP since the server last answered */

	/* the path that works */
	int path_sock;
	np_addr_t path_peer;

	/* recovery after the peer went silent (np_recover.c); st stays UP */
	int recovering, recover_fresh, recover_sock;
	unsigned recoveries;         /* silences survived without a new handshake */
	double recover_until, recover_old_at, recover_reg_at;
	double recover_start_at, recover_rx0; /* when it started; last_rx then */
	uint64_t recover_slot, recover_started_ms;
	np_addr_t recover_peer;      /* the peer's address at its slot port */
	ev_timer recover_timer;
	double server_heard_at;      /* ev_now() of the last valid message from our server */
	int recover_early;           /* started on suspicion (np_silence.h), not the slow rule */
	/* the fast silence rule and the passive keepalive (np_silence.h) */
	struct np_silence silence;
	ev_timer silence_timer;
	unsigned suspicions;         /* suspicions, and those the old path answered */
	unsigned suspicions_false;
	/* our public address changed while up: our NAT facts again (np_recover.c) */
	struct np_discovery *recover_disc;
	/* NAT discovery run while re-punching between NATs that do not both
	 * preserve ports (np_recover.c): it shows the server is there, and the
	 * registration that follows starts from its facts, taken after the
	 * fault (pre_at: ev_now() of the result, 0: none; pre_server: the
	 * server it asked) */
	struct np_discovery *pre_disc;
	struct np_discovery_result pre_res;
	np_addr_t pre_server;
	double pre_at;
	int fresh_port;              /* register from an ephemeral port, not --port */
	/* the peer endpoint of the attempt that failed: a PEER_INFO that still
	 * names it is held for a while (the peer is probably re-registering) */
	np_addr_t stale_peer;
	np_addr_t stale_local;       /* and its LAN endpoint then (family 0: unknown) */
	struct np_msg_peer_info held;
	int have_held;
	double hold_cap;             /* ev_now() past which a hold is never extended */
	ev_timer hold_timer;

	/* a restarted peer while up (np_rejoin.h, np_peer_rejoin.c) */
	struct np_rejoin rejoin;
	ev_timer rejoin_timer;
	uint32_t rejoin_round;       /* the round a rejoin started from the server's word */
	int rejoin_pending;          /* ... and nothing authenticated came since */
	np_addr_t hs_to;             /* where our last HANDSHAKE_INIT went */
	uint8_t hs_init[256];        /* that HANDSHAKE_INIT, for a copy to another path (np_punch_follow) */
	size_t hs_init_len;

	/* the punch: strategy host, probes, attempt timeout (np_punch.h) */
	struct np_punch punch;
	struct np_punch_timer ptimers[NP_PUNCH_TIMERS];

	/* NAT discovery, run before each registration round */
	struct np_discovery *disc;
	ev_timer retry_timer;

	/* timers */
	ev_timer reg_timer, hs_timer, keepalive, dead, housekeeping, warn_timer;
	double last_rx, last_tx;     /* ev_now() of the last packet each way */
	double up_since, last_handshake, hs_rtt_ms;
	struct np_control *ctl;
	unsigned hs_tries;
	double hs_since;             /* ev_now() when the punch found the path */
	uint64_t last_init_ms;

	/* crypto */
	struct np_session sess;
	struct np_hsgate hsgate;     /* which handshake initiations get looked at */
	uint8_t probe_base[32];      /* static part of the probe key (DH, PSK) */
	uint8_t probe_key[32];       /* this pairing's probe key (the punch gets a copy) */
	double last_auth_warn;

	struct np_dp dp;
	struct np_stats stats;

	/* underlay families (np_family.c) */
	np_addr_t server_fam[2];     /* the server over IPv4 [0] and IPv6 [1]; family 0: unknown */
	int fam_switch;              /* the next cycle moves to the other family */
	int leg_fd;                  /* registration-only socket on the other family, or -1 */
	ev_io leg_io;
	ev_timer leg_timer, leg_switch;
	np_addr_t leg_server;
	uint32_t leg_nonce;
	uint8_t leg_cookie[NP_COOKIE_LEN];
	int leg_have_cookie;
	double leg_peer_seen;        /* ev_now() of the last PEER_INFO on the other family */

	/* TURN relay (np_relay_path.c); relay is NULL without --turn */
	struct np_turn *relay;
	/* the relays to try, in order (--turn, else the server's offer), the
	 * one in use, and the credentials for them */
#define NP_RELAY_URIS 8
	char relay_uris[NP_RELAY_URIS][NP_WIRE_TURN_URIS_MAX + 1];
	size_t relay_nuris, relay_cur;
	char relay_offer[NP_WIRE_TURN_URIS_MAX + 1]; /* the server's list, as offered */
	char relay_user[128], relay_pass[128];
	unsigned relay_fails;        /* failed attempts since the last allocation */
	int relay_ready_once;        /* the relay in use has allocated at least once */
	int relay_peer_tcp;          /* the peer registered over TCP (PEER_INFO) */
	ev_timer relay_next;         /* moves to the next relay (deferred: not from its callback) */
	int relay_transport;         /* enum np_turn_transport */
	struct np_sock relay_sock;   /* what relayed packets arrive "on" (id 0, fd -1) */
	np_addr_t relay_self;        /* our relayed address (family 0: none yet) */
	np_addr_t relay_peer;        /* the peer's, from PEER_INFO */
	int relay_wanted;            /* fallback chosen: relay as soon as both are known */
	int relay_gap;               /* relayed, and the peer's relayed address is gone for now */
	unsigned relay_wait_logged;
	char relay_why[120];
	unsigned path_switches;
	struct np_path_switch path_hist[NP_PATH_HISTORY];
	char path_why[120];          /* why the tunnel is on its current path */
	/* switching between direct and relayed while up (np_relay_switch.c) */
	int sw_on;                   /* ps runs: up, secure, with a relay */
	struct np_pathsel ps;
	ev_timer sw_timer;           /* polls ps */
	ev_timer sw_natcheck;        /* relayed: has our NAT changed? */
	struct np_discovery *sw_disc;
	int sw_disc_try;             /* after this discovery: a direct attempt */
	int sw_hint;                 /* the next attempt was our hint (either side may start it) */
	int sw_punch;                /* a background punch runs */
	int cand_sock;               /* the direct candidate: socket, peer endpoint */
	np_addr_t cand_peer;
	double last_rx_other;        /* authenticated packet over the standby path */
	double sw_disc_at;           /* ev_now() of the last discovery result */
	double sw_renewed_at;        /* ev_now() of our last fresh-socket REGISTER */
	/* path MTU search (np_pmtud.c) */
	struct np_pmtu pmtu;
	ev_timer pmtu_timer;
	unsigned pmtu_reported;      /* last size logged */
	uint64_t pmtu_probes_sent, pmtu_probes_acked;

	/* shutdown */
	int stopping;
	void (*stop_done)(void *);
	void *stop_arg;
};

/* np_datapath.c */
int np_dp_init(struct np_peer *p);
void np_dp_free(struct np_peer *p);
void np_dp_on_tun(struct ev_loop *loop, ev_io *w, int revents);
void np_dp_on_sock(struct ev_loop *loop, ev_io *w, int revents);
int np_dp_send_keepalive(struct np_peer *p);
/* np_peer.c: control messages that the data path hands over. */
void np_peer_control(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from);
void np_peer_authenticated_rx(struct np_peer *p, struct np_sock *s, const np_addr_t *from);

/* np_peer.c: state transitions the punch's upcalls (and the relay) trigger. */
void np_peer_set_state(struct np_peer *p, enum np_peer_state st);
void np_peer_fire_hook(struct np_peer *p, const char *event, const char *reason);
void np_peer_enter_register(struct np_peer *p, const char *why);
/* The punch found a path (p->path_peer on socket 0): handshake, or up. */
void np_peer_path_found(struct np_peer *p);
/* No strategy can connect these two NATs: log, tell hooks, retry later. */
void np_peer_no_path(struct np_peer *p, const char *why);
/* A warning at most every 5 s, debug lines in between. */
void np_peer_auth_warn(struct np_peer *p, const char *what, const np_addr_t *from);
/* A datagram of another natpunch wire version: counted, a warning at most every 10 s. */
void np_peer_other_version(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from);

/* np_sock.c: the sockets of the tunnel. */
int np_sock_open(struct np_peer *p, int id, uint16_t port);
void np_sock_close(struct np_peer *p, int id);
void np_sock_close_extra(struct np_peer *p, int keep);
void np_sock_promote(struct np_peer *p, int id);
int np_sock_send(struct np_peer *p, int sock_id, const np_addr_t *to, const void *buf, size_t len, int ttl);
/* A fresh main socket (ephemeral port) in place of socket 0. */
int np_sock_renew_main(struct np_peer *p);
/* np_peer_punch.c: the punch with this tunnel's upcalls and libev timers. */
int np_peer_punch_init(struct np_peer *p, char *err, size_t errlen);
void np_peer_punch_fini(struct np_peer *p);

/* np_family.c: IPv4 and IPv6 underlays (see the file's header). */
void np_family_setup(struct np_peer *p);
/* Resolves the server under both families and picks the first (IPv6 if usable). */
int np_family_init(struct np_peer *p, char *err, size_t errlen);
/* At the start of each registration cycle: maybe move p->server to the
 * other family (failed: the cycle before did not stay up), and (re)start
 * the registration leg on the other family. */
void np_family_cycle(struct np_peer *p, int failed);
void np_family_up(struct np_peer *p);
void np_family_free(struct np_peer *p);
const char *np_family_name(int family);

/* np_pmtud.c: the path MTU search of the tunnel (see np_pmtu.h). */
void np_pmtud_init(struct np_peer *p);
/* (Re)starts the search on the current path: at UP and after a path change. */
void np_pmtud_start(struct np_peer *p, const char *why);
void np_pmtud_stop(struct np_peer *p);
/* An authenticated in-tunnel message (plaintext starting with a 0 nibble). */
void np_pmtud_rx(struct np_peer *p, struct np_sock *s, const np_addr_t *from, const uint8_t *msg, size_t len);
/* Bytes the path adds to an inner packet: IP, UDP and natpunch headers. */
unsigned np_pmtud_overhead(const struct np_peer *p);
/* np_peer.c: recovery outcomes. */
void np_peer_tunnel_down(struct np_peer *p, const char *reason);
void np_peer_recovered(struct np_peer *p, int moved);
/* One REGISTER from the main socket (the server answers with PEER_INFO,
 * a new round if either side's endpoint or registration changed). */
void np_peer_send_register(struct np_peer *p);
/* The facts of a punch attempt in round `round` (both sides' endpoints and
 * NAT kinds, HIGH, depth, family) from what p knows now; the caller sets
 * the rest (attempt number, probe key, start delay). */
void np_peer_attempt_facts(const struct np_peer *p, uint32_t round, struct np_punch_attempt *a);
/* np_peer_status.c: printf-style text appended to a status report at
 * buf[*n] (cap bytes in all); *n grows by what the text needs, so a report
 * that did not fit says by how much. */
void np_status_add(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* np_recover.c: re-punching toward the last endpoints when the peer goes
 * silent, before registering again (keys kept, no handshake). */
void np_recover_init(struct np_peer *p);
/* -1: cannot (no keys or path). early: on suspicion (data sent, nothing
 * heard for a short while), before the slow rule's silence. */
int np_recover_start(struct np_peer *p, int early);
/* The data path: data sent to, heard from the peer (np_silence.h). */
void np_recover_data_sent(struct np_peer *p);
void np_recover_data_heard(struct np_peer *p);
/* The tunnel came up, or went down: the silence rule starts over. */
void np_recover_silence_reset(struct np_peer *p);
/* While up, the server named us at a new public address: our NAT (and
 * its depth) may be another now; discovery runs again in the background. */
void np_recover_self_moved(struct np_peer *p);
double np_recover_suspect_s(const struct np_peer *p); /* silence that starts it */
void np_recover_stop(struct np_peer *p);
int np_recover_accepts(const struct np_peer *p, int sock_id);
void np_recover_done(struct np_peer *p, struct np_sock *s, const np_addr_t *from);

/* np_datapath.c: one datagram that did not come from a socket (the relay). */
void np_dp_input(struct np_peer *p, struct np_sock *s, uint8_t *buf, size_t len, const np_addr_t *from);
/* np_relay_path.c: the relayed path (see there). */
int np_relay_init(struct np_peer *p, char *err, size_t errlen);
void np_relay_free(struct np_peer *p);
int np_relay_on_path(const struct np_peer *p);
int np_relay_is_peer(const struct np_peer *p, const np_addr_t *to);
int np_relay_send(struct np_peer *p, const void *buf, size_t len);
void np_relay_flush(struct np_peer *p);
struct np_msg_peer_info;
void np_relay_peer_info(struct np_peer *p, const struct np_msg_peer_info *m);
int np_relay_instead_of_punch(struct np_peer *p);
int np_relay_fallback(struct np_peer *p, const char *why);
/* 1 if our relay carries us over UDP and is ready (UDP works here). */
int np_relay_over_udp(const struct np_peer *p);
/* We register over TCP (no UDP here): relay, over TCP or TLS only. */
void np_relay_no_udp(struct np_peer *p);
void np_relay_on_up(struct np_peer *p);
void np_relay_on_dead(struct np_peer *p);
size_t np_relay_status(struct np_peer *p, char *buf, size_t cap);
/* np_relay_switch.c: direct <-> relayed while up (np_pathsel decides). */
void np_switch_init(struct np_peer *p);
void np_switch_up(struct np_peer *p);      /* the tunnel entered UP */
void np_switch_stop(struct np_peer *p);    /* it left UP, or shutdown */
/* PEER_INFO of a newer round while up: 1 if a background punch took it. */
int np_switch_peer_info(struct np_peer *p, const struct np_msg_peer_info *m);
void np_switch_punch_found(struct np_peer *p, int sock_id, const np_addr_t *peer);
void np_switch_punch_failed(struct np_peer *p, const char *reason);
/* Transport packets on extra socket sock_id are looked at (candidate). */
int np_switch_accepts(const struct np_peer *p, int sock_id);
/* An authenticated packet not from path_peer: 1 if it came over the
 * standby path (not roaming). */
int np_switch_other_path(struct np_peer *p, struct np_sock *s, const np_addr_t *from);
/* PATH_PROBE / PATH_ACK (in-tunnel messages) from `from` on socket s. */
void np_switch_msg(struct np_peer *p, struct np_sock *s, const np_addr_t *from, int type, uint32_t id);
size_t np_switch_status(struct np_peer *p, char *buf, size_t cap);
/* np_pmtud.c: one sealed in-tunnel message to `to` on socket sock_id. */
int np_pmtud_send_to(struct np_peer *p, int sock_id, const np_addr_t *to, int type, uint32_t id, uint16_t size,
		     size_t plen);
/* np_peer.c: for the background punch (np_relay_switch.c): the main socket was replaced, and the NAT depth to learn again. */
void np_peer_main_socket_changed(struct np_peer *p);
int np_peer_bg_punch(struct np_peer *p, const struct np_msg_peer_info *pi);
void np_peer_learn_depth(struct np_peer *p);
/* np_peer.c: NAT discovery toward our server (with the server token), for
 * registration and for the background NAT check; see np_discovery_start(). */
int np_peer_discover(struct np_peer *p, np_discovery_cb cb, struct np_discovery **out);
/* np_peer.c: a sequential NAT on either side (a punch spends ports there). */
int np_peer_seq_pair(const struct np_peer *p);
/* np_recover.c: the facts of the discovery run during the recovery that
 * just ended, if recent and toward this server, and how old (then
 * cleared); else NULL. */
const struct np_discovery_result *np_recover_take_discovery(struct np_peer *p, double *ago_s);

/* np_regtcp.c: registration over TCP (see there). */
#define REGISTER_UDP_TRIES 3         /* unanswered REGISTERs over UDP before TCP */
#define REGISTER_UDP_TRIES_DISC 6    /* the same, when this cycle's discovery had UDP answers */
int np_regtcp_start(struct np_peer *p);
int np_regtcp_send(struct np_peer *p, const uint8_t *msg, size_t len);
int np_regtcp_connected(const struct np_peer *p);
/* A NAT_PROBE_REPLY on the main socket: 1 if it answers our UDP check
 * (registration goes back to UDP), 0 if it is not ours. */
int np_regtcp_udp_answer(struct np_peer *p, const uint8_t *buf, size_t len, const np_addr_t *from);
void np_regtcp_free(struct np_peer *p);

/* np_peer.c: a HANDSHAKE_INIT from socket sock_id to `to` (not necessarily
 * the path); the endpoint moves to the peer's new address (log, pmtud,
 * endpoint_change hook) after an authenticated packet from there. */
void np_peer_send_init_to(struct np_peer *p, int sock_id, const np_addr_t *to);
void np_peer_move(struct np_peer *p, const np_addr_t *to, const char *why);
/* np_peer_rejoin.c: a restarted peer, while up (np_rejoin.h). */
void np_peer_rejoin_init(struct np_peer *p);
void np_peer_rejoin_stop(struct np_peer *p);
/* A PEER_INFO of a newer round while up and not recovering. */
void np_peer_rejoin_peer_info(struct np_peer *p, const struct np_msg_peer_info *m);
/* What np_punch_handle_probe said about a probe or ack on socket sock_id. */
void np_peer_rejoin_probe(struct np_peer *p, int sock_id, int verdict, const np_addr_t *from);
/* An authenticated packet from the peer: a rejoin in progress is over. */
void np_peer_rejoin_done(struct np_peer *p);

/* np_peer_status.c */
size_t np_peer_status_report(void *arg, char *buf, size_t cap);
/* One line for systemd's STATUS= ("waiting for peer", "up, direct via simple"). */
void np_peer_status_summary(const struct np_peer *p, char *buf, size_t cap);

static inline const char *np_astr(const np_addr_t *a, char *buf)
{
	return np_addr_str(a, buf, NP_ADDR_STRLEN);
}

#endif
