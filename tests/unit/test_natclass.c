/* test_natclass: the NAT classifier on synthetic observations of every kind,
 * its names and JSON, and the discovery depth rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "np_discovery.h"
#include "np_natclass.h"

static np_addr_t ep(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	np_addr_t x = { .family = 4, .port = port, .ip = { a, b, c, d } };

	return x;
}

/* A base observation: LAN host 192.168.1.10:40000 behind 203.0.113.2. */
static struct np_nat_obs base(void)
{
	struct np_nat_obs o;
	unsigned k;

	memset(&o, 0, sizeof(o));
	o.local = ep(192, 168, 1, 10, 40000);
	o.mapped_p1 = o.mapped_p2 = o.mapped_alt = ep(203, 0, 113, 2, 40000);
	o.have_alt = 1;
	o.depth = 1;
	o.n_fresh = 5;
	for (k = 0; k < 5; k++)
		o.fresh_local[k] = o.fresh_public[k] = (uint16_t)(50000 + 37 * k);
	return o;
}

static void check(const struct np_nat_obs *o, const char *kind, unsigned mapping,
		  unsigned filtering, unsigned allocation)
{
	np_nat_info_t n;
	char buf[32];

	assert_int_equal(np_natclass_classify(o, &n), 0);
	assert_int_equal(n.known, 1);
	assert_string_equal(np_natclass_kind_str(&n, buf, sizeof(buf)), kind);
	assert_int_equal(n.mapping, mapping);
	assert_int_equal(n.filtering, filtering);
	assert_int_equal(n.allocation, allocation);
}

static void test_none(void **state)
{
	struct np_nat_obs o = base();
	np_nat_info_t n;

	o.mapped_p1 = o.mapped_p2 = o.mapped_alt = o.local;
	o.change_port_reply = o.change_ip_reply = 1;
	o.depth = 0;
	check(&o, "none", NP_NAT_MAP_NONE, NP_NAT_FILTER_NONE, NP_NAT_ALLOC_PRESERVE);
	/* A public host with a stateful firewall keeps its filter class. */
	o.change_port_reply = o.change_ip_reply = 0;
	assert_int_equal(np_natclass_classify(&o, &n), 0);
	assert_int_equal(n.filtering, NP_NAT_FILTER_APDF);
	assert_int_equal(n.depth, 0);
}

static void test_cone(void **state)
{
	struct np_nat_obs o = base();
	np_nat_info_t n;
	char text[128];

	check(&o, "cone", NP_NAT_MAP_EIM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_PRESERVE);
	np_natclass_classify(&o, &n);
	assert_string_equal(np_natclass_describe(&n, text, sizeof(text)),
			    "mapping=EIM filtering=APDF ports=preserved depth=1");
	o.change_port_reply = 1;
	check(&o, "cone", NP_NAT_MAP_EIM, NP_NAT_FILTER_ADF, NP_NAT_ALLOC_PRESERVE);
	o.change_ip_reply = 1;
	check(&o, "cone", NP_NAT_MAP_EIM, NP_NAT_FILTER_EIF, NP_NAT_ALLOC_PRESERVE);
}

static void test_no_alt_never_guesses(void **state)
{
	struct np_nat_obs o = base();

	o.have_alt = 0;
	memset(&o.mapped_alt, 0, sizeof(o.mapped_alt));
	check(&o, "cone", NP_NAT_MAP_EIM_OR_ADM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_PRESERVE);
	o.change_port_reply = 1;
	check(&o, "cone", NP_NAT_MAP_EIM_OR_ADM, NP_NAT_FILTER_EIF_OR_ADF, NP_NAT_ALLOC_PRESERVE);
	/* The alt address exists but never answered: unknown, not EIM. */
	o = base();
	memset(&o.mapped_alt, 0, sizeof(o.mapped_alt));
	check(&o, "unknown", NP_NAT_MAP_UNKNOWN, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_UNKNOWN);
	/* No PORT2 answer: unknown too. */
	o = base();
	memset(&o.mapped_p2, 0, sizeof(o.mapped_p2));
	check(&o, "unknown", NP_NAT_MAP_UNKNOWN, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_UNKNOWN);
}

static void test_cone_altered(void **state)
{
	struct np_nat_obs o = base();

	o.mapped_p1.port = o.mapped_p2.port = o.mapped_alt.port = 41111;
	check(&o, "cone-altered", NP_NAT_MAP_EIM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_STABLE);
}

static void test_adm(void **state)
{
	struct np_nat_obs o = base();
	unsigned k;

	o.mapped_alt.port = 40001;
	for (k = 0; k < 5; k++)
		o.fresh_public[k] = (uint16_t)(30000 + 2 * k);
	check(&o, "adm-seq:2", NP_NAT_MAP_ADM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_SEQUENTIAL);
}

static void test_symmetric_seq(void **state)
{
	static const uint16_t clean[5] = { 30000, 30004, 30008, 30012, 30016 };
	static const uint16_t noisy[5] = { 30000, 30004, 30012, 30016, 30020 };
	static const uint16_t down[5] = { 30000, 29999, 29998, 29997, 29996 };
	static const uint16_t wrap[5] = { 65533, 65535, 1, 3, 5 };
	struct np_nat_obs o = base();
	np_nat_info_t n;
	char text[128];

	o.mapped_p1.port = 29992;
	o.mapped_p2.port = 29996;
	o.mapped_alt.port = 29998;
	memcpy(o.fresh_public, clean, sizeof(clean));
	check(&o, "symmetric-seq:4", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_SEQUENTIAL);
	np_natclass_classify(&o, &n);
	assert_int_equal(n.noise, 0);
	assert_string_equal(np_natclass_describe(&n, text, sizeof(text)),
			    "mapping=APDM filtering=APDF ports=sequential step=4 noise=0 depth=1");
	/* Other traffic took one port in between: still step 4, noise 4. */
	memcpy(o.fresh_public, noisy, sizeof(noisy));
	check(&o, "symmetric-seq:4", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_SEQUENTIAL);
	np_natclass_classify(&o, &n);
	assert_int_equal(n.noise, 4);
	memcpy(o.fresh_public, down, sizeof(down));
	check(&o, "symmetric-seq:-1", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_SEQUENTIAL);
	memcpy(o.fresh_public, wrap, sizeof(wrap));
	check(&o, "symmetric-seq:2", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_SEQUENTIAL);
	/* Too few fresh answers: allocation unknown. */
	o.fresh_public[1] = o.fresh_public[2] = o.fresh_public[3] = 0;
	check(&o, "symmetric-unknown", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_UNKNOWN);
}

static void test_symmetric_random(void **state)
{
	static const uint16_t rnd[5] = { 64190, 60096, 64947, 7844, 15274 };
	static const uint16_t half[5] = { 30000, 30001, 41000, 30002, 52000 };
	struct np_nat_obs o = base();

	o.mapped_p1.port = 23311;
	o.mapped_p2.port = 25262;
	o.mapped_alt.port = 31549;
	memcpy(o.fresh_public, rnd, sizeof(rnd));
	check(&o, "symmetric-random", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_RANDOM);
	memcpy(o.fresh_public, half, sizeof(half));
	check(&o, "symmetric-random", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_RANDOM);
}

static void test_symmetric_preserve(void **state)
{
	struct np_nat_obs o = base();

	o.mapped_p2.port = 40001; /* first mapping of each socket keeps its port */
	check(&o, "symmetric-preserve", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_PRESERVE);
	o = base();
	o.mapped_p2 = ep(203, 0, 113, 3, 40000); /* another public IP: also APDM */
	check(&o, "symmetric-preserve", NP_NAT_MAP_APDM, NP_NAT_FILTER_APDF, NP_NAT_ALLOC_PRESERVE);
}

static void test_nodata(void **state)
{
	struct np_nat_obs o;
	np_nat_info_t n;
	char buf[32];

	memset(&o, 0, sizeof(o));
	assert_int_equal(np_natclass_classify(&o, &n), -ENODATA);
	assert_int_equal(n.known, 0);
	assert_string_equal(np_natclass_kind_str(&n, buf, sizeof(buf)), "unknown");
}

static void test_step_helper(void **state)
{
	static const uint16_t p[4] = { 100, 101, 102, 103 };
	int16_t step;
	uint16_t noise;

	assert_int_equal(np_natclass_step(p, 2, &step, &noise), -EINVAL);
	assert_int_equal(np_natclass_step(p, 4, &step, &noise), 1);
	assert_int_equal(step, 1);
	/* A sequential NAT wrapping around its port range (20000-20255) */
	{
		static const uint16_t w[5] = { 20251, 20253, 20255, 20001, 20003 };
		static const uint16_t down[5] = { 20004, 20002, 20000, 20254, 20252 };
		static const uint16_t two[5] = { 20251, 20253, 20001, 20003, 20250 };
		static const uint16_t short3[3] = { 20253, 20001, 20003 };

		assert_int_equal(np_natclass_step(w, 5, &step, &noise), 1);
		assert_int_equal(step, 2);
		assert_int_equal(noise, 0);
		assert_int_equal(np_natclass_step(down, 5, &step, &noise), 1);
		assert_int_equal(step, -2);
		/* two wraps are no counter; nor is one jump among two deltas */
		assert_int_equal(np_natclass_step(two, 5, &step, &noise), 0);
		assert_int_equal(np_natclass_step(short3, 3, &step, &noise), 0);
	}
	assert_int_equal(np_natclass_port_delta(65535, 1), 2);
	assert_int_equal(np_natclass_port_delta(1, 65535), -2);
}

static void test_json(void **state)
{
	struct np_nat_obs o = base();
	np_addr_t pub = ep(203, 0, 113, 2, 40000);
	np_nat_info_t n;
	char buf[512], tiny[16];

	np_natclass_classify(&o, &n);
	assert_true(np_natclass_json(&n, &pub, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
			    "{\"known\":true,\"kind\":\"cone\",\"mapping\":\"EIM\",\"filtering\":\"APDF\","
			    "\"allocation\":\"preserved\",\"step\":0,\"noise\":0,\"depth\":1,"
			    "\"public\":\"203.0.113.2:40000\","
			    "\"text\":\"mapping=EIM filtering=APDF ports=preserved depth=1\"}");
	assert_int_equal(np_natclass_json(&n, NULL, tiny, sizeof(tiny)), -ENOSPC);
	assert_true(np_natclass_json(&n, NULL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"public\":null"));
}

static void test_depth(void **state)
{
	np_addr_t hops[4];

	memset(hops, 0, sizeof(hops));
	assert_int_equal(np_discovery_depth(hops, 4), 1); /* nobody answered */
	hops[0] = ep(192, 168, 1, 1, 0);
	hops[1] = ep(203, 0, 113, 1, 0);
	assert_int_equal(np_discovery_depth(hops, 4), 1);
	hops[1] = ep(100, 64, 0, 1, 0);
	hops[2] = ep(203, 0, 113, 1, 0);
	assert_int_equal(np_discovery_depth(hops, 4), 2);
	hops[0] = ep(198, 51, 100, 1, 0); /* first hop public: still behind NAT */
	assert_int_equal(np_discovery_depth(hops, 4), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_cone),
		cmocka_unit_test(test_no_alt_never_guesses),
		cmocka_unit_test(test_cone_altered),
		cmocka_unit_test(test_adm),
		cmocka_unit_test(test_symmetric_seq),
		cmocka_unit_test(test_symmetric_random),
		cmocka_unit_test(test_symmetric_preserve),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_step_helper),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_depth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
