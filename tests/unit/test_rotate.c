// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl rotate as an operator runs it, on a copy of a commented fleet file:
 * new -> promote -> retire (refused before the drain time, --force, and
 * after it), status, the key file's mode and secrecy, comments kept, and a
 * failed step leaving the file byte for byte as it was.
 * BUILD names the build directory (default "build").
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* CHECK(cond) without a message is fine here */
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#include "t.h"
#include "config.h"
#include "common.h"

static const char fleet[] =
	"# fleet config for the rotate test\n"
	"quic_lb:\n"
	"  # the configs list is edited by qlbctl rotate\n"
	"  configs:\n"
	"    - id: 5   # the first config\n"
	"      server_id_len: 2\n"
	"      nonce_len: 6   # plenty\n"
	"      worker_bits: 4\n"
	"      key: \"8f95f09245765f80256934e50c66207f\"\n"
	"      # no state: line, so it is active by default\n"
	"lb:   # LB nodes\n"
	"  interface: eth0\n"
	"  gateway_mac: \"02:00:00:00:00:01\"\n"
	"  encap_source_v4: 198.18.0.10\n"
	"  vips:\n"
	"    - address: 198.18.1.1\n"
	"      port: 443\n"
	"hosts:\n"
	"  - name: web1   # first host\n"
	"    address: 198.18.0.21\n"
	"    server_id: \"0a10\"\n"
	"  - name: web2\n"
	"    address: 198.18.0.22\n"
	"    server_id: \"0a20\"\n"
	"# end of file\n";

static char out[65536], dir[64], yaml[128];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char args[512], cmd[1200], cwd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	/* the test runs qlbctl by absolute path: BUILD may be relative */
	if (build[0] == '/')
		snprintf(cmd, sizeof(cmd), "%.200s/qlbctl %.512s 2>&1", build,
			 args);
	else
		snprintf(cmd, sizeof(cmd), "%.256s/%.200s/qlbctl %.512s 2>&1",
			 cwd, build, args);
	return t_popen(cmd, out, sizeof(out));
}

static char *slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		buf[0] = 0;
		return buf;
	}
	n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Every comment of the original is still in @text, in the same order. */
static bool comments_kept(const char *orig, const char *text,
			  const char *const *skip)
{
	const char *p = orig, *at = text;

	while ((p = strchr(p, '#'))) {
		char c[128];
		size_t l = strcspn(p, "\n");

		snprintf(c, sizeof(c), "%.*s", (int)l, p);
		p += l;
		if (skip) {
			int i;

			for (i = 0; skip[i] && !strstr(c, skip[i]); i++)
				;
			if (skip[i])
				continue;
		}
		at = strstr(at, c);
		if (!at) {
			fprintf(stderr, "comment lost: %s\n", c);
			return false;
		}
	}
	return true;
}

static int count_files(const char *suffix)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name), s = strlen(suffix);

		if (l >= s && !strcmp(e->d_name + l - s, suffix))
			n++;
		if (strstr(e->d_name, ".qlbctl-"))
			n += 1000; /* a temp file left behind */
	}
	if (d)
		closedir(d);
	return n;
}

static const char svc_fleet[] =
	"quic_lb:   # the top-level block, web's\n"
	"  configs:\n"
	"    - id: 1\n"
	"      server_id_len: 2\n"
	"      nonce_len: 6\n"
	"      key: 8f95f09245765f80256934e50c66207f\n"
	"hosts:\n"
	"  - name: web1\n"
	"    address: 198.18.0.21\n"
	"    server_id: \"0a10\"\n"
	"  - name: api1\n"
	"    address: 198.18.0.23\n"
	"services:\n"
	"  - name: web\n"
	"    vips:\n"
	"      - {address: 198.18.1.1, port: 443}\n"
	"    hosts: [web1]\n"
	"  - name: api\n"
	"    quic_lb:   # api's own block\n"
	"      configs:\n"
	"        - id: 1   # same id as web's, another key\n"
	"          server_id_len: 3\n"
	"          nonce_len: 5\n"
	"          key: 00112233445566778899aabbccddeeff\n"
	"    vips:\n"
	"      - {address: 198.18.1.2, port: 443}\n"
	"    hosts:\n"
	"      - {name: api1, server_id: \"0b0000\"}\n"
	"# end\n";

/* Load @path; the top-level block must be as written. Return: api. */
static const struct qlb_conf_service *api_of(struct qlb_config *cfg,
					     const char *path)
{
	if (qlb_config_load(path, cfg, stderr))
		return NULL;
	CHECK(cfg->configs[1].present && cfg->configs[1].sid_len == 2 &&
	      cfg->configs[1].state == QLB_CONF_ACTIVE &&
	      cfg->configs[1].key[0] == 0x8f);
	CHECK(cfg->nservices == 2 && !cfg->services[0].own_quic_lb);
	return cfg->nservices == 2 ? &cfg->services[1] : NULL;
}

/* rotate --service NAME: one service's own block, the others untouched. */
static void test_services(void)
{
	static char before[8192], after[8192];
	const struct qlb_conf_service *a;
	char path[256], kdir[128];
	struct qlb_config cfg;
	size_t pre, suf, lb, la;
	int rc, fd;

	snprintf(kdir, sizeof(kdir), "%s/svc", dir);
	CHECK(mkdir(kdir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/svc.yaml", kdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, svc_fleet, strlen(svc_fleet)) ==
				 (ssize_t)strlen(svc_fleet));
	close(fd);

	rc = run("rotate new -f %s --service api", path);
	CHECK(rc == 0 && strstr(out, ": service api: config 2 added") &&
		      strstr(out, "/svc-api-cr2-") &&
		      strstr(out, "promote -f ") &&
		      strstr(out, " --service api 2"),
	      "new --service: %d %s", rc, out);
	/* an insertion into api's block, nothing else changed */
	slurp(path, after, sizeof(after));
	lb = strlen(svc_fleet);
	la = strlen(after);
	for (pre = 0; pre < lb && svc_fleet[pre] == after[pre]; pre++)
		;
	for (suf = 0;
	     suf < lb - pre && svc_fleet[lb - 1 - suf] == after[la - 1 - suf];
	     suf++)
		;
	CHECK(pre + suf == lb && la > lb &&
		      pre > (size_t)(strstr(svc_fleet, "api's own") -
				     svc_fleet),
	      "not one insertion into api's block (%zu + %zu of %zu)", pre, suf,
	      lb);
	a = api_of(&cfg, path);
	CHECK(a && a->configs[2].present &&
	      a->configs[2].state == QLB_CONF_ROUTABLE &&
	      a->configs[2].sid_len == 3 && a->configs[2].has_key &&
	      strstr(a->configs[2].key_file, "/svc-api-cr2-"));
	CHECK(!cfg.configs[2].present, "top-level config 2 appeared");
	qlb_config_free(&cfg);

	rc = run("rotate promote -f %s --service api 2", path);
	CHECK(rc == 0, "promote --service: %d %s", rc, out);
	rc = run("rotate retire -f %s 1 --service api --force", path);
	CHECK(rc == 0, "retire --service: %d %s", rc, out);
	a = api_of(&cfg, path);
	CHECK(a && !a->configs[1].present && a->configs[2].present &&
	      a->configs[2].state == QLB_CONF_ACTIVE);
	qlb_config_free(&cfg);
	rc = run("-j rotate status -f %s --service api", path);
	CHECK(rc == 0 && strstr(out, "\"service\":\"api\"") &&
		      strstr(out, "\"id\":2,\"state\":\"active\"") &&
		      !strstr(out, "\"id\":1,"),
	      "status --service: %s", out);

	/* web shares the top-level block; no such service: refused, and the
	 * file stays as it was */
	slurp(path, before, sizeof(before));
	rc = run("rotate new -f %s --service web", path);
	CHECK(rc == 1 && strstr(out, "uses the top-level quic_lb"), "%s", out);
	rc = run("rotate promote -f %s --service nope 1", path);
	CHECK(rc == 1 && strstr(out, "has no service \"nope\""), "%s", out);
	slurp(path, after, sizeof(after));
	CHECK(!strcmp(before, after), "a refused step changed the file");
}

/* the comments of config 5's item go with it when it is retired */
static const char *const item5[] = {"first config", "plenty", "no state", NULL};

int main(void)
{
	static char before[65536], after[65536], key[256];
	struct qlb_config cfg;
	struct stat st;
	time_t t0 = time(NULL);
	int rc, fd;

	snprintf(dir, sizeof(dir), "/tmp/qlb-test-rotate-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(yaml, sizeof(yaml), "%s/fleet.yaml", dir);
	fd = open(yaml, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	CHECK(fd >= 0 &&
	      write(fd, fleet, strlen(fleet)) == (ssize_t)strlen(fleet));
	close(fd);
	chmod(yaml, 0640);

	/* status: one active config, inline key, key never shown */
	rc = run("rotate status -f %s", yaml);
	CHECK(rc == 0 && strstr(out, "5   active") && strstr(out, "inline"),
	      "%s", out);
	CHECK(!strstr(out, "8f95f092"), "status printed the key: %s", out);

	/* new: codepoint 6 (after the active 5), key file 0600, routable */
	rc = run("rotate new -f %s", yaml);
	CHECK(rc == 0, "new: %d %s", rc, out);
	CHECK(count_files(".key") == 1, "key files: %d", count_files(".key"));
	slurp(yaml, after, sizeof(after));
	CHECK(comments_kept(fleet, after, NULL));
	CHECK(qlb_config_load(yaml, &cfg, stderr) == 0);
	CHECK(cfg.configs[6].present &&
	      cfg.configs[6].state == QLB_CONF_ROUTABLE &&
	      cfg.configs[6].sid_len == 2 && cfg.configs[6].nonce_len == 6 &&
	      cfg.configs[6].worker_bits == 4 && cfg.configs[6].has_key &&
	      cfg.configs[6].since >= t0 &&
	      cfg.configs[6].since <= time(NULL) + 1);
	CHECK(cfg.configs[5].state == QLB_CONF_ACTIVE);
	if (cfg.configs[6].key_file[0]) {
		char hex[40];

		CHECK(stat(cfg.configs[6].key_file, &st) == 0 &&
			      (st.st_mode & 0777) == 0600,
		      "key file mode %o", st.st_mode & 0777);
		slurp(cfg.configs[6].key_file, key, sizeof(key));
		qlb_hex(cfg.configs[6].key, 16, hex);
		CHECK(strlen(key) == 33 && !strncmp(key, hex, 32),
		      "key file content");
		CHECK(!strstr(out, hex), "new printed the key: %s", out);
		CHECK(strstr(after, strrchr(cfg.configs[6].key_file, '/') + 1),
		      "key_file: is relative to the YAML");
	} else {
		CHECK(0, "new config has no key_file");
	}
	qlb_config_free(&cfg);
	CHECK(stat(yaml, &st) == 0 && (st.st_mode & 0777) == 0640,
	      "yaml mode changed to %o", st.st_mode & 0777);

	/* the whole original text outside the insertion is untouched */
	{
		const char *tail = strstr(fleet, "lb:   # LB nodes");
		size_t head = tail - fleet;

		CHECK(!strncmp(after, fleet, head),
		      "text before the insertion changed");
		CHECK(strstr(after, tail) && !strcmp(strstr(after, tail), tail),
		      "text after the insertion changed");
	}

	/* promote 5 is a no-op; retire of a routable or active config
	 * refused */
	rc = run("rotate promote -f %s 5", yaml);
	CHECK(rc == 0 && strstr(out, "already active"), "%s", out);
	slurp(yaml, before, sizeof(before));
	rc = run("rotate retire -f %s 6", yaml);
	CHECK(rc == 1 && strstr(out, "config 6 is routable, not retiring"),
	      "%s", out);
	rc = run("rotate retire -f %s 5 --force", yaml);
	CHECK(rc == 1 && strstr(out, "config 5 is active, not retiring"), "%s",
	      out);
	CHECK(!strcmp(slurp(yaml, after, sizeof(after)), before),
	      "refusal changed the file");

	/* promote 6: 6 active, 5 retiring since now (lines added to its
	 * item) */
	rc = run("rotate promote -f %s 6", yaml);
	CHECK(rc == 0, "promote: %d %s", rc, out);
	slurp(yaml, after, sizeof(after));
	CHECK(comments_kept(fleet, after, NULL));
	CHECK(qlb_config_load(yaml, &cfg, stderr) == 0);
	CHECK(cfg.configs[6].state == QLB_CONF_ACTIVE &&
	      cfg.configs[5].state == QLB_CONF_RETIRING &&
	      cfg.configs[5].since >= t0 && cfg.configs[6].since >= t0);
	qlb_config_free(&cfg);
	CHECK(strstr(after,
		     "      # no state: line, so it is active by default\n"
		     "      state: retiring\n"
		     "      since: "),
	      "%s", after);

	/* retire 5 before its drain time: refused, file untouched */
	slurp(yaml, before, sizeof(before));
	rc = run("rotate retire -f %s 5", yaml);
	CHECK(rc == 1 && strstr(out, "still draining") &&
		      strstr(out, "--force"),
	      "%s", out);
	CHECK(!strcmp(slurp(yaml, after, sizeof(after)), before),
	      "refused retire changed the file");

	rc = run("-j rotate status -f %s", yaml);
	CHECK(rc == 0 && strstr(out, "{\"id\":5,\"state\":\"retiring\"") &&
		      strstr(out, "\"retirable_in\":") &&
		      strstr(out, "{\"id\":6,\"state\":\"active\"") &&
		      strstr(out, "\"key\":\"file\""),
	      "%s", out);
	CHECK(!strstr(out, "8f95f092") &&
		      !strstr(out, key[0] ? (key[32] = 0, key) : "x"),
	      "status -j printed a key");

	/* a new config whose lengths the hosts' server IDs do not fit: the
	 * edited file would be invalid, so nothing changes and no key stays */
	rc = run("rotate new -f %s --server-id-len 3", yaml);
	CHECK(rc == 1 &&
		      strstr(out,
			     "is 2 bytes but config 0 has server_id_len 3") &&
		      strstr(out, "left it unchanged"),
	      "%s", out);
	CHECK(!strcmp(slurp(yaml, after, sizeof(after)), before),
	      "failed new changed the file");
	CHECK(count_files(".key") == 1, "orphan key file or temp file: %d",
	      count_files(".key"));

	/* --force retires now */
	rc = run("rotate retire -f %s 5 --force", yaml);
	CHECK(rc == 0, "retire --force: %d %s", rc, out);
	slurp(yaml, after, sizeof(after));
	CHECK(comments_kept(fleet, after, item5));
	CHECK(!strstr(after, "first config") && !strstr(after, "id: 5"));
	CHECK(qlb_config_load(yaml, &cfg, stderr) == 0);
	CHECK(!cfg.configs[5].present && cfg.configs[6].present);
	qlb_config_free(&cfg);

	/* new, promote, then retire once the (1 s) drain time has passed */
	rc = run("rotate new -f %s --id 2", yaml);
	CHECK(rc == 0, "%s", out);
	rc = run("rotate new -f %s --id 2", yaml);
	CHECK(rc == 1 && strstr(out, "config 2 already exists"), "%s", out);
	{ /* give config 6 a drain time of 1 s by hand, as an operator would */
		char *p;
		FILE *f;

		slurp(yaml, after, sizeof(after));
		p = strstr(after, "      since: ");
		CHECK(p != NULL);
		if (p) {
			f = fopen(yaml, "w");
			fprintf(f, "%.*s      drain_time: 1\n%s",
				(int)(p - after), after, p);
			fclose(f);
		}
	}
	rc = run("rotate promote -f %s 2", yaml);
	CHECK(rc == 0, "%s", out);
	sleep(2);
	rc = run("rotate retire -f %s 6", yaml);
	CHECK(rc == 0, "retire after drain: %d %s", rc, out);
	CHECK(qlb_config_load(yaml, &cfg, stderr) == 0);
	CHECK(!cfg.configs[6].present && cfg.configs[2].present &&
	      cfg.configs[2].state == QLB_CONF_ACTIVE);
	qlb_config_free(&cfg);
	slurp(yaml, after, sizeof(after));
	CHECK(comments_kept(fleet, after, item5));

	/* an invalid file is refused before anything is written */
	{
		FILE *f = fopen(yaml, "a");

		fputs("bogus: 1\n", f);
		fclose(f);
	}
	slurp(yaml, before, sizeof(before));
	rc = run("rotate new -f %s", yaml);
	CHECK(rc == 1 && strstr(out, "unknown key") &&
		      strstr(out, "fix them before rotating"),
	      "%s", out);
	CHECK(!strcmp(slurp(yaml, after, sizeof(after)), before));
	CHECK(count_files(".key") == 2, "key files: %d", count_files(".key"));

	/* seven rotate new at once: they take turns (flock), each on the file
	 * the one before it wrote; six free codepoints, six successes */
	{
		const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
		char cmd[1024], cwd[512], par[160], codes[64];
		int i, ok = 0, keys = 0;
		struct dirent *e;
		DIR *dd;
		FILE *f;

		snprintf(par, sizeof(par), "%s/par", dir);
		mkdir(par, 0700);
		snprintf(yaml, sizeof(yaml), "%s/par/fleet.yaml", dir);
		f = fopen(yaml, "w");
		fputs(fleet, f);
		fclose(f);
		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = 0;
		snprintf(cmd, sizeof(cmd),
			 "for i in 1 2 3 4 5 6 7; do (%s%s%s/qlbctl rotate new "
			 "-f %s >/dev/null 2>&1; echo $? >>%s/codes) & done; "
			 "wait",
			 build[0] == '/' ? "" : cwd, build[0] == '/' ? "" : "/",
			 build, yaml, par);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof(cmd), "%s/codes", par);
		slurp(cmd, codes, sizeof(codes));
		for (i = 0; codes[i]; i++)
			ok += codes[i] == '0' && (!i || codes[i - 1] == '\n');
		CHECK(ok == 6, "%d of 7 parallel runs succeeded: %s", ok,
		      codes);
		CHECK(qlb_config_load(yaml, &cfg, stderr) == 0);
		for (i = 0; i < QLB_CONFIG_MAX; i++)
			CHECK(cfg.configs[i].present, "config %d missing", i);
		qlb_config_free(&cfg);
		dd = opendir(par);
		while (dd && (e = readdir(dd))) {
			keys += strstr(e->d_name, ".key") != NULL;
			CHECK(!strstr(e->d_name, ".qlbctl-"), "temp file left");
		}
		if (dd)
			closedir(dd);
		CHECK(keys == 6, "%d key files", keys);
	}

	/* usage */
	CHECK(run("rotate") == 2);
	CHECK(run("rotate promote -f %s", yaml) == 2);
	CHECK(run("rotate promote -f %s 7", yaml) == 2);
	CHECK(run("rotate --help") == 0 &&
	      strstr(out, "Usage: qlbctl [-j] rotate"));

	test_services();

	if (!t_fail) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	} else {
		fprintf(stderr, "left %s for inspection\n", dir);
	}
	return t_done("test_rotate");
}
