// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl cid encode|decode as a user (or a test outside the project) runs
 * it: $BUILD/qlbctl (BUILD defaults to "build") through a shell, checking
 * printed output and exit codes 0 (success), 1 (bad value, one-line
 * reason) and 2 (usage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "codec_ref.h"

#define CHECKQ(cond) CHECK(cond, "%s", "")

static char qlbctl[512], errpath[64];

/* Run "qlbctl ARGS": stdout into @out (trailing newline kept), stderr into
 * @err. Return: the exit code, or -1. */
static int run(const char *args, char *out, size_t outsz, char *err,
	       size_t errsz)
{
	char cmd[2048];
	FILE *e;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>%s", qlbctl, args, errpath);
	st = t_popen(cmd, out, outsz);
	e = fopen(errpath, "r");
	n = e ? fread(err, 1, errsz - 1, e) : 0;
	err[n] = 0;
	if (e)
		fclose(e);
	return st;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* exit 1 with exactly one "qlbctl: ..." line on stderr and nothing on stdout */
static void expect_err(const char *args)
{
	char out[1024], err[1024];
	int rc = run(args, out, sizeof(out), err, sizeof(err));

	CHECK(rc == 1 && !out[0] && lines(err) == 1 &&
		      !strncmp(err, "qlbctl: ", 8),
	      "'%s': exit %d, stdout '%s', stderr '%s'", args, rc, out, err);
}

static void expect_usage(const char *args)
{
	char out[1024], err[1024];
	int rc = run(args, out, sizeof(out), err, sizeof(err));

	CHECK(rc == 2 && !out[0] && err[0], "'%s': exit %d, stdout '%s'", args,
	      rc, out);
}

static void test_vectors(void)
{
	size_t v;

	for (v = 0; v < NVECS; v++) {
		const struct vec *t = &vecs[v];
		char args[512], out[1024], err[1024], want[256];
		int rc;

		snprintf(args, sizeof(args),
			 "cid encode --config-id %u --server-id %s --nonce-len "
			 "%u --nonce %s%s%s",
			 t->cr, t->sid, t->nonce_len, t->nonce,
			 t->key ? " --key " : "", t->key ? t->key : "");
		rc = run(args, out, sizeof(out), err, sizeof(err));
		snprintf(want, sizeof(want), "%s\n", t->cid);
		CHECK(rc == 0 && !strcmp(out, want),
		      "vector %zu: '%s' printed '%s' (exit %d), want %s", v,
		      args, out, rc, t->cid);

		snprintf(args, sizeof(args),
			 "cid decode --server-id-len %u --nonce-len %u%s%s %s",
			 t->sid_len, t->nonce_len, t->key ? " --key " : "",
			 t->key ? t->key : "", t->cid);
		rc = run(args, out, sizeof(out), err, sizeof(err));
		snprintf(want, sizeof(want),
			 "config_id=%u server_id=%s nonce=%s\n", t->cr, t->sid,
			 t->nonce);
		CHECK(rc == 0 && !strcmp(out, want),
		      "vector %zu: '%s' printed '%s' (exit %d)", v, args, out,
		      rc);

		snprintf(args, sizeof(args),
			 "-j cid decode --server-id-len %u --nonce-len %u%s%s "
			 "%s",
			 t->sid_len, t->nonce_len, t->key ? " --key " : "",
			 t->key ? t->key : "", t->cid);
		rc = run(args, out, sizeof(out), err, sizeof(err));
		snprintf(want, sizeof(want),
			 "{\"config_id\":%u,\"server_id\":\"%s\",\"nonce\":\"%"
			 "s\"}\n",
			 t->cr, t->sid, t->nonce);
		CHECK(rc == 0 && !strcmp(out, want),
		      "vector %zu: '%s' printed '%s'", v, args, out);
	}
}

static void test_encode_options(void)
{
	char out[1024], out2[1024], err[1024], args[512];
	int rc;

	/* no --nonce: random nonce, so two CIDs differ yet both decode */
	rc = run("cid encode --config-id 3 --server-id 0a1f --nonce-len 6 "
		 "--key 8f95f09245765f80256934e50c66207f",
		 out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && strlen(out) == 19 && out[0] == '6' && out[1] == '8',
	      "random-nonce CID '%s' (exit %d)", out, rc);
	run("cid encode --config-id 3 --server-id 0a1f --nonce-len 6 --key "
	    "8f95f09245765f80256934e50c66207f",
	    out2, sizeof(out2), err, sizeof(err));
	CHECK(strcmp(out, out2) != 0, "two random-nonce CIDs are equal: %s",
	      out);
	out[18] = 0;
	snprintf(args, sizeof(args),
		 "cid decode --server-id-len 2 --nonce-len 6 --key "
		 "8f95f09245765f80256934e50c66207f %s",
		 out);
	rc = run(args, out2, sizeof(out2), err, sizeof(err));
	CHECK(rc == 0 &&
		      !strncmp(out2, "config_id=3 server_id=0a1f nonce=", 33) &&
		      strlen(out2) == 33 + 12 + 1,
	      "decode of a random-nonce CID: '%s'", out2);

	/* no length self-encoding: the low 5 bits are ours */
	rc = run("cid encode --config-id 2 --server-id 0a10 --nonce-len 6 "
		 "--nonce 010203040506 --no-encode-length --low-bits 5",
		 out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && !strcmp(out, "450a10010203040506\n"), "low bits: '%s'",
	      out);
	rc = run("-j cid encode --config-id 2 --server-id 0a10 --nonce-len 6 "
		 "--nonce 010203040506",
		 out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && !strcmp(out, "{\"cid\":\"480a10010203040506\"}\n"),
	      "-j encode: '%s'", out);

	rc = run("cid encode --help", out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && strstr(out, "Usage: qlbctl cid encode"),
	      "encode --help");
	rc = run("cid decode --help", out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && strstr(out, "Usage: qlbctl cid decode"),
	      "decode --help");
	rc = run("cid --help", out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && strstr(out, "encode"), "cid --help");
}

static void test_errors(void)
{
	char out[1024], err[1024];
	int rc;

	/* exit 1: a value that cannot be used */
	expect_err(
		"cid decode --server-id-len 3 --nonce-len 4 e7c4605e4504cc4f");
	expect_err("cid decode --server-id-len 3 --nonce-len 4 07c4605e4504cc");
	expect_err(
		"cid decode --server-id-len 3 --nonce-len 4 07c4605e4504cc4");
	expect_err(
		"cid decode --server-id-len 3 --nonce-len 4 07c4605e4504ccxx");
	expect_err("cid decode --server-id-len 3 --nonce-len 4 --key 0011 "
		   "07c4605e4504cc4f");
	expect_err(
		"cid decode --server-id-len 16 --nonce-len 4 07c4605e4504cc4f");
	expect_err("cid encode --config-id 7 --server-id 0a --nonce-len 4");
	expect_err("cid encode --config-id 1 --server-id 0g --nonce-len 4");
	expect_err("cid encode --config-id 1 --server-id 0a --nonce-len 3");
	expect_err("cid encode --config-id 1 --server-id 0a --nonce-len 4 "
		   "--nonce 0102");
	expect_err("cid encode --config-id 1 --server-id 0a --nonce-len 4 "
		   "--key 00");
	/* with -j the reason is JSON on stdout */
	rc = run("-j cid decode --server-id-len 3 --nonce-len 4 "
		 "e7c4605e4504cc4f",
		 out, sizeof(out), err, sizeof(err));
	CHECK(rc == 1 && !strncmp(out, "{\"error\":", 9) && lines(out) == 1,
	      "-j error: exit %d '%s'", rc, out);

	/* exit 2: the command line itself is wrong */
	expect_usage("cid");
	expect_usage("cid frobnicate");
	expect_usage("cid decode --server-id-len 3 07c4605e4504cc4f");
	expect_usage("cid decode --server-id-len 3 --nonce-len 4");
	expect_usage("cid decode --server-id-len 3 --nonce-len 4 --bogus "
		     "07c4605e4504cc4f");
	expect_usage(
		"cid decode --server-id-len x --nonce-len 4 07c4605e4504cc4f");
	expect_usage("cid decode --server-id-len 3 --nonce-len 4 "
		     "07c4605e4504cc4f extra");
	expect_usage("cid encode --server-id 0a --nonce-len 4");
	expect_usage("cid encode --config-id 1 --nonce-len 4");
	expect_usage("cid encode --config-id 1 --server-id 0a");
	expect_usage("cid encode --config-id 1 --server-id 0a --nonce-len 4 "
		     "--low-bits 3");
	expect_usage("cid encode --config-id 1 --server-id 0a --nonce-len");

	/* usage errors are JSON under -j too, at every level: one object on
	 * stdout, nothing on stderr */
	{
		static const char *const j[] = {"-j cid bogus",
						"-j cid",
						"-j rotate bogus",
						"-j bogus",
						"-j cid encode --config-id x",
						"-j rotate new --bogus",
						"-j validate --bogus"};
		char out[1024], err[1024];
		size_t k;

		for (k = 0; k < sizeof(j) / sizeof(j[0]); k++) {
			rc = run(j[k], out, sizeof(out), err, sizeof(err));
			CHECK(rc == 2 && !strncmp(out, "{\"error\":", 9) &&
				      lines(out) == 1 && !err[0],
			      "'%s': exit %d, stdout '%s', stderr '%s'", j[k],
			      rc, out, err);
		}
	}
}

static void test_file(void)
{
	static const char yaml[] =
		"quic_lb:\n"
		"  configs:\n"
		"    - id: 1\n"
		"      server_id_len: 2\n"
		"      nonce_len: 6\n"
		"      worker_bits: 4\n"
		"      key: 8f95f09245765f80256934e50c66207f\n"
		"      encode_length: true\n"
		"      state: active\n"
		"    - id: 2\n"
		"      server_id_len: 3\n"
		"      nonce_len: 4\n"
		"      state: routable\n"
		"lb:\n"
		"  interface: eth0\n"
		"  gateway_mac: \"02:00:00:00:00:01\"\n"
		"  encap_source_v4: 198.18.0.10\n"
		"  vips:\n"
		"    - address: 198.18.1.1\n"
		"      port: 443\n"
		"hosts:\n"
		"  - name: web1\n"
		"    address: 198.18.0.21\n"
		"    server_ids: {1: \"0a10\", 2: \"0a1000\"}\n";
	char path[] = "/tmp/qlb-test-cli-cid-XXXXXX", args[512], out[1024],
	     err[2048];
	int fd = mkstemp(path), rc;

	CHECK(fd >= 0 && write(fd, yaml, sizeof(yaml) - 1) ==
				 (ssize_t)sizeof(yaml) - 1,
	      "temp file");
	if (fd >= 0)
		close(fd);

	/* encode 0a13 under config 1 on the command line, decode via the
	 * file */
	rc = run("cid encode --config-id 1 --server-id 0a13 --nonce-len 6 "
		 "--nonce 0102030405aa --key 8f95f09245765f80256934e50c66207f",
		 out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && strlen(out) == 19, "encode for -f: '%s'", out);
	out[18] = 0;
	snprintf(args, sizeof(args), "cid decode -f %s %s", path, out);
	rc = run(args, out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 && !strcmp(out, "config_id=1 server_id=0a13 "
				      "nonce=0102030405aa\n"),
	      "-f decode: exit %d '%s' %s", rc, out, err);
	snprintf(args, sizeof(args), "cid decode --file %s 46c4605e4504cc4f",
		 path);
	rc = run(args, out, sizeof(out), err, sizeof(err));
	CHECK(rc == 0 &&
		      !strcmp(out,
			      "config_id=2 server_id=c4605e nonce=4504cc4f\n"),
	      "-f plaintext decode: exit %d '%s' %s", rc, out, err);

	snprintf(args, sizeof(args), "cid decode -f %s 07c4605e4504cc4f", path);
	expect_err(args); /* config 0 is not in the file */
	snprintf(args, sizeof(args), "cid decode -f %s 46c4605e4504cc", path);
	expect_err(args); /* too short for config 2 */
	snprintf(args, sizeof(args), "cid decode -f %s e6c4605e4504cc4f", path);
	expect_err(args);
	snprintf(args, sizeof(args),
		 "cid decode -f %s --nonce-len 4 46c4605e4504cc4f", path);
	expect_usage(args);
	unlink(path);
}

int main(void)
{
	const char *build = getenv("BUILD");

	snprintf(qlbctl, sizeof(qlbctl), "%s/qlbctl",
		 build && *build ? build : "build");
	if (access(qlbctl, X_OK)) {
		fprintf(stderr,
			"%s is not there: build it first (make BUILD=...)\n",
			qlbctl);
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "/tmp/qlb-test-cli-cid-%d.err",
		 (int)getpid());
	test_vectors();
	test_encode_options();
	test_errors();
	test_file();
	unlink(errpath);
	return t_done("test_cli_cid");
}
