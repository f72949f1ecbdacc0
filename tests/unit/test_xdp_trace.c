// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl trace as a user runs it: a YAML file and a pcap in, one JSON line
 * per packet out, and --write saving the frames the program emits. Two LB
 * node files that differ only in their node-local settings must give the
 * very same decisions. $BUILD/qlbctl through a shell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "t.h"
#include "xdp_fixture.h"
#include "pcap.h"

static char qlbctl[512], dir[64];

static const char *yaml_tmpl = "quic_lb:\n"
			       "  configs:\n"
			       "    - id: 0\n"
			       "      server_id_len: 3\n"
			       "      nonce_len: 4\n"
			       "      worker_bits: 4\n"
			       "    - id: 1\n"
			       "      server_id_len: 10\n"
			       "      nonce_len: 5\n"
			       "      worker_bits: 4\n"
			       "      key: 8f95f09245765f80256934e50c66207f\n"
			       "      state: routable\n"
			       "lb:\n"
			       "  interface: %s\n"
			       "  xdp_mode: generic\n"
			       "  gateway_mac: \"02:00:00:00:00:01\"\n"
			       "  encap_source_v4: 198.18.0.10\n"
			       "  encap_source_v6: \"2001:db8::10\"\n"
			       "  pin_dir: %s\n"
			       "  vips:\n"
			       "    - address: 198.18.1.1\n"
			       "      port: 443\n"
			       "hosts:\n"
			       "  - name: web1\n"
			       "    address: 198.18.0.21\n"
			       "    server_ids: {0: \"c46050\"}\n"
			       "  - name: web2\n"
			       "    address: 198.18.0.22\n"
			       "    encap: ipip\n"
			       "    server_ids: {1: \"ed793a51d49b8f5fab60\"}\n"
			       "  - name: web3\n"
			       "    address: \"2001:db8::23\"\n"
			       "    server_ids: {0: \"0b0000\"}\n"
			       "    state: draining\n"
			       "  - name: web4\n"
			       "    address: 198.18.0.24\n"
			       "    server_ids: {0: \"0c0000\"}\n"
			       "    state: down\n";

static int run(const char *args, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>%s/err", qlbctl, args, dir);
	return t_popen(cmd, out, len);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* The n-th line (0-based) of @s into @line. */
static const char *nth_line(const char *s, int n, char *line, size_t len)
{
	const char *e;

	while (n-- > 0 && (s = strchr(s, '\n')))
		s++;
	if (!s || !*s)
		return NULL;
	e = strchr(s, '\n');
	snprintf(line, len, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
	return line;
}

int main(void)
{
	const char *build = getenv("BUILD");
	struct qlb_pcap_writer w;
	struct qlb_pcap_reader r;
	struct qlb_pcap_rec rec = {1700000000, 0, 0, 0}, got;
	char path[256], y1[256], y2[256], pc[256], outp[256], args[1400];
	char text[4096], *o1 = malloc(65536), *o2 = malloc(65536), line[512];
	uint8_t cid[32], q[1400], buf[2048];
	struct pkt k[8], want;
	size_t n, cl;
	int rc, i;

	snprintf(qlbctl, sizeof(qlbctl), "%s/qlbctl", build ? build : "build");
	snprintf(dir, sizeof(dir), "/tmp/qlb-test-trace-XXXXXX");
	if (!mkdtemp(dir) || !o1 || !o2)
		return 1;
	snprintf(y1, sizeof(y1), "%s/lb1.yaml", dir);
	snprintf(y2, sizeof(y2), "%s/lb2.yaml", dir);
	snprintf(text, sizeof(text), yaml_tmpl, "qlbt-no-such0",
		 "/sys/fs/bpf/qlb-none/lb1");
	write_file(y1, text);
	snprintf(text, sizeof(text), yaml_tmpl, "qlbt-no-such1",
		 "/sys/fs/bpf/qlb-none/lb2");
	write_file(y2, text);

	/* the capture: routed, four-pass, Initial, version 0, not ours, runt */
	cl = fx_unhex("07c4605e4504cc4f", cid);
	n = fx_short(q, cid, cl, 40);
	fx_frame(&k[0], -1, "198.18.5.7", "198.18.1.1", IPPROTO_UDP, 50000, 443,
		 q, n, 0, 0);
	cl = fx_unhex("2fcc381bc74cb4fbad2823a3d1f8fed2", cid);
	n = fx_short(q, cid, cl, 40);
	fx_frame(&k[1], -1, "198.18.5.8", "198.18.1.1", IPPROTO_UDP, 50001, 443,
		 q, n, 0, 0);
	cl = fx_unhex("1c2d3e4f50617283", cid);
	n = fx_long(q, 0, 1, cid, cl, 1200);
	fx_frame(&k[2], -1, "198.18.5.9", "198.18.1.1", IPPROTO_UDP, 50002, 443,
		 q, n, 0, 0);
	n = fx_long(q, 0, 0, cid, cl, 1200);
	fx_frame(&k[3], -1, "198.18.5.9", "198.18.1.1", IPPROTO_UDP, 50003, 443,
		 q, n, 0, 0);
	fx_frame(&k[4], -1, "198.18.5.9", "198.18.1.2", IPPROTO_UDP, 50004, 443,
		 q, 20, 0, 0);
	cl = fx_unhex("070c000155667788", cid); /* web4 is down */
	n = fx_short(q, cid, cl, 40);
	fx_frame(&k[5], -1, "198.18.5.10", "198.18.1.1", IPPROTO_UDP, 50005,
		 443, q, n, 0, 0);
	cl = fx_unhex("070b000311223344", cid); /* web3 drains: still routed */
	n = fx_short(q, cid, cl, 40);
	fx_frame(&k[6], -1, "198.18.5.10", "198.18.1.1", IPPROTO_UDP, 50006,
		 443, q, n, 0, 0);
	memset(&k[7], 0, sizeof(k[7]));
	k[7].len = 9; /* runt */
	snprintf(pc, sizeof(pc), "%s/in.pcap", dir);
	CHECK(qlb_pcap_create(&w, pc, 1) == 0, "create pcap");
	for (i = 0; i < 8; i++)
		qlb_pcap_write(&w, &rec, k[i].b, k[i].len);
	qlb_pcap_finish(&w);

	snprintf(outp, sizeof(outp), "%s/out.pcap", dir);
	snprintf(args, sizeof(args), "-j trace -f %s --write %s %s", y1, outp,
		 pc);
	rc = run(args, o1, 65536);
	CHECK(rc == 0, "trace exit %d: %s", rc, o1);
	printf("%s", o1);
	{
		static const char *const want_lines[][4] = {
			{"\"action\":\"tx\"", "\"host\":\"web1\"",
			 "\"reason\":\"routed_cid\"",
			 "\"config_id\":0,\"server_id\":\"c4605e\""},
			{"\"action\":\"tx\"", "\"host\":\"web2\"",
			 "\"reason\":\"routed_cid\"",
			 "\"config_id\":1,\"server_id\":"
			 "\"ed793a51d49b8f5fab65\""},
			{"\"action\":\"tx\"", "\"host\":\"web",
			 "\"reason\":\"fallback_initial\"",
			 "\"vip\":\"198.18.1.1:443\""},
			{"\"action\":\"drop\"", "\"host\":null",
			 "\"reason\":\"version_negotiation\"",
			 "\"server_id\":null"},
			{"\"action\":\"pass\"", "\"host\":null",
			 "\"reason\":\"passed\"", "\"vip\":null"},
			{"\"action\":\"tx\"", "\"host\":\"web",
			 "\"reason\":\"fallback_host_down\"",
			 "\"server_id\":\"0c0001\""},
			{"\"action\":\"tx\"", "\"host\":\"web3\"",
			 "\"reason\":\"routed_cid\"",
			 "\"server_id\":\"0b0003\""},
			{"\"action\":\"pass\"", "\"host\":null",
			 "\"reason\":\"runt\"", "\"packet\":8"},
		};

		for (i = 0; i < 8; i++) {
			int j;

			if (!nth_line(o1, i, line, sizeof(line))) {
				CHECK(0, "line %d missing", i + 1);
				continue;
			}
			for (j = 0; j < 4; j++)
				CHECK(strstr(line, want_lines[i][j]),
				      "packet %d: '%s' not in %s", i + 1,
				      want_lines[i][j], line);
		}
		CHECK(!strstr(o1, "web4"), "a down host gets nothing");
	}

	/* --write: the frames that leave (tx and pass), byte for byte */
	CHECK(qlb_pcap_open(&r, outp) == 0, "open output: %s", r.err);
	for (i = 0; qlb_pcap_next(&r, buf, sizeof(buf), &got) == 1; i++) {
		if (i != 0)
			continue;
		fx_expect(&want, &k[0], "198.18.0.21", 0,
			  fx_cid_hash(
				  (const uint8_t
					   *)"\x07\xc4\x60\x5e\x45\x04\xcc\x4f",
				  8));
		memset(want.b + 6, 0, 6); /* no such interface here: MAC 0 */
		CHECK(got.caplen == want.len && !memcmp(buf, want.b, want.len),
		      "first output frame is the GUE frame toward web1");
	}
	qlb_pcap_close(&r);
	CHECK(i == 7, "%d frames written, want 7 (6 tx/pass + runt)", i);

	/* a second LB node with the same fleet file: the same decisions */
	snprintf(args, sizeof(args), "-j trace -f %s %s", y2, pc);
	rc = run(args, o2, 65536);
	CHECK(rc == 0 && !strcmp(o1, o2), "two LB nodes decide alike");

	/* text output names the same */
	snprintf(args, sizeof(args), "trace -f %s %s", y1, pc);
	rc = run(args, o2, 65536);
	CHECK(rc == 0 && strstr(o2, "1 tx host=web1 reason=routed_cid "
				    "config_id=0 server_id=c4605e"),
	      "text line: %s", o2);

	/* errors: bad file, missing pcap, not a pcap, usage */
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	write_file(path, "lb:\n  vips: 3\n");
	snprintf(args, sizeof(args), "trace -f %s %s", path, pc);
	CHECK(run(args, o2, 65536) == 1, "bad config: exit 1");
	snprintf(args, sizeof(args), "trace -f %s %s/none.pcap", y1, dir);
	CHECK(run(args, o2, 65536) == 1, "missing pcap: exit 1");
	snprintf(args, sizeof(args), "trace -f %s %s", y1, y1);
	CHECK(run(args, o2, 65536) == 1, "a YAML file is not a pcap: exit 1");
	CHECK(run("trace", o2, 65536) == 2, "usage: exit 2");

	if (getenv("QLB_KEEP"))
		return t_done("test_xdp_trace");
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	if (system(args))
		fprintf(stderr, "cannot remove %s\n", dir);
	free(o1);
	free(o2);
	return t_done("test_xdp_trace");
}
