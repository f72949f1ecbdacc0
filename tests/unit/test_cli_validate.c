// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl validate as a user runs it: exit codes, "file:line:col: message"
 * on stderr, the JSON form, --help, and the shipped example configs.
 * BUILD names the build directory (default "build").
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* CHECK(cond) without a message is fine here */
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#include "t.h"

static char out[65536];

/* Run "qlbctl ARGS" (2>&1 when @merge); return the exit code. */
static int run(const char *args, bool merge)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/qlbctl %s%s", build, args,
		 merge ? " 2>&1" : " 2>/dev/null");
	return t_popen(cmd, out, sizeof(out));
}

int main(void)
{
	int rc;

	rc = run("validate -f tests/config/good.yaml", true);
	CHECK(rc == 0, "good.yaml: exit %d: %s", rc, out);
	CHECK(strstr(out, "tests/config/good.yaml: ok") != NULL, "%s", out);

	rc = run("validate tests/config/good_host_only.yaml", true);
	CHECK(rc == 0, "good_host_only.yaml: exit %d: %s", rc, out);

	rc = run("validate -f tests/config/good_fleet.yaml", true);
	CHECK(rc == 0, "good_fleet.yaml: exit %d: %s", rc, out);

	rc = run("validate -f deploy/qlb.yaml", true);
	CHECK(rc == 0, "deploy/qlb.yaml: exit %d: %s", rc, out);

	rc = run("validate -f tests/config/bad_nonce_len.yaml", true);
	CHECK(rc == 1, "bad_nonce_len: exit %d", rc);
	CHECK(strstr(out, "tests/config/bad_nonce_len.yaml:5:18: "
			  "quic_lb.configs[0].nonce_len: 3 is below the "
			  "minimum 4\n"),
	      "%s", out);

	/* every problem, one line each, in file order */
	rc = run("validate -f tests/config/bad_enums.yaml", true);
	CHECK(rc == 1);
	{
		const char *a = strstr(out, "bad_enums.yaml:7:14: "),
			   *b = strstr(out, "bad_enums.yaml:10:13: "),
			   *c = strstr(out, "bad_enums.yaml:20:12: "),
			   *d = strstr(out, "bad_enums.yaml:21:12: ");

		CHECK(a && b && c && d && a < b && b < c && c < d, "%s", out);
	}

	rc = run("-j validate -f tests/config/bad_enums.yaml", false);
	CHECK(rc == 1);
	CHECK(!strncmp(out,
		       "{\"file\":\"tests/config/"
		       "bad_enums.yaml\",\"valid\":false,\"errors\":[{\"line\":"
		       "7,\"col\":14,\"message\":\"quic_lb.configs[0].state: "
		       "\\\"retired\\\" is not one of",
		       140),
	      "%s", out);
	CHECK(strstr(out, "{\"line\":21,\"col\":12,\"message\":\"hosts[0]."
			  "state: ") != NULL,
	      "%s", out);

	rc = run("-j validate -f tests/config/good.yaml", false);
	CHECK(rc == 0);
	CHECK(!strncmp(out,
		       "{\"file\":\"tests/config/"
		       "good.yaml\",\"valid\":true,\"errors\":[]",
		       55),
	      "%s", out);

	rc = run("validate -f /nonexistent/qlb.yaml", true);
	CHECK(rc == 1 && strstr(out, "/nonexistent/qlb.yaml: cannot open: No "
				     "such file or directory"),
	      "%s", out);

	rc = run("validate", true);
	CHECK(rc == 2 && strstr(out, "Usage: qlbctl"), "no -f: exit %d", rc);
	rc = run("validate -f a.yaml extra", true);
	CHECK(rc == 2, "extra argument: exit %d", rc);
	rc = run("validate --bogus", true);
	CHECK(rc == 2, "unknown option: exit %d", rc);
	rc = run("validate --help", false);
	CHECK(rc == 0 && strstr(out, "Usage: qlbctl [-j] validate -f FILE"),
	      "%s", out);

	/* services: counted in the summary, listed in JSON */
	rc = run("validate tests/config/good_services.yaml", true);
	CHECK(rc == 0 && strstr(out, "with 4 VIPs, 2 services, keyed flow "
				     "hash\n"),
	      "good_services.yaml: exit %d: %s", rc, out);
	rc = run("-j validate tests/config/good_services.yaml", false);
	CHECK(rc == 0 && strstr(out, "\"services\":[{\"name\":\"web\","
				     "\"implicit\":false,\"own_quic_lb\":"
				     "false,\"vips\":2,\"hosts\":2},{\"name\""
				     ":\"api\",\"implicit\":false,\"own_"
				     "quic_lb\":true,\"vips\":2,\"hosts\":2}],"
				     "\"hash_secret\":true"),
	      "-j good_services.yaml: %s", out);
	rc = run("-j validate tests/config/good.yaml", false);
	CHECK(rc == 0 && strstr(out, "\"services\":[{\"name\":\"default\","
				     "\"implicit\":true,"),
	      "-j good.yaml: %s", out);

	/* usage errors are JSON under -j too */
	rc = run("-j validate --bogus", false);
	CHECK(rc == 2 && !strncmp(out, "{\"error\":", 9), "-j --bogus: %s",
	      out);

	/* a FIFO is refused at once, not waited on (a writer never comes) */
	{
		char dir[] = "/tmp/qlb-test-validate-XXXXXX", args[256];

		CHECK(mkdtemp(dir) != NULL);
		snprintf(args, sizeof(args), "validate -f %s/fifo.yaml", dir);
		snprintf(out, sizeof(out), "%s/fifo.yaml", dir);
		CHECK(mkfifo(out, 0600) == 0);
		/* run() waits for qlbctl: an alarm bounds a hang */
		alarm(20);
		rc = run(args, true);
		alarm(0);
		CHECK(rc == 1 && strstr(out, "fifo.yaml: not a regular file"),
		      "FIFO: exit %d: %s", rc, out);
		snprintf(out, sizeof(out), "%s/fifo.yaml", dir);
		unlink(out);
		rmdir(dir);
	}
	return t_done("test_cli_validate");
}
