/* np_natclass: classification rules, names and the JSON writer. Pure code:
 * the observations come from np_discovery (or a test), never from here. */
#include "np_natclass.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_wire.h"

static int np_same_ip(const np_addr_t *a, const np_addr_t *b)
{
	size_t n = a->family == 4 ? 4 : 16;

	return a->family == b->family && memcmp(a->ip, b->ip, n) == 0;
}

static int np_same_ep(const np_addr_t *a, const np_addr_t *b)
{
	return np_same_ip(a, b) && a->port == b->port;
}

int np_natclass_port_delta(uint16_t a, uint16_t b)
{
	int d = (int)b - (int)a;

	if (d > 32767)
		d -= 65536;
	else if (d < -32768)
		d += 65536;
	return d;
}

int np_natclass_latest(const struct np_nat_obs *obs, const np_nat_info_t *info, np_addr_t *out)
{
	uint16_t cand[4 + NP_NATCLASS_MAX_FRESH];
	unsigned n = 0, i, nf = obs->n_fresh > NP_NATCLASS_MAX_FRESH ? NP_NATCLASS_MAX_FRESH : obs->n_fresh;
	int sign, best = 0;

	memset(out, 0, sizeof(*out));
	if (!obs->mapped_p1.family || !obs->mapped_p1.port)
		return -ENODATA;
	*out = obs->mapped_p1;
	if (obs->mapped_p2.family && np_same_ip(&obs->mapped_p2, &obs->mapped_p1))
		cand[n++] = obs->mapped_p2.port;
	if (obs->mapped_alt.family && np_same_ip(&obs->mapped_alt, &obs->mapped_p1))
		cand[n++] = obs->mapped_alt.port;
	if (obs->mapped_last.family && np_same_ip(&obs->mapped_last, &obs->mapped_p1))
		cand[n++] = obs->mapped_last.port;
	for (i = 0; i < nf; i++)
		if (obs->fresh_public[i])
			cand[n++] = obs->fresh_public[i];
	if (!info || !info->known || info->allocation != NP_NAT_ALLOC_SEQUENTIAL || !info->step)
		return 0; /* no counter to follow */
	sign = info->step > 0 ? 1 : -1;
	for (i = 0; i < n; i++) {
		int ahead = sign * np_natclass_port_delta(obs->mapped_p1.port, cand[i]);

		if (ahead > best && ahead < 32768) {
			best = ahead;
			out->port = cand[i];
		}
	}
	return 0;
}

static int np_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int np_natclass_step(const uint16_t *ports, unsigned n, int16_t *step, uint16_t *noise)
{
	int deltas[NP_NATCLASS_MAX_FRESH], sorted[NP_NATCLASS_MAX_FRESH];
	unsigned i, nd, ns = 0, pos = 0, exact = 0;
	int d, maxdev = 0, wrap = -1;

	*step = 0;
	*noise = 0;
	if (n < 3)
		return -EINVAL;
	if (n > NP_NATCLASS_MAX_FRESH)
		n = NP_NATCLASS_MAX_FRESH;
	nd = n - 1;
	for (i = 0; i < nd; i++) {
		deltas[i] = np_natclass_port_delta(ports[i], ports[i + 1]);
		pos += deltas[i] > 0;
	}
	/* A sequential NAT wraps around at the end of its port range (or of
	 * a CGNAT's port block): one big jump against every other delta. It
	 * says nothing about the step, so it is left out (with two deltas
	 * left at least); a second one is no longer a counter. */
	for (i = 0; nd >= 3 && i < nd; i++)
		if (abs(deltas[i]) > NP_NATCLASS_MAX_NOISE &&
		    ((deltas[i] > 0 && pos == 1) || (deltas[i] < 0 && pos == nd - 1)))
			wrap = (int)i;
	for (i = 0; i < nd; i++)
		if ((int)i != wrap)
			sorted[ns++] = deltas[i];
	qsort(sorted, ns, sizeof(sorted[0]), np_cmp_int);
	/* Lower median: other traffic only ever adds to a delta, so the
	 * smaller middle value is the better estimate of the true step. */
	d = sorted[(ns - 1) / 2];
	for (i = 0; i < ns; i++) {
		int dev = abs(sorted[i] - d);

		if (dev > maxdev)
			maxdev = dev;
		if (dev <= 1)
			exact++;
	}
	*step = (int16_t)d;
	*noise = (uint16_t)(maxdev > 65535 ? 65535 : maxdev);
	/* Sequential: a nonzero, bounded step that at least half of the deltas
	 * hit (within 1), and no delta wildly off. A random allocator over a
	 * few thousand ports fails all three almost surely. */
	if (d == 0 || abs(d) > NP_NATCLASS_MAX_STEP || maxdev > NP_NATCLASS_MAX_NOISE)
		return 0;
	if (exact * 2 < ns)
		return 0;
	return 1;
}

/* Allocation for mappings that are new per destination (ADM, APDM): the
 * fresh sockets tell the pattern. */
static void np_classify_fresh(const struct np_nat_obs *obs, np_nat_info_t *out)
{
	uint16_t ports[NP_NATCLASS_MAX_FRESH];
	unsigned i, n = 0, preserved = 0;
	unsigned k = obs->n_fresh > NP_NATCLASS_MAX_FRESH ? NP_NATCLASS_MAX_FRESH : obs->n_fresh;

	for (i = 0; i < k; i++) {
		if (!obs->fresh_public[i])
			continue;
		if (obs->fresh_public[i] == obs->fresh_local[i])
			preserved++;
		ports[n++] = obs->fresh_public[i];
	}
	if (n > 0 && preserved == n && obs->mapped_p1.port == obs->local.port) {
		out->allocation = NP_NAT_ALLOC_PRESERVE;
		return;
	}
	if (n < 3) {
		out->allocation = NP_NAT_ALLOC_UNKNOWN;
		return;
	}
	if (np_natclass_step(ports, n, &out->step, &out->noise) == 1) {
		out->allocation = NP_NAT_ALLOC_SEQUENTIAL;
	} else {
		out->allocation = NP_NAT_ALLOC_RANDOM;
		out->step = 0;
		out->noise = 0;
	}
}

int np_natclass_classify(const struct np_nat_obs *obs, np_nat_info_t *out)
{
	int p1_preserved;

	memset(out, 0, sizeof(*out));
	if (!obs->mapped_p1.family)
		return -ENODATA;
	out->known = 1;
	out->depth = obs->depth;

	/* Filtering, from sockets that only talked to PORT1. */
	if (obs->have_alt && obs->change_ip_reply)
		out->filtering = NP_NAT_FILTER_EIF;
	else if (obs->have_alt && obs->change_port_reply)
		out->filtering = NP_NAT_FILTER_ADF;
	else if (obs->change_port_reply)
		out->filtering = NP_NAT_FILTER_EIF_OR_ADF;
	else
		out->filtering = NP_NAT_FILTER_APDF;

	if (np_same_ep(&obs->mapped_p1, &obs->local)) {
		out->mapping = NP_NAT_MAP_NONE;
		out->allocation = NP_NAT_ALLOC_PRESERVE;
		out->depth = 0;
		/* A host without NAT that still drops unsolicited packets has a
		 * stateful firewall: keep what the filter tests said. */
		if (out->filtering == NP_NAT_FILTER_EIF || out->filtering == NP_NAT_FILTER_EIF_OR_ADF)
			out->filtering = NP_NAT_FILTER_NONE;
		return 0;
	}
	if (out->depth == 0)
		out->depth = 1; /* mapped differs from local: at least one NAT */

	if (!obs->mapped_p2.family)
		out->mapping = NP_NAT_MAP_UNKNOWN;
	else if (!np_same_ep(&obs->mapped_p1, &obs->mapped_p2))
		out->mapping = NP_NAT_MAP_APDM;
	else if (obs->have_alt && obs->mapped_alt.family)
		out->mapping = np_same_ep(&obs->mapped_p1, &obs->mapped_alt) ? NP_NAT_MAP_EIM
									    : NP_NAT_MAP_ADM;
	else if (obs->have_alt)
		out->mapping = NP_NAT_MAP_UNKNOWN; /* alt exists but did not answer */
	else
		out->mapping = NP_NAT_MAP_EIM_OR_ADM;

	p1_preserved = obs->mapped_p1.port == obs->local.port;
	switch (out->mapping) {
	case NP_NAT_MAP_EIM:
	case NP_NAT_MAP_EIM_OR_ADM:
		out->allocation = p1_preserved ? NP_NAT_ALLOC_PRESERVE : NP_NAT_ALLOC_STABLE;
		break;
	case NP_NAT_MAP_ADM:
	case NP_NAT_MAP_APDM:
		np_classify_fresh(obs, out);
		break;
	default:
		out->allocation = NP_NAT_ALLOC_UNKNOWN;
		break;
	}
	return 0;
}

const char *np_nat_mapping_str(unsigned mapping)
{
	static const char *const names[] = { "unknown", "none", "EIM", "ADM", "APDM", "EIM-or-ADM" };

	return mapping < sizeof(names) / sizeof(names[0]) ? names[mapping] : "invalid";
}

const char *np_nat_filtering_str(unsigned filtering)
{
	static const char *const names[] = { "unknown", "none", "EIF", "ADF", "APDF",
					     "ADF-or-APDF", "EIF-or-ADF" };

	return filtering < sizeof(names) / sizeof(names[0]) ? names[filtering] : "invalid";
}

const char *np_nat_allocation_str(unsigned allocation)
{
	static const char *const names[] = { "unknown", "preserved", "sequential", "random",
					     "stable" };

	return allocation < sizeof(names) / sizeof(names[0]) ? names[allocation] : "invalid";
}

const char *np_natclass_kind_str(const np_nat_info_t *info, char *buf, size_t cap)
{
	const char *prefix;

	if (!cap)
		return buf;
	if (!info->known) {
		snprintf(buf, cap, "unknown");
		return buf;
	}
	switch (info->mapping) {
	case NP_NAT_MAP_NONE:
		snprintf(buf, cap, "none");
		return buf;
	case NP_NAT_MAP_EIM:
	case NP_NAT_MAP_EIM_OR_ADM:
		if (info->allocation == NP_NAT_ALLOC_PRESERVE)
			snprintf(buf, cap, "cone");
		else if (info->allocation == NP_NAT_ALLOC_STABLE)
			snprintf(buf, cap, "cone-altered");
		else
			snprintf(buf, cap, "unknown");
		return buf;
	case NP_NAT_MAP_ADM:
		prefix = "adm";
		break;
	case NP_NAT_MAP_APDM:
		prefix = "symmetric";
		break;
	default:
		snprintf(buf, cap, "unknown");
		return buf;
	}
	switch (info->allocation) {
	case NP_NAT_ALLOC_SEQUENTIAL:
		snprintf(buf, cap, "%s-seq:%d", prefix, info->step);
		break;
	case NP_NAT_ALLOC_RANDOM:
		snprintf(buf, cap, "%s-random", prefix);
		break;
	case NP_NAT_ALLOC_PRESERVE:
		snprintf(buf, cap, "%s-preserve", prefix);
		break;
	default:
		snprintf(buf, cap, "%s-unknown", prefix);
		break;
	}
	return buf;
}

const char *np_natclass_describe(const np_nat_info_t *info, char *buf, size_t cap)
{
	if (!cap)
		return buf;
	if (!info->known) {
		snprintf(buf, cap, "nat=unknown");
		return buf;
	}
	if (info->allocation == NP_NAT_ALLOC_SEQUENTIAL)
		snprintf(buf, cap, "mapping=%s filtering=%s ports=sequential step=%d noise=%u depth=%u",
			 np_nat_mapping_str(info->mapping), np_nat_filtering_str(info->filtering),
			 info->step, info->noise, info->depth);
	else
		snprintf(buf, cap, "mapping=%s filtering=%s ports=%s depth=%u",
			 np_nat_mapping_str(info->mapping), np_nat_filtering_str(info->filtering),
			 np_nat_allocation_str(info->allocation), info->depth);
	return buf;
}

int np_natclass_json(const np_nat_info_t *info, const np_addr_t *public_ep, char *buf,
		     size_t cap)
{
	char kind[32], text[128], ep[NP_ADDR_STRLEN] = "";
	int n;

	np_natclass_kind_str(info, kind, sizeof(kind));
	np_natclass_describe(info, text, sizeof(text));
	if (public_ep && public_ep->family)
		np_addr_str(public_ep, ep, sizeof(ep));
	/* Every string here comes from fixed tables and address formatting:
	 * nothing needs JSON escaping. */
	n = snprintf(buf, cap,
		     "{\"known\":%s,\"kind\":\"%s\",\"mapping\":\"%s\",\"filtering\":\"%s\","
		     "\"allocation\":\"%s\",\"step\":%d,\"noise\":%u,\"depth\":%u,"
		     "\"public\":%s%s%s,\"text\":\"%s\"}",
		     info->known ? "true" : "false", kind, np_nat_mapping_str(info->mapping),
		     np_nat_filtering_str(info->filtering), np_nat_allocation_str(info->allocation),
		     info->step, info->noise, info->depth, ep[0] ? "\"" : "", ep[0] ? ep : "null",
		     ep[0] ? "\"" : "", text);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}
