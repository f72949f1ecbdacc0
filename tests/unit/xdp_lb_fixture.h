/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The state and checks shared by the LB node's fixture tests
 * (test_xdp_lb, test_xdp_pmtu): six hosts over the draft's test vector
 * configs, loaded twice (trace build F, live build L), the Maglev tables
 * the fallback must follow, and expect_*() that run a frame on both builds
 * and compare verdict, reason, host and the exact output frame.
 */
#ifndef QLB_TESTS_XDP_LB_FIXTURE_H
#define QLB_TESTS_XDP_LB_FIXTURE_H

#include <linux/if_ether.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>

#include "t.h"
#include "xdp_fixture.h"

static struct fx F, L; /* trace build, live build */
static uint32_t table[65537];
static const char *const host_addr[] = {"198.18.0.21",	"198.18.0.22",
					"2001:db8::23", "2001:db8::24",
					"198.18.0.25",	"2001:db8::26"};
static const int host_encap[] = {0, 1, 0, 1, 0, 1};

enum { WEB1, WEB2, WEB3, WEB4, WEB5, WEB6 };

static void setup(struct fx *f)
{
	struct qlb_conf_host *h;

	fx_base(f);
	fx_vector_configs(&f->cfg);
	h = fx_host(f, "web1", host_addr[0], QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 0, "c46050");
	h = fx_host(f, "web2", host_addr[1], QLB_ENCAP_IPIP, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 2, "ed793a51d49b8f50");
	h = fx_host(f, "web3", host_addr[2], QLB_ENCAP_GUE, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 1, "ed793a51d49b8f5fab60");
	h = fx_host(f, "web4", host_addr[3], QLB_ENCAP_IPIP, QLB_HOST_DRAINING,
		    100);
	fx_sid(h, 0, "0b0000");
	h = fx_host(f, "web5", host_addr[4], QLB_ENCAP_GUE, QLB_HOST_DOWN, 100);
	fx_sid(h, 0, "0c0000");
	h = fx_host(f, "web6", host_addr[5], QLB_ENCAP_IPIP, QLB_HOST_ACTIVE,
		    100);
	fx_sid(h, 0, "0d0000");
}

/*
 * The Maglev tables the fallback must follow, written out here from the
 * contract (include/qlb/abi/lb_abi.h, qlb_maglev_est) rather than taken from
 * the program: @est over the active and draining hosts; @syn equal to it
 * but where it names a draining host, whose entries go as in a table over
 * the active hosts alone. Without a draining host both are that table.
 */
static void build_tables(const struct fx *f, uint32_t *syn, uint32_t *est)
{
	static uint32_t act[65537];
	struct qlb_maglev_backend a[8], e[8];
	size_t na = 0, ne = 0, i;
	bool drain[8] = {0};

	for (i = 0; i < f->cfg.nhosts; i++) {
		const struct qlb_conf_host *h = &f->hosts[i];

		if (h->state == QLB_HOST_DOWN || !h->weight)
			continue;
		e[ne++] = (struct qlb_maglev_backend){h->name, h->weight,
						      (uint32_t)i};
		if (h->state == QLB_HOST_DRAINING)
			drain[i] = true;
		else
			a[na++] = (struct qlb_maglev_backend){
				h->name, h->weight, (uint32_t)i};
	}
	qlb_maglev_build(a, na, 65537, act);
	qlb_maglev_build(e, ne, 65537, est);
	for (i = 0; i < 65537; i++)
		syn[i] = est[i] < 8 && drain[est[i]] ? act[i] : est[i];
}

static uint32_t table_est[65537];

static void build_table(const struct fx *f)
{
	build_tables(f, table, table_est);
}

/* The host of a new flow (SYN, Initial) and of an established one (other
 * TCP segments, short headers) taking the fallback. */
static int fallback_host(const struct pkt *in)
{
	return (int)table[qlb_lb_maglev_index(fx_flow_hash(in), 65537)];
}

static int fallback_est(const struct pkt *in)
{
	return (int)table_est[qlb_lb_maglev_index(fx_flow_hash(in), 65537)];
}

static int run_both(const char *name, const struct pkt *in, struct pkt *out,
		    struct qlb_lb_trace *t)
{
	struct pkt o2;
	size_t l1 = sizeof(out->b), l2 = sizeof(o2.b);
	int r1 = fx_run(&F, in->b, in->len, out->b, &l1);
	int r2 = fx_run(&L, in->b, in->len, o2.b, &l2);

	out->len = l1;
	CHECK(r1 == r2 && l1 == l2 && !memcmp(out->b, o2.b, l1),
	      "%s: trace and live builds differ (%d/%d)", name, r1, r2);
	memset(t, 0, sizeof(*t));
	CHECK(fx_trace(&F, t) == 0, "%s: trace record", name);
	return r1;
}

static void hexdump_diff(const struct pkt *a, const struct pkt *b)
{
	size_t i, n = a->len > b->len ? a->len : b->len;

	for (i = 0; i < n && i < 128; i++)
		fprintf(stderr, "%s%02x%s", i % 16 ? "" : "\n  ",
			i < a->len ? a->b[i] : 0,
			(i < a->len && i < b->len && a->b[i] == b->b[i]) ? " "
									 : "*");
	fputc('\n', stderr);
}

static void expect_tx(const char *name, const struct pkt *in, int host,
		      uint32_t ent, unsigned int reason)
{
	struct pkt out, want;
	struct qlb_lb_trace t;
	int r = run_both(name, in, &out, &t);

	fx_expect(&want, in, host_addr[host], host_encap[host], ent);
	CHECK(r == XDP_TX, "%s: verdict %d, want XDP_TX (reason %s)", name, r,
	      qlb_lb_reason_name(t.reason));
	CHECK(t.reason == reason, "%s: reason %s, want %s", name,
	      qlb_lb_reason_name(t.reason), qlb_lb_reason_name(reason));
	CHECK(t.host == (uint32_t)host, "%s: host %u, want %d", name, t.host,
	      host);
	CHECK(out.len == want.len && !memcmp(out.b, want.b, want.len),
	      "%s: output frame differs (%zu bytes, want %zu)", name, out.len,
	      want.len);
	if (r == XDP_TX &&
	    (out.len != want.len || memcmp(out.b, want.b, want.len))) {
		fprintf(stderr, "  got:");
		hexdump_diff(&out, &want);
		fprintf(stderr, "  want:");
		hexdump_diff(&want, &out);
	}
}

static void expect_verdict(const char *name, const struct pkt *in, int verdict,
			   unsigned int reason)
{
	struct pkt out;
	struct qlb_lb_trace t;
	int r = run_both(name, in, &out, &t);

	CHECK(r == verdict, "%s: verdict %d, want %d (reason %s)", name, r,
	      verdict, qlb_lb_reason_name(t.reason));
	CHECK(t.reason == reason, "%s: reason %s, want %s", name,
	      qlb_lb_reason_name(t.reason), qlb_lb_reason_name(reason));
	if (verdict == XDP_PASS)
		CHECK(out.len == in->len && !memcmp(out.b, in->b, in->len),
		      "%s: a passed frame must be untouched", name);
}

/* Load and fill F and L with the hosts of setup(), build the tables. */
static int lb_fixture_init(void)
{
	libbpf_set_print(NULL);
	setup(&F);
	setup(&L);
	if (fx_load(&F, 1) || fx_load(&L, 0) || fx_fill(&F) || fx_fill(&L)) {
		fprintf(stderr,
			"cannot load or fill the XDP program (root?)\n");
		return -1;
	}
	build_table(&F);
	return 0;
}

static void lb_fixture_fini(void)
{
	qlb_xdp__destroy(F.skel);
	qlb_xdp__destroy(L.skel);
}

#endif /* QLB_TESTS_XDP_LB_FIXTURE_H */
