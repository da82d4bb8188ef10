/* np_session: handshake framing, keypair rotation, replay and rekey timing
 * for one peer (see np_session.h).
 *
 * Cipher negotiation
 * ------------------
 * The Noise protocol name is hashed before anything else, so it must be fixed
 * before message 1 is written, while the transport cipher is only decided by
 * the responder. So:
 *   - The handshake itself always runs as Noise_IK(psk2)_25519_ChaChaPoly_BLAKE2b
 *     on both sides (ChaChaPoly is available everywhere; the handshake encrypts
 *     only 60 bytes, so its cipher does not matter for speed).
 *   - The cipher byte selects the AEAD used with the split() keys: the
 *     initiator offers cipher_pref (1 = AESGCM, only if it has AES-NI), the
 *     responder picks AESGCM only when offered and it has AES-NI too, and
 *     echoes the choice in the response.
 *   - The prologue is "natpunch v1" followed by the 8-byte INIT header
 *     (version, type, cipher_pref, reserved, sender_index), so the offer is
 *     authenticated by message 1: changing it breaks the handshake.
 *   - The choice in the response is not covered by Noise (the response
 *     payload is empty). Flipping it only makes the two sides use different
 *     AEADs under the same keys: the initiator's first keepalive fails to
 *     authenticate, the responder never confirms the keys, the initiator
 *     retries. Both ciphers are 256-bit AEADs, so there is no downgrade to
 *     gain, only a denial of service an on-path attacker has anyway. The
 *     initiator refuses AESGCM if it did not offer it.
 *
 * Keypairs and rekey (times are tunable fields, defaults in np_session.h)
 * -----------------------------------------------------------------------
 *   - Initiator: a completed handshake makes the new keys current at once;
 *     the old current becomes previous (receive only) for keep_previous_ms.
 *     It then sends a keepalive under the new keys.
 *   - Responder: a handled INIT puts the new keys in next. It keeps sending
 *     with current until the first authenticated packet under next arrives;
 *     then next becomes current and the old current becomes previous. So
 *     packets in flight under the old keys, in either direction, still
 *     decrypt, and nothing is sent under keys the peer does not have yet.
 *   - Every keypair dies reject_after_ms after its handshake; the initiator
 *     re-handshakes after rekey_after_ms or rekey_after_messages.
 *   - Packets pick their keypair by receiver_index, so no trial decryption.
 *
 * Replayed inits: the responder keeps the greatest TAI64N timestamp it
 * accepted (it survives np_session_reset) and drops any init that is not
 * newer. The initiator keeps its timestamps strictly increasing. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define NP_LOG_COMPONENT "session"
#include "np_log.h"
#include "np_session.h"

#define PROLOGUE "natpunch v2"
#define PROLOGUE_LEN (sizeof(PROLOGUE) - 1)
#define INIT_HDR_LEN 8
#define RESP_BIND_LEN 5
#define RESP_HDR_LEN 12
#define TS_LEN 12
#define TAI64_BASE 0x400000000000000aull

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t realtime_ns(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t age(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void kp_wipe(struct np_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

/* Moves src into dst (wiping what dst held) and clears src. */
static void kp_move(struct np_keypair *dst, struct np_keypair *src)
{
	kp_wipe(dst);
	memcpy(dst, src, sizeof(*dst));
	kp_wipe(src);
}

static void expire(struct np_session *sess, uint64_t now_ms)
{
	struct np_keypair *kps[3] = { &sess->current, &sess->previous, &sess->next };

	for (int i = 0; i < 3; i++)
		if (kps[i]->valid && age(now_ms, kps[i]->created_ms) >= sess->reject_after_ms)
			kp_wipe(kps[i]);
	if (sess->previous.valid && now_ms >= sess->previous_expires_ms)
		kp_wipe(&sess->previous);
}

static uint32_t new_index(const struct np_session *sess)
{
	uint32_t idx;

	do
		idx = randombytes_random();
	while ((sess->current.valid && idx == sess->current.local_index) ||
	       (sess->previous.valid && idx == sess->previous.local_index) ||
	       (sess->next.valid && idx == sess->next.local_index));
	return idx;
}

static int kp_install(struct np_keypair *kp, int cipher, const struct np_noise_cs *send,
		      const struct np_noise_cs *recv, uint32_t local, uint32_t remote, uint64_t now_ms)
{
	kp_wipe(kp);
	kp->valid = 1;
	kp->cipher = cipher;
	memcpy(&kp->send, &send->aead, sizeof(kp->send));
	memcpy(&kp->recv, &recv->aead, sizeof(kp->recv));
	kp->send_counter = 0;
	np_replay_init(&kp->replay);
	kp->local_index = local;
	kp->remote_index = remote;
	kp->created_ms = now_ms;
	return 0;
}

int np_session_init(struct np_session *sess, const uint8_t s_priv[NP_NOISE_KEY_LEN],
		    const uint8_t peer_pub[NP_NOISE_KEY_LEN], const uint8_t *psk)
{
	int cmp;

	memset(sess, 0, sizeof(*sess));
	if (sodium_init() < 0)
		return -EIO;
	if (!s_priv || !peer_pub)
		return -EINVAL;
	memcpy(sess->s_priv, s_priv, NP_NOISE_KEY_LEN);
	memcpy(sess->peer_pub, peer_pub, NP_NOISE_KEY_LEN);
	if (crypto_scalarmult_base(sess->s_pub, sess->s_priv) != 0)
		goto bad;
	cmp = memcmp(sess->s_pub, sess->peer_pub, NP_NOISE_KEY_LEN);
	if (cmp == 0)
		goto bad;
	sess->initiator = cmp < 0;
	if (psk) {
		memcpy(sess->psk, psk, NP_NOISE_KEY_LEN);
		sess->has_psk = 1;
	}
	np_hscookie_init(&sess->hc, sess->s_pub, sess->peer_pub);
	sess->cipher_offer = np_noise_cipher_available(NP_NOISE_AESGCM) ?
			     NP_NOISE_AESGCM : NP_NOISE_CHACHAPOLY;
	sess->wall_clock_ns = realtime_ns;
	sess->rekey_after_ms = NP_SESSION_REKEY_AFTER_MS;
	sess->reject_after_ms = NP_SESSION_REJECT_AFTER_MS;
	sess->keep_previous_ms = NP_SESSION_KEEP_PREVIOUS_MS;
	sess->rekey_timeout_ms = NP_SESSION_REKEY_TIMEOUT_MS;
	sess->rekey_after_messages = NP_SESSION_REKEY_AFTER_MESSAGES;
	sess->reject_after_messages = NP_SESSION_REJECT_AFTER_MESSAGES;
	return 0;
bad:
	sodium_memzero(sess, sizeof(*sess));
	return -EINVAL;
}

void np_session_destroy(struct np_session *sess)
{
	sodium_memzero(sess, sizeof(*sess));
}

void np_session_reset(struct np_session *sess)
{
	kp_wipe(&sess->current);
	kp_wipe(&sess->previous);
	kp_wipe(&sess->next);
	np_noise_wipe(&sess->hs);
	sess->hs_pending = 0;
	sess->previous_expires_ms = 0;
}

int np_session_is_initiator(const struct np_session *sess)
{
	return sess->initiator;
}

int np_session_set_cipher(struct np_session *sess, int cipher)
{
	if (cipher != NP_NOISE_CHACHAPOLY && cipher != NP_NOISE_AESGCM)
		return -EINVAL;
	if (!np_noise_cipher_available(cipher))
		return -ENOTSUP;
	sess->cipher_offer = cipher;
	return 0;
}

void np_session_set_rekey_after_ms(struct np_session *sess, uint64_t ms)
{
	sess->rekey_after_ms = ms;
}

void np_session_set_wall_clock(struct np_session *sess, uint64_t (*fn)(void *ctx), void *ctx)
{
	sess->wall_clock_ns = fn ? fn : realtime_ns;
	sess->wall_clock_ctx = fn ? ctx : NULL;
}

static void prologue(uint8_t out[PROLOGUE_LEN + INIT_HDR_LEN], const uint8_t *hdr)
{
	memcpy(out, PROLOGUE, PROLOGUE_LEN);
	memcpy(out + PROLOGUE_LEN, hdr, INIT_HDR_LEN);
}

int np_session_create_init(struct np_session *sess, uint64_t now_ms,
			   uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t pro[PROLOGUE_LEN + INIT_HDR_LEN], ts[TS_LEN];
	uint64_t ns;
	size_t n;
	int rc;

	if (!sess->initiator)
		return -EPERM;
	if (cap < NP_SESSION_INIT_LEN)
		return -ENOSPC;
	expire(sess, now_ms);
	np_noise_wipe(&sess->hs);
	sess->hs_pending = 0;

	sess->hs_index = new_index(sess);
	sess->hs_pref = (uint8_t)sess->cipher_offer;
	out[0] = NP_WIRE_VERSION;
	out[1] = NP_MSG_HANDSHAKE_INIT;
	out[2] = sess->hs_pref;
	out[3] = 0;
	put_be32(out + 4, sess->hs_index);
	prologue(pro, out);
	rc = np_noise_init(&sess->hs, 1, NP_NOISE_CHACHAPOLY, sess->s_priv, sess->peer_pub,
			   sess->has_psk ? sess->psk : NULL, pro, sizeof(pro));
	if (rc < 0)
		goto out;

	/* TAI64N, strictly increasing even if the wall clock stalls or steps back. */
	ns = sess->wall_clock_ns(sess->wall_clock_ctx);
	if (ns <= sess->ts_sent_ns)
		ns = sess->ts_sent_ns + 1;
	sess->ts_sent_ns = ns;
	put_be64(ts, TAI64_BASE + ns / 1000000000ull);
	put_be32(ts + 8, (uint32_t)(ns % 1000000000ull));

	rc = np_noise_write_message(&sess->hs, ts, sizeof(ts), out + INIT_HDR_LEN,
				    cap - INIT_HDR_LEN - NP_HS_MACS_LEN, &n);
	if (rc < 0)
		goto out;
	sess->hs_pending = 1;
	sess->hs_sent_ms = now_ms;
	*out_len = INIT_HDR_LEN + n + NP_HS_MACS_LEN;
	np_hscookie_add_macs(&sess->hc, out, *out_len, now_ms);
out:
	if (rc < 0)
		np_noise_wipe(&sess->hs);
	return rc;
}

int np_session_init_precheck(const struct np_session *sess, const uint8_t *pkt, size_t len)
{
	if (!pkt || len != NP_SESSION_INIT_LEN || pkt[0] != NP_WIRE_VERSION ||
	    pkt[1] != NP_MSG_HANDSHAKE_INIT || pkt[2] > NP_NOISE_AESGCM || pkt[3] != 0)
		return -EBADMSG;
	return np_hscookie_check_mac1(&sess->hc, pkt, len);
}

int np_session_check_mac2(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len,
			  const np_addr_t *from)
{
	int rc = np_session_init_precheck(sess, pkt, len);

	return rc < 0 ? rc : np_hscookie_check_mac2(&sess->hc, pkt, len, from, now_ms);
}

int np_session_cookie_reply(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len,
			    const np_addr_t *from, uint8_t *out, size_t cap)
{
	int rc = np_session_init_precheck(sess, pkt, len);

	if (rc < 0)
		return rc;
	return np_hscookie_make_reply(&sess->hc, pkt, len, get_be32(pkt + 4), from, now_ms, out, cap);
}

int np_session_handle_cookie(struct np_session *sess, uint64_t now_ms, const uint8_t *pkt, size_t len)
{
	if (!sess->initiator || !sess->hs_pending)
		return -ENOKEY;
	return np_hscookie_take_reply(&sess->hc, pkt, len, sess->hs_index, now_ms);
}

int np_session_handle_init(struct np_session *sess, uint64_t now_ms,
			   const uint8_t *pkt, size_t len,
			   uint8_t *resp_out, size_t cap, size_t *resp_len)
{
	struct np_noise_hs hs;
	struct np_noise_cs cs_send, cs_recv;
	uint8_t pro[PROLOGUE_LEN + INIT_HDR_LEN], ts[TS_LEN], rs[NP_NOISE_KEY_LEN];
	uint32_t local, remote;
	size_t n;
	uint8_t resp_bind[RESP_BIND_LEN];
	int cipher, rc;

	memset(&hs, 0, sizeof(hs));
	memset(&cs_send, 0, sizeof(cs_send));
	memset(&cs_recv, 0, sizeof(cs_recv));
	rc = np_session_init_precheck(sess, pkt, len);
	if (rc < 0)
		return rc;
	/* Both sides derive the roles from the same two keys: an init reaching
	 * the initiator means the peer is configured with another key pair. */
	if (sess->initiator)
		return -EKEYREJECTED;
	if (cap < NP_SESSION_RESP_LEN)
		return -ENOSPC;
	expire(sess, now_ms);

	prologue(pro, pkt);
	rc = np_noise_init(&hs, 0, NP_NOISE_CHACHAPOLY, sess->s_priv, NULL,
			   sess->has_psk ? sess->psk : NULL, pro, sizeof(pro));
	if (rc < 0)
		goto out;
	rc = np_noise_read_message(&hs, pkt + INIT_HDR_LEN, len - INIT_HDR_LEN - NP_HS_MACS_LEN, ts, sizeof(ts), &n);
	if (rc < 0 || n != TS_LEN) {
		rc = -EKEYREJECTED;
		goto out;
	}
	if (np_noise_remote_static(&hs, rs) < 0 ||
	    sodium_memcmp(rs, sess->peer_pub, NP_NOISE_KEY_LEN) != 0) {
		rc = -EKEYREJECTED;
		goto out;
	}
	/* Big-endian TAI64N compares like a number under memcmp. */
	if (sess->have_ts && memcmp(ts, sess->ts_seen, TS_LEN) <= 0) {
		rc = -EALREADY;
		goto out;
	}

	/* Everything needed from pkt is read before resp_out is written: the
	 * two may be the same buffer. */
	cipher = (pkt[2] == NP_NOISE_AESGCM && sess->cipher_offer == NP_NOISE_AESGCM) ?
		 NP_NOISE_AESGCM : NP_NOISE_CHACHAPOLY;
	remote = get_be32(pkt + 4);
	local = new_index(sess);
	resp_out[0] = NP_WIRE_VERSION;
	resp_out[1] = NP_MSG_HANDSHAKE_RESP;
	resp_out[2] = (uint8_t)cipher;
	resp_out[3] = 0;
	put_be32(resp_out + 4, local);
	put_be32(resp_out + 8, remote);
	/* The cipher choice and our index travel again inside the encrypted
	 * payload, so an on-path change to the cleartext header is detected. */
	memcpy(resp_bind, resp_out + 2, 1);
	memcpy(resp_bind + 1, resp_out + 4, 4);
	rc = np_noise_write_message(&hs, resp_bind, sizeof(resp_bind), resp_out + RESP_HDR_LEN,
				    cap - RESP_HDR_LEN - NP_HS_MACS_LEN, &n);
	if (rc < 0)
		goto out;
	rc = np_noise_split(&hs, cipher, &cs_send, &cs_recv);
	if (rc < 0)
		goto out;
	kp_install(&sess->next, cipher, &cs_send, &cs_recv, local, remote, now_ms);
	memcpy(sess->ts_seen, ts, TS_LEN);
	sess->have_ts = 1;
	*resp_len = RESP_HDR_LEN + n + NP_HS_MACS_LEN;
	np_hscookie_add_macs(&sess->hc, resp_out, *resp_len, now_ms);
	np_debug("handshake init accepted, %s, waiting for confirmation",
		 np_noise_cipher_str(cipher));
out:
	np_noise_wipe(&hs);
	sodium_memzero(&cs_send, sizeof(cs_send));
	sodium_memzero(&cs_recv, sizeof(cs_recv));
	sodium_memzero(ts, sizeof(ts));
	return rc;
}

int np_session_handle_resp(struct np_session *sess, uint64_t now_ms,
			   const uint8_t *pkt, size_t len)
{
	struct np_noise_hs hs;
	struct np_noise_cs cs_send, cs_recv;
	struct np_keypair kp;
	uint8_t resp_bind[RESP_BIND_LEN];
	size_t n;
	int cipher, rc;

	memset(&hs, 0, sizeof(hs));
	memset(&cs_send, 0, sizeof(cs_send));
	memset(&cs_recv, 0, sizeof(cs_recv));
	memset(&kp, 0, sizeof(kp));
	if (!pkt || len != NP_SESSION_RESP_LEN || pkt[0] != NP_WIRE_VERSION ||
	    pkt[1] != NP_MSG_HANDSHAKE_RESP || pkt[2] > NP_NOISE_AESGCM || pkt[3] != 0)
		return -EBADMSG;
	cipher = pkt[2];
	if (!sess->initiator || !sess->hs_pending || get_be32(pkt + 8) != sess->hs_index)
		return -ENOKEY;
	if (np_hscookie_check_mac1(&sess->hc, pkt, len) < 0)
		return -EACCES;
	if (cipher == NP_NOISE_AESGCM && sess->hs_pref != NP_NOISE_AESGCM)
		return -EBADMSG;
	expire(sess, now_ms);

	/* Work on a copy: a forged response must not spoil the real one. */
	memcpy(&hs, &sess->hs, sizeof(hs));
	rc = np_noise_read_message(&hs, pkt + RESP_HDR_LEN, len - RESP_HDR_LEN - NP_HS_MACS_LEN, resp_bind,
				   sizeof(resp_bind), &n);
	if (rc < 0 || n != sizeof(resp_bind) || resp_bind[0] != pkt[2] || memcmp(resp_bind + 1, pkt + 4, 4) != 0) {
		rc = -EKEYREJECTED;
		goto out;
	}
	rc = np_noise_split(&hs, cipher, &cs_send, &cs_recv);
	if (rc < 0)
		goto out;
	kp_install(&kp, cipher, &cs_send, &cs_recv, sess->hs_index, get_be32(pkt + 4), now_ms);
	if (sess->current.valid) {
		kp_move(&sess->previous, &sess->current);
		sess->previous_expires_ms = now_ms + sess->keep_previous_ms;
	}
	kp_move(&sess->current, &kp);
	kp_wipe(&sess->next);
	np_noise_wipe(&sess->hs);
	sess->hs_pending = 0;
	sess->last_handshake_ms = now_ms;
	np_debug("handshake complete (initiator), %s", np_noise_cipher_str(cipher));
out:
	np_noise_wipe(&hs);
	sodium_memzero(&cs_send, sizeof(cs_send));
	sodium_memzero(&cs_recv, sizeof(cs_recv));
	kp_wipe(&kp);
	return rc;
}

static int kp_usable_send(const struct np_session *sess, const struct np_keypair *kp, uint64_t now_ms)
{
	return kp->valid && age(now_ms, kp->created_ms) < sess->reject_after_ms &&
	       kp->send_counter < sess->reject_after_messages;
}

int np_session_encrypt(struct np_session *sess, uint64_t now_ms,
		       uint8_t *buf, size_t payload_len, size_t cap, size_t *out_len)
{
	struct np_keypair *kp = &sess->current;
	int rc;

	expire(sess, now_ms);
	if (!kp_usable_send(sess, kp, now_ms))
		return -ENOKEY;
	if (cap < NP_SESSION_OVERHEAD || payload_len > cap - NP_SESSION_OVERHEAD)
		return -ENOSPC;
	buf[0] = NP_WIRE_VERSION;
	buf[1] = NP_MSG_TRANSPORT;
	buf[2] = 0;
	buf[3] = 0;
	put_be32(buf + 4, kp->remote_index);
	put_be64(buf + 8, kp->send_counter);
	rc = np_noise_aead_seal(&kp->send, kp->send_counter, buf, NP_TRANSPORT_HDR_LEN,
				buf + NP_TRANSPORT_HDR_LEN, payload_len, buf + NP_TRANSPORT_HDR_LEN,
				buf + NP_TRANSPORT_HDR_LEN + payload_len);
	if (rc < 0)
		return rc;
	kp->send_counter++;
	*out_len = NP_SESSION_OVERHEAD + payload_len;
	return 0;
}

int np_session_decrypt(struct np_session *sess, uint64_t now_ms,
		       uint8_t *buf, size_t len, size_t *payload_off, size_t *payload_len)
{
	struct np_keypair *kp = NULL;
	uint32_t idx;
	uint64_t counter;
	size_t clen;
	int rc;

	if (!buf || len < NP_SESSION_OVERHEAD || buf[0] != NP_WIRE_VERSION ||
	    buf[1] != NP_MSG_TRANSPORT || buf[2] != 0 || buf[3] != 0)
		return -EBADMSG;
	expire(sess, now_ms);
	idx = get_be32(buf + 4);
	counter = get_be64(buf + 8);
	if (sess->current.valid && sess->current.local_index == idx)
		kp = &sess->current;
	else if (sess->next.valid && sess->next.local_index == idx)
		kp = &sess->next;
	else if (sess->previous.valid && sess->previous.local_index == idx)
		kp = &sess->previous;
	if (!kp)
		return -ENOKEY;
	if (counter >= sess->reject_after_messages)
		return -EBADMSG;
	rc = np_replay_check(&kp->replay, counter);
	if (rc < 0)
		return rc;
	clen = len - NP_SESSION_OVERHEAD;
	rc = np_noise_aead_open(&kp->recv, counter, buf, NP_TRANSPORT_HDR_LEN,
				buf + NP_TRANSPORT_HDR_LEN, clen,
				buf + NP_TRANSPORT_HDR_LEN + clen, buf + NP_TRANSPORT_HDR_LEN);
	if (rc < 0)
		return -EKEYREJECTED;
	rc = np_replay_update(&kp->replay, counter);
	if (rc < 0)
		return rc;
	if (kp == &sess->next) {
		/* The peer proved it has the new keys: start sending with them. */
		if (sess->current.valid) {
			kp_move(&sess->previous, &sess->current);
			sess->previous_expires_ms = now_ms + sess->keep_previous_ms;
		}
		kp_move(&sess->current, &sess->next);
		sess->last_handshake_ms = sess->current.created_ms;
		np_debug("handshake confirmed (responder), %s",
			 np_noise_cipher_str(sess->current.cipher));
	}
	*payload_off = NP_TRANSPORT_HDR_LEN;
	*payload_len = clen;
	return 0;
}

int np_session_can_send(struct np_session *sess, uint64_t now_ms)
{
	expire(sess, now_ms);
	return kp_usable_send(sess, &sess->current, now_ms);
}

int np_session_needs_rekey(struct np_session *sess, uint64_t now_ms)
{
	const struct np_keypair *kp = &sess->current;

	if (!sess->initiator)
		return 0;
	if (sess->hs_pending && age(now_ms, sess->hs_sent_ms) < sess->rekey_timeout_ms)
		return 0;
	if (!np_session_can_send(sess, now_ms))
		return 1;
	return age(now_ms, kp->created_ms) >= sess->rekey_after_ms ||
	       kp->send_counter >= sess->rekey_after_messages;
}

const char *np_session_cipher_name(const struct np_session *sess)
{
	if (sess->current.valid)
		return np_noise_cipher_str(sess->current.cipher);
	if (sess->next.valid)
		return np_noise_cipher_str(sess->next.cipher);
	return "none";
}
