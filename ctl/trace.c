// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl trace: run every packet of a pcap through a private copy of the
 * LB node's XDP program (BPF_PROG_TEST_RUN), filled from a config file by
 * the very code `lb apply` uses, and say what it did with each: the
 * operator's "why did this packet go there". Nothing live is touched: no
 * interface, no pins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "config.h"
#include "lb.h"
#include "health.h"
#include "pcap.h"
#include "qlb_xdp.skel.h"

#define FRAME_MAX QLB_PCAP_MAX_SNAPLEN
#define HEADROOM  128 /* room for the outer headers in the output */

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	return qlb_verbose ? vfprintf(stderr, f, ap) : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl [-j] trace -f qlb.yaml [--write OUT.pcap] "
		"[--health] IN.pcap\n\n"
		"Runs every packet of IN.pcap (classic pcap, Ethernet) through "
		"a\n"
		"private copy of the XDP program configured from qlb.yaml and "
		"prints\n"
		"one line per packet: action (tx, pass, drop), host, reason, "
		"config\n"
		"and server ID where decoded, the service of the VIP. -j "
		"prints one\nJSON object per line.\n"
		"--write saves the frames the program sends (tx) or passes.\n"
		"--health takes the hosts' health as `qlbctl lb run` under "
		"lb.pin_dir\nsees it (unhealthy hosts down, as in its "
		"tables).\n");
}

/* Name of the host of member @m (qlb/abi/lb_abi.h: members are numbered
 * service by service, from each service's member_first). */
static const char *host_name(const struct qlb_config *cfg, __u32 m)
{
	unsigned int s;

	for (s = 0; s < cfg->nservices; s++) {
		const struct qlb_conf_service *svc = &cfg->services[s];

		if (m >= svc->member_first &&
		    m - svc->member_first < svc->nhosts &&
		    svc->hosts[m - svc->member_first].host < cfg->nhosts)
			return cfg
				->hosts[svc->hosts[m - svc->member_first].host]
				.name;
	}
	return NULL;
}

/* Name of service index @s, or NULL (QLB_LB_NO_SERVICE: no VIP). */
static const char *service_name(const struct qlb_config *cfg, __u32 s)
{
	return s < cfg->nservices ? cfg->services[s].name : NULL;
}

/* Names of the private copy's VIP indexes (one fill: file order). */

static void vip_name(const struct qlb_config *cfg, __u32 idx, char *buf,
		     size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const struct qlb_conf_vip *v;

	if (idx >= cfg->lb.nvips) {
		buf[0] = 0;
		return;
	}
	v = &cfg->lb.vips[idx];
	qlb_addr_str(&v->addr, a, sizeof(a));
	snprintf(buf, len, v->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 v->port);
}

int cmd_trace(int argc, char **argv)
{
	static const struct option lo[] = {
		{"file", required_argument, NULL, 'f'},
		{"write", required_argument, NULL, 'w'},
		{"health", no_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	const char *file = NULL, *out_path = NULL, *in_path;
	struct qlb_pcap_reader r = {0};
	struct qlb_pcap_writer w = {0};
	struct qlb_xdp *skel = NULL;
	struct qlb_lb_maps m;
	struct qlb_config cfg;
	uint8_t mac[6] = {0}, *in = NULL, *out = NULL;
	char err[512];
	int c, rc = QLB_EXIT_ERR, loaded = 0, n, prog_fd, trace_fd, health = 0;
	unsigned long counts[3] = {0};

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:w:h", lo, NULL)) != -1) {
		switch (c) {
		case 'H':
			health = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'w':
			out_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return QLB_EXIT_OK;
		default:
			usage(stderr);
			return QLB_EXIT_USAGE;
		}
	}
	if (!file || optind != argc - 1) {
		usage(stderr);
		return QLB_EXIT_USAGE;
	}
	in_path = argv[optind];
	n = qlb_config_load(file, &cfg, stderr);
	if (n) {
		qlb_err("%s: %d problem%s", file, n, n == 1 ? "" : "s");
		return QLB_EXIT_ERR;
	}
	loaded = 1;
	if (qlb_lb_check(&cfg, err, sizeof(err))) {
		qlb_err("%s", err);
		goto out;
	}
	/* the hosts as the running node sees them (lb run's health view) */
	if (health &&
	    qlb_health_view_apply(&cfg, cfg.lb.pin_dir, err, sizeof(err))) {
		qlb_err("%s", err);
		goto out;
	}
	/* the interface's own MAC when it exists here; zeros otherwise */
	if (cfg.lb.interface[0] && if_nametoindex(cfg.lb.interface))
		qlb_lb_if_mac(cfg.lb.interface, mac);
	if (qlb_pcap_open(&r, in_path)) {
		qlb_err("%s: %s", in_path, r.err);
		goto out;
	}
	if (r.linktype != QLB_PCAP_LINKTYPE_ETHERNET) {
		qlb_err("%s: link type %u; only Ethernet (1) captures can be "
			"traced",
			in_path, r.linktype);
		goto out;
	}

	libbpf_set_print(quiet);
	skel = qlb_xdp__open();
	if (!skel) {
		qlb_err("cannot open the XDP object: %s", strerror(errno));
		goto out;
	}
	skel->rodata->qlb_trace_on = 1;
	/* a private copy: small tables are enough, nothing is pinned */
	if ((n = qlb_xdp__load(skel))) {
		qlb_err("cannot load the XDP program: %s%s", strerror(-n),
			n == -EPERM ? " (are you root?)" : "");
		goto out;
	}
	qlb_lb_maps_from_skel(&m, skel);
	if (qlb_lb_fill(&m, &cfg, mac, 0, cfg.lb.xdp_mode, err, sizeof(err))) {
		qlb_err("%s", err);
		goto out;
	}
	prog_fd = bpf_program__fd(skel->progs.qlb_xdp_ingress);
	trace_fd = bpf_map__fd(skel->maps.qlb_trace_rec);
	if (out_path &&
	    (n = qlb_pcap_create(&w, out_path, QLB_PCAP_LINKTYPE_ETHERNET))) {
		qlb_err("cannot create %s: %s", out_path, strerror(-n));
		goto out;
	}
	in = malloc(FRAME_MAX);
	out = malloc(FRAME_MAX + HEADROOM);
	if (!in || !out) {
		qlb_err("out of memory");
		goto out;
	}

	for (;;) {
		struct qlb_pcap_rec rec;
		struct qlb_lb_trace t = {0};
		__u32 zero = 0;
		const char *action, *reason, *host = NULL, *svc = NULL;
		char sid[40] = "", vip[INET6_ADDRSTRLEN + 8] = "";
		int got = qlb_pcap_next(&r, in, FRAME_MAX, &rec), ran = 0;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
			    .data_size_in = rec.caplen, .data_out = out,
			    .data_size_out = FRAME_MAX + HEADROOM, .repeat = 1);

		if (got < 0) {
			qlb_err("%s: %s", in_path, r.err);
			goto out;
		}
		if (!got)
			break;
		o.data_size_in = rec.caplen;
		if (rec.caplen >= 14 && bpf_prog_test_run_opts(prog_fd, &o)) {
			if (errno != EINVAL) {
				qlb_err("packet %lu: test run failed: %s",
					r.count, strerror(errno));
				goto out;
			}
			/* larger than one page: the kernel runs it only for
			 * multi-buffer programs, as a NIC would deliver it */
			action = "pass";
			reason = "not_run_too_large";
			t.action = QLB_ACT_PASS;
		} else if (rec.caplen >= 14) {
			if (bpf_map_lookup_elem(trace_fd, &zero, &t)) {
				qlb_err("cannot read the trace record: %s",
					strerror(errno));
				goto out;
			}
			ran = 1;
			action = qlb_lb_action_name(t.action);
			reason = qlb_lb_reason_name(t.reason);
			if (t.action == QLB_ACT_TX)
				host = host_name(&cfg, t.host);
			if (t.sid_len && t.sid_len <= 16)
				qlb_hex(t.sid, t.sid_len, sid);
			vip_name(&cfg, t.vip, vip, sizeof(vip));
			svc = service_name(&cfg, t.service);
		} else {
			/* no NIC delivers it; the kernel will not run it
			 * either */
			action = "pass";
			reason = "runt";
			t.action = QLB_ACT_PASS;
		}
		counts[t.action < 3 ? t.action : 0]++;
		if (qlb_json) {
			struct qlb_json_w jw;

			jw_init(&jw, stdout);
			jw_obj_open(&jw, NULL);
			jw_uint(&jw, "packet", r.count);
			jw_str(&jw, "action", action);
			jw_str(&jw, "host", host);
			jw_str(&jw, "reason", reason);
			if (ran && t.sid_len)
				jw_uint(&jw, "config_id", t.config_id);
			else
				jw_null(&jw, "config_id");
			jw_str(&jw, "server_id", sid[0] ? sid : NULL);
			jw_str(&jw, "vip", vip[0] ? vip : NULL);
			jw_str(&jw, "service", svc);
			jw_uint(&jw, "len", rec.caplen);
			jw_uint(&jw, "out_len",
				ran && t.action != QLB_ACT_DROP
					? o.data_size_out
					: 0);
			jw_obj_close(&jw);
			jw_end(&jw);
		} else {
			printf("%lu %s host=%s reason=%s", r.count, action,
			       host ? host : "-", reason);
			if (ran && t.sid_len)
				printf(" config_id=%u server_id=%s",
				       t.config_id, sid);
			printf(" service=%s", svc ? svc : "-");
			if (vip[0])
				printf(" vip=%s", vip);
			printf(" len=%u", rec.caplen);
			if (ran && t.action == QLB_ACT_TX)
				printf("->%u", o.data_size_out);
			putchar('\n');
		}
		if (w.f && t.action != QLB_ACT_DROP) {
			struct qlb_pcap_rec wr = rec;

			if (r.nsec)
				wr.ts_frac /= 1000;
			if (qlb_pcap_write(&w, &wr, ran ? out : in,
					   ran ? o.data_size_out
					       : rec.caplen)) {
				qlb_err("cannot write %s: %s", out_path,
					strerror(errno));
				goto out;
			}
		}
	}
	if (w.f && (n = qlb_pcap_finish(&w))) {
		qlb_err("cannot write %s: %s", out_path, strerror(-n));
		goto out;
	}
	if (!qlb_json)
		fprintf(stderr, "%lu packets: %lu tx, %lu pass, %lu drop\n",
			r.count, counts[QLB_ACT_TX], counts[QLB_ACT_PASS],
			counts[QLB_ACT_DROP]);
	rc = QLB_EXIT_OK;
out:
	qlb_pcap_finish(&w);
	qlb_pcap_close(&r);
	free(in);
	free(out);
	qlb_xdp__destroy(skel);
	if (loaded)
		qlb_config_free(&cfg);
	return rc;
}
