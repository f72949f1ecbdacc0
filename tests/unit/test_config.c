// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb_config_load(): every tests/config/bad_*.yaml must be refused with
 * exactly the problems its "# expect: LINE:COL fragment" lines name, at
 * those places; the good files must fill the structs as written; key files
 * are checked for mode and content; the marks rotate uses point at the text.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* CHECK(cond) without a message is fine here */
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#include "t.h"
#include "config.h"
#include "qlb/libqlb.h"

#define DIR_ENV "QLB_CONFIG_DIR"

/* The smallest quic_lb: of the files the tests below write. */
#define MINI_QUIC_LB                                                           \
	"quic_lb:\n"                                                           \
	"  configs:\n"                                                         \
	"    - id: 0\n"                                                        \
	"      server_id_len: 1\n"                                             \
	"      nonce_len: 4\n"

struct expect {
	int line, col;
	char frag[512];
	bool found;
};

static int load_expects(const char *path, struct expect *e, int max)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f) && n < max) {
		int off = 0;

		if (strncmp(buf, "# expect: ", 10))
			continue;
		if (sscanf(buf + 10, "%d:%d %n", &e[n].line, &e[n].col, &off) <
		    2)
			continue;
		snprintf(e[n].frag, sizeof(e[n].frag), "%s", buf + 10 + off);
		e[n].frag[strcspn(e[n].frag, "\n")] = 0;
		e[n].found = false;
		n++;
	}
	fclose(f);
	return n;
}

static void check_bad(const char *path)
{
	struct expect e[16];
	struct qlb_config cfg;
	struct qlb_diags d;
	unsigned int i;
	int ne, n, k;
	bool all = true;

	ne = load_expects(path, e, 16);
	CHECK(ne > 0, "%s has no '# expect:' lines", path);
	if (ne <= 0)
		return;
	n = qlb_config_load_diag(path, &cfg, NULL, &d);
	CHECK(n == ne, "%s: %d problems reported, %d expected", path, n, ne);
	CHECK(n == (int)d.n, "%s: return %d != %u diagnostics", path, n, d.n);
	for (k = 0; k < ne; k++) {
		for (i = 0; i < d.n; i++) {
			if (d.v[i].line == e[k].line &&
			    d.v[i].col == e[k].col &&
			    strstr(d.v[i].msg, e[k].frag)) {
				e[k].found = true;
				break;
			}
		}
		CHECK(e[k].found, "%s: expected %d:%d %s", path, e[k].line,
		      e[k].col, e[k].frag);
		all &= e[k].found;
	}
	if (!all || n != ne)
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "    got %d:%d %s\n", d.v[i].line,
				d.v[i].col, d.v[i].msg);
	/* a refused file leaves nothing behind */
	CHECK(cfg.nhosts == 0 && cfg.hosts == NULL && !cfg.lb.present,
	      "%s: cfg not zeroed", path);
	qlb_diags_free(&d);
}

static void check_bad_files(const char *dir)
{
	struct dirent **ents;
	char path[PATH_MAX];
	int n, i, bad = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	CHECK(n > 0, "cannot read %s", dir);
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);

		if (!strncmp(nm, "bad_", 4) && l > 5 &&
		    !strcmp(nm + l - 5, ".yaml")) {
			snprintf(path, sizeof(path), "%s/%s", dir, nm);
			check_bad(path);
			bad++;
		}
		free(ents[i]);
	}
	free(ents);
	CHECK(bad >= 30, "only %d bad fixtures found in %s", bad, dir);
	printf("bad fixtures: %d\n", bad);
}

/* The marks rotate uses must point at the right text. */
static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static bool span_is(const char *text, const struct qlb_span *s,
		    const char *want)
{
	return s->end - s->start == strlen(want) &&
	       !memcmp(text + s->start, want, strlen(want));
}

static void check_good(const char *dir)
{
	static const uint8_t key[16] = {0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76,
					0x5f, 0x80, 0x25, 0x69, 0x34, 0xe5,
					0x0c, 0x66, 0x20, 0x7f};
	struct qlb_config cfg;
	const struct qlb_conf_cid *q;
	const struct qlb_conf_host *h;
	char path[PATH_MAX], buf[64], *text;
	int n;

	snprintf(path, sizeof(path), "%s/good.yaml", dir);
	n = qlb_config_load(path, &cfg, stderr);
	CHECK(n == 0, "good.yaml: %d problems", n);
	if (n)
		return;
	q = &cfg.configs[1];
	CHECK(q->present && q->id == 1 && q->sid_len == 2 &&
	      q->nonce_len == 6 && q->worker_bits == 4 && q->has_key &&
	      q->encode_length && q->state == QLB_CONF_ACTIVE &&
	      !q->key_file[0]);
	CHECK(q->drain_time == QLB_DEFAULT_DRAIN_TIME && q->since == 0);
	CHECK_MEM(q->key, key, 16, "config 1 key");
	for (n = 0; n < QLB_CONFIG_MAX; n++)
		CHECK(n == 1 || !cfg.configs[n].present, "config %d", n);
	CHECK(cfg.lb.present && !strcmp(cfg.lb.interface, "eth0"));
	CHECK(cfg.lb.xdp_mode == QLB_XDP_NATIVE);
	CHECK(!memcmp(cfg.lb.gateway_mac, "\x02\0\0\0\0\x01", 6));
	CHECK(!strcmp(qlb_addr_str(&cfg.lb.encap_source_v4, buf, sizeof(buf)),
		      "198.18.0.10"));
	CHECK(!strcmp(qlb_addr_str(&cfg.lb.encap_source_v6, buf, sizeof(buf)),
		      "2001:db8::10"));
	CHECK(!strcmp(cfg.lb.pin_dir, "/sys/fs/bpf/qlb/lb"));
	CHECK(cfg.lb.maglev_table_size == QLB_DEFAULT_MAGLEV_SIZE);
	CHECK(cfg.lb.mtu == QLB_DEFAULT_MTU && cfg.lb.gue_port == 6080);
	CHECK(cfg.lb.nvips == 1 && cfg.lb.vips[0].port == 443 &&
	      cfg.lb.vips[0].addr.family == AF_INET &&
	      cfg.lb.vips[0].pos.line == 18 && cfg.lb.vips[0].pos.col == 7);
	CHECK(cfg.nhosts == 1);
	h = qlb_config_host(&cfg, "web1");
	CHECK(h && h == &cfg.hosts[0]);
	CHECK(!qlb_config_host(&cfg, "web2"));
	if (h) {
		CHECK(h->has_sid[1] && !h->has_sid[0] &&
		      !memcmp(h->sid[1], "\x0a\x10", 2));
		CHECK(h->encap == QLB_ENCAP_GUE && h->weight == 100 &&
		      h->state == QLB_HOST_ACTIVE);
		CHECK(h->pos.line == 21 && h->pos.col == 5, "host pos %d:%d",
		      h->pos.line, h->pos.col);
		CHECK(!strcmp(qlb_addr_str(&h->address, buf, sizeof(buf)),
			      "198.18.0.21"));
	}
	CHECK(cfg.host.present && !strcmp(cfg.host.name, "web1") &&
	      !strcmp(cfg.host.interface, "eth0") &&
	      !strcmp(cfg.host.agent_socket, "/run/qlb/agent.sock") &&
	      !strcmp(cfg.host.pin_dir, "/sys/fs/bpf/qlb/web1"));
	CHECK(cfg.host.nallow_uids == 1 && cfg.host.allow_uids[0] == 0 &&
	      cfg.host.nallow_gids == 0 && cfg.host.workers == 0 &&
	      cfg.host.gue_port == 6080);
	CHECK(cfg.host.flow_timeout == QLB_DEFAULT_FLOW_TIMEOUT,
	      "flow_timeout %u", cfg.host.flow_timeout);
	/* marks */
	text = slurp(path);
	CHECK(text && cfg.marks.configs_block && cfg.marks.item_block[1]);
	if (text) {
		CHECK(span_is(text, &cfg.marks.state[1], "active"));
		CHECK(cfg.marks.state[1].line == 9 &&
		      cfg.marks.state[1].col == 14);
		CHECK(cfg.marks.since[1].end == 0);
		CHECK(cfg.marks.dash_col[1] == 4 && cfg.marks.key_col[1] == 6);
		CHECK(!strncmp(text + cfg.marks.item[1].start, "    - id: 1 ",
			       12));
		CHECK(!strncmp(text + cfg.marks.item[1].end, "lb:\n", 4),
		      "item end at '%.10s'", text + cfg.marks.item[1].end);
	}
	qlb_config_free(&cfg);
	CHECK(cfg.hosts == NULL);
	for (n = 0; n < 16; n++)
		CHECK(cfg.configs[1].key[n] == 0, "key byte %d not wiped", n);

	snprintf(path, sizeof(path), "%s/good_host_only.yaml", dir);
	n = qlb_config_load(path, &cfg, stderr);
	CHECK(n == 0, "good_host_only.yaml: %d problems", n);
	if (n)
		return;
	CHECK(!cfg.lb.present && cfg.host.present);
	q = &cfg.configs[2];
	CHECK(q->present && q->state == QLB_CONF_RETIRING &&
	      q->since == 1700000000 && q->drain_time == 600 && !q->has_key &&
	      q->worker_bits == 8 && q->sid_len == 3);
	q = &cfg.configs[3];
	CHECK(q->present && q->state == QLB_CONF_ACTIVE && q->has_key &&
	      !q->encode_length && q->sid_len == 3 && q->key[15] == 0xff);
	CHECK(cfg.nhosts == 2);
	CHECK(cfg.hosts[0].address.family == AF_INET6 &&
	      cfg.hosts[0].encap == QLB_ENCAP_IPIP &&
	      cfg.hosts[0].weight == 0 &&
	      cfg.hosts[0].state == QLB_HOST_DRAINING);
	/* server_id fills every config server_ids does not name */
	CHECK(cfg.hosts[0].has_sid[2] && cfg.hosts[0].has_sid[3] &&
	      !memcmp(cfg.hosts[0].sid[3], "\x0a\x0b\x00", 3));
	CHECK(cfg.hosts[1].has_sid[2] &&
	      !memcmp(cfg.hosts[1].sid[2], "\x0a\x0c\x00", 3));
	CHECK(cfg.hosts[1].has_sid[3] &&
	      !memcmp(cfg.hosts[1].sid[3], "\xff\x00\x00", 3));
	CHECK(cfg.host.workers == 4 && cfg.host.gue_port == 7000 &&
	      cfg.host.nallow_uids == 2 && cfg.host.allow_uids[1] == 1000 &&
	      cfg.host.nallow_gids == 1 && cfg.host.allow_gids[0] == 100);
	CHECK(cfg.host.flow_timeout == 0, "flow_timeout: off read as %u",
	      cfg.host.flow_timeout);
	CHECK(!strcmp(cfg.host.agent_socket, "/run/qlb/agent.sock") &&
	      !strcmp(cfg.host.pin_dir, "/sys/fs/bpf/qlb/host"));
	CHECK(!strcmp(qlb_conf_state_name(QLB_CONF_RETIRING), "retiring") &&
	      !strcmp(qlb_host_state_name(QLB_HOST_DOWN), "down") &&
	      !strcmp(qlb_encap_name(QLB_ENCAP_IPIP), "ipip"));
	{
		struct qlb_cid_cfg cc;
		int r = qlb_config_cid_cfg(&cfg, 3, &cc);

		CHECK(r == 0, "cid cfg: %d", r);
		if (r == 0)
			CHECK(cc.id == 3 && cc.sid_len == 3 &&
			      cc.nonce_len == 5 && cc.worker_bits == 8 &&
			      (cc.flags & QLB_CID_F_KEY) &&
			      !(cc.flags & QLB_CID_F_ENCODE_LEN));
		CHECK(qlb_config_cid_cfg(&cfg, 1, &cc) == -EINVAL);
	}
	qlb_config_free(&cfg);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, text, strlen(text));
	fchmod(fd, mode);
	close(fd);
	return w == (ssize_t)strlen(text) ? 0 : -1;
}

/* key_file: relative to the YAML, mode 0600 or stricter, 32 hex digits. */
static void check_key_files(void)
{
	static const char yaml[] = MINI_QUIC_LB "      key_file: k.key\n"
						"hosts:\n"
						"  - name: a\n"
						"    address: 198.18.0.2\n"
						"    server_id: \"01\"\n"
						"host:\n"
						"  name: a\n"
						"  interface: lo\n";
	char dir[] = "/tmp/qlb-test-config-XXXXXX", y[PATH_MAX], k[PATH_MAX];
	struct qlb_config cfg;
	struct qlb_diags d;
	int n;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(y, sizeof(y), "%s/q.yaml", dir);
	snprintf(k, sizeof(k), "%s/k.key", dir);
	CHECK(write_file(y, yaml, 0644) == 0);

	CHECK(write_file(k, "00112233445566778899AABBCCDDEEFF\n", 0600) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0, "0600 key file refused");
	if (!n) {
		CHECK(cfg.configs[0].has_key && cfg.configs[0].key[0] == 0x00 &&
		      cfg.configs[0].key[15] == 0xff);
		CHECK(!strcmp(cfg.configs[0].key_file, k), "key_file %s",
		      cfg.configs[0].key_file);
		qlb_config_free(&cfg);
	}

	chmod(k, 0640);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && d.v[0].line == 6 && d.v[0].col == 17 &&
		      strstr(d.v[0].msg, "has mode 0640: it must not be "
					 "accessible by group or others"),
	      "0640: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	chmod(k, 0604);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && strstr(d.v[0].msg, "has mode 0604"), "0604 accepted");
	qlb_diags_free(&d);

	CHECK(write_file(k, "0011223344556677\n", 0600) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 &&
		      strstr(d.v[0].msg, "must hold the key as 32 hex digits"),
	      "short key file accepted");
	qlb_diags_free(&d);

	unlink(k);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && strstr(d.v[0].msg, "No such file or directory"),
	      "missing key file accepted");
	qlb_diags_free(&d);

	unlink(y);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && d.v[0].line == 0 && strstr(d.v[0].msg, "cannot open"));
	qlb_diags_free(&d);
	rmdir(dir);
}

/*
 * The loader must never block: a FIFO as the main file is refused at once
 * (a child does the load under alarm(5); a hang kills it by SIGALRM).
 */
static void check_fifo(const char *dir)
{
	char fifo[PATH_MAX];
	pid_t pid;
	int st = 0;

	snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", dir);
	CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		struct qlb_config cfg;
		struct qlb_diags d;
		int n;

		alarm(5);
		n = qlb_config_load_diag(fifo, &cfg, NULL, &d);
		_exit(n == 1 && d.v[0].line == 0 &&
				      strstr(d.v[0].msg, "not a regular file")
			      ? 0
			      : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "FIFO as the config file: %s %d",
	      WIFSIGNALED(st) ? "killed by signal" : "exit",
	      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	unlink(fifo);
}

/* hash_secret (inline) and hash_secret_file: read, and kept as secret. */
static void check_hash_secret(const char *dir)
{
	static const char head[] = MINI_QUIC_LB;
	static const char tail[] = "hosts:\n"
				   "  - name: a\n"
				   "    address: 198.18.0.2\n"
				   "    server_id: \"01\"\n";
	char y[PATH_MAX], k[PATH_MAX], text[1024];
	struct qlb_config cfg;
	struct qlb_diags d;
	unsigned int i;
	int n;

	snprintf(y, sizeof(y), "%s/h.yaml", dir);
	snprintf(k, sizeof(k), "%s/fleet.hash", dir);

	/* absent: unkeyed, as before */
	snprintf(text, sizeof(text), "%s%s", head, tail);
	CHECK(write_file(y, text, 0644) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0 && !cfg.hash_secret.present);
	qlb_config_free(&cfg);

	snprintf(text, sizeof(text),
		 "%shash_secret: 000102030405060708090a0b0c0d0e0f\n%s", head,
		 tail);
	CHECK(write_file(y, text, 0644) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0 && cfg.hash_secret.present && !cfg.hash_secret.file[0] &&
		      cfg.hash_secret.key[1] == 1 &&
		      cfg.hash_secret.key[15] == 15,
	      "inline hash_secret: %d", n);
	qlb_config_free(&cfg);
	for (i = 0; i < 16; i++)
		CHECK(cfg.hash_secret.key[i] == 0, "secret byte %u not wiped",
		      i);

	snprintf(text, sizeof(text), "%shash_secret_file: fleet.hash\n%s", head,
		 tail);
	CHECK(write_file(y, text, 0644) == 0);
	CHECK(write_file(k, "ffeeddccbbaa99887766554433221100\n", 0600) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0 && cfg.hash_secret.present &&
		      !strcmp(cfg.hash_secret.file, k) &&
		      cfg.hash_secret.key[0] == 0xff &&
		      cfg.hash_secret.key[15] == 0x00,
	      "hash_secret_file: %d", n);
	qlb_config_free(&cfg);

	/* the same rules as a QUIC-LB key file, and no echo of it */
	chmod(k, 0640);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && d.v[0].line == 6 && d.v[0].col == 19 &&
		      strstr(d.v[0].msg, "hash_secret_file: key file") &&
		      strstr(d.v[0].msg, "has mode 0640"),
	      "0640 hash secret file: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);
	CHECK(write_file(k, "ffeeddccbbaa99887766554433221100ff\n", 0600) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && strstr(d.v[0].msg, "must hold the key as 32 hex") &&
		      !strstr(d.v[0].msg, "ffeedd"),
	      "long hash secret file: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);
	unlink(k);
	unlink(y);
}

/*
 * A key file another user owns is refused like a group-readable one: that
 * user could replace the key. Root's files are fine (the loader may be
 * root or the agent's user).
 */
static void check_key_owner(const char *dir)
{
	static const char yaml[] = MINI_QUIC_LB "      key_file: o.key\n"
						"hash_secret_file: o.hash\n"
						"hosts:\n"
						"  - name: a\n"
						"    address: 198.18.0.2\n"
						"    server_id: \"01\"\n";
	char y[PATH_MAX], k[PATH_MAX], h[PATH_MAX];
	struct qlb_config cfg;
	struct qlb_diags d;
	int n;

	if (geteuid() != 0) {
		printf("not root: key file owner check skipped\n");
		return;
	}
	snprintf(y, sizeof(y), "%s/o.yaml", dir);
	snprintf(k, sizeof(k), "%s/o.key", dir);
	snprintf(h, sizeof(h), "%s/o.hash", dir);
	CHECK(write_file(y, yaml, 0644) == 0);
	CHECK(write_file(k, "00112233445566778899aabbccddeeff\n", 0600) == 0);
	CHECK(write_file(h, "00112233445566778899aabbccddeeff\n", 0600) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0, "root-owned key files refused: %d", n);
	qlb_config_free(&cfg);

	CHECK(chown(k, 65534, 65534) == 0 && chown(h, 65534, 0) == 0,
	      "chown: %s", strerror(errno));
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 2, "key files owned by uid 65534: %d problems", n);
	CHECK(n >= 1 && d.v[0].line == 6 && d.v[0].col == 17 &&
		      strstr(d.v[0].msg, "is owned by uid 65534"),
	      "key_file owner: %s", n ? d.v[0].msg : "");
	CHECK(n >= 2 && d.v[1].line == 7 && d.v[1].col == 19 &&
		      strstr(d.v[1].msg, "is owned by uid 65534"),
	      "hash_secret_file owner: %s", n > 1 ? d.v[1].msg : "");
	qlb_diags_free(&d);
	unlink(k);
	unlink(h);
	unlink(y);
}

/*
 * services: the file of good_services.yaml as structs; the implicit
 * service of a file without services:.
 */
static void check_services(const char *dir)
{
	const struct qlb_conf_service *w, *a;
	struct qlb_config cfg;
	char path[PATH_MAX];
	int n;

	snprintf(path, sizeof(path), "%s/good.yaml", dir);
	n = qlb_config_load(path, &cfg, stderr);
	CHECK(n == 0 && cfg.nservices == 1 && cfg.services, "good.yaml: %d", n);
	if (!n) {
		w = &cfg.services[0];
		CHECK(w->implicit && !w->own_quic_lb &&
		      !strcmp(w->name, "default") && w->vip_first == 0 &&
		      w->nvips == cfg.lb.nvips && w->nhosts == cfg.nhosts);
		CHECK(w->configs[1].present && w->configs[1].has_key &&
		      !memcmp(w->configs[1].key, cfg.configs[1].key, 16));
		CHECK(w->hosts[0].host == 0 && w->hosts[0].has_sid[1] &&
		      !memcmp(w->hosts[0].sid[1], "\x0a\x10", 2));
		CHECK(cfg.lb.vips[0].service == 0 && !cfg.hash_secret.present);
		qlb_config_free(&cfg);
		CHECK(!cfg.services && !cfg.nservices);
	}

	snprintf(path, sizeof(path), "%s/good_services.yaml", dir);
	n = qlb_config_load(path, &cfg, stderr);
	CHECK(n == 0, "good_services.yaml: %d problems", n);
	if (n)
		return;
	CHECK(cfg.nservices == 2 && cfg.hash_secret.present &&
	      cfg.hash_secret.key[15] == 15);
	w = &cfg.services[0];
	a = &cfg.services[1];
	CHECK(!strcmp(w->name, "web") && !w->implicit && !w->own_quic_lb);
	CHECK(!strcmp(a->name, "api") && a->own_quic_lb);
	/* lb.vips holds every VIP, each naming its service */
	CHECK(cfg.lb.nvips == 4 && w->vip_first == 0 && w->nvips == 2 &&
	      a->vip_first == 2 && a->nvips == 2);
	CHECK(cfg.lb.vips[1].port == 80 && cfg.lb.vips[1].service == 0 &&
	      cfg.lb.vips[3].port == 8443 && cfg.lb.vips[3].service == 1);
	/* web: the top-level config and hosts[]' server IDs */
	CHECK(w->configs[1].present && w->configs[1].sid_len == 2 &&
	      !w->configs[2].present);
	CHECK(w->nhosts == 2 && w->hosts[0].host == 0 &&
	      w->hosts[1].host == 1 && w->hosts[1].has_sid[1] &&
	      !memcmp(w->hosts[1].sid[1], "\x0a\x20", 2));
	/* api: config 1 again with its own lengths and key, config 2 */
	CHECK(a->configs[1].present && a->configs[1].sid_len == 3 &&
	      a->configs[1].key[0] == 0x00 && a->configs[1].key[15] == 0xff &&
	      a->configs[1].state == QLB_CONF_ACTIVE);
	CHECK(a->configs[2].present && !a->configs[2].has_key &&
	      a->configs[2].state == QLB_CONF_ROUTABLE);
	CHECK(a->marks.configs_block && a->marks.item_block[2]);
	CHECK(a->nhosts == 2 && a->hosts[0].host == 2 &&
	      a->hosts[0].has_sid[1] && a->hosts[0].has_sid[2] &&
	      !memcmp(a->hosts[0].sid[2], "\x0b\x00\x00", 3));
	CHECK(a->hosts[1].host == 1 &&
	      !memcmp(a->hosts[1].sid[1], "\x0c\x00\x00", 3) &&
	      !memcmp(a->hosts[1].sid[2], "\x0c\x01\x00", 3));
	CHECK(a->hosts[1].pos.line == 53 && a->hosts[1].pos.col == 9,
	      "api entry pos %d:%d", a->hosts[1].pos.line, a->hosts[1].pos.col);
	/* lookups for the data plane and the agent */
	{
		struct qlb_addr v = {.family = AF_INET};
		struct qlb_cid_cfg cc;

		CHECK(qlb_config_service(&cfg, "api") == a &&
		      !qlb_config_service(&cfg, "nope"));
		inet_pton(AF_INET, "198.18.1.1", &v.v4);
		CHECK(qlb_config_vip_service(&cfg, &v, 443) == 0 &&
		      qlb_config_vip_service(&cfg, &v, 8443) == 1 &&
		      qlb_config_vip_service(&cfg, &v, 444) == -1);
		CHECK(qlb_service_host(a, 1) == &a->hosts[1] &&
		      !qlb_service_host(a, 0) && qlb_service_host(w, 0));
		CHECK(qlb_service_cid_cfg(a, 1, &cc) == 0 && cc.sid_len == 3 &&
		      (cc.flags & QLB_CID_F_KEY));
		CHECK(qlb_service_cid_cfg(w, 1, &cc) == 0 && cc.sid_len == 2);
		CHECK(qlb_service_cid_cfg(w, 2, &cc) == -EINVAL);
	}
	/* what the rest of qlb reads keeps its meaning */
	CHECK(cfg.configs[1].sid_len == 2 && cfg.hosts[1].has_sid[1] &&
	      !cfg.hosts[2].has_sid[1]);
	qlb_config_free(&cfg);
	CHECK(!cfg.services && !cfg.nservices, "services not freed");
}

/* Write a file of @nsvc services with @nvip VIPs each over @nhost hosts
 * (every service serves every host), with @ncfg configs and, when
 * @maglev is not 0, an lb: section of that Maglev table size. */
static int write_big_lb(const char *path, int nsvc, int nvip, int nhost,
			int ncfg, unsigned int maglev)
{
	FILE *f = fopen(path, "w");
	int s, v, h;

	if (!f)
		return -1;
	fprintf(f, "quic_lb:\n  configs:\n");
	for (v = 0; v < ncfg; v++)
		fprintf(f,
			"    - {id: %d, server_id_len: 2, nonce_len: 6, "
			"state: %s}\n",
			v, v ? "routable" : "active");
	if (maglev)
		fprintf(f,
			"lb:\n  interface: eth0\n  gateway_mac: "
			"\"02:00:00:00:00:01\"\n  encap_source_v4: "
			"198.18.0.10\n  maglev_table_size: %u\n",
			maglev);
	fprintf(f, "hosts:\n");
	for (h = 0; h < nhost; h++)
		fprintf(f,
			"  - {name: h%d, address: 198.18.%d.%d, server_id: "
			"\"%04x\"}\n",
			h, 16 + h / 250, 1 + h % 250, h + 1);
	fprintf(f, "services:\n");
	for (s = 0; s < nsvc; s++) {
		fprintf(f, "  - name: s%d\n    vips:\n", s);
		for (v = 0; v < nvip; v++)
			fprintf(f,
				"      - {address: \"2001:db8:%x::%x\", port: "
				"443}\n",
				s, v + 1);
		fprintf(f, "    hosts: [");
		for (h = 0; h < nhost; h++)
			fprintf(f, "%sh%d", h ? ", " : "", h);
		fprintf(f, "]\n");
	}
	return fclose(f);
}

static int write_big(const char *path, int nsvc, int nvip, int nhost)
{
	return write_big_lb(path, nsvc, nvip, nhost, 1, 0);
}

/* 64 services, 512 VIPs and 4096 hosts are fine; one more of each is not. */
static void check_limits(void)
{
	char dir[] = "/tmp/qlb-test-config-XXXXXX", y[PATH_MAX];
	struct qlb_config cfg;
	struct qlb_diags d;
	int n;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(y, sizeof(y), "%s/big.yaml", dir);

	CHECK(write_big(y, QLB_MAX_SERVICES, QLB_MAX_VIPS / QLB_MAX_SERVICES,
			8) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0 && cfg.nservices == QLB_MAX_SERVICES &&
		      cfg.lb.nvips == QLB_MAX_VIPS,
	      "at the limits: %d", n);
	qlb_config_free(&cfg);

	CHECK(write_big(y, 2, 1, QLB_MAX_HOSTS) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0 && cfg.nhosts == QLB_MAX_HOSTS &&
		      cfg.services[1].nhosts == QLB_MAX_HOSTS,
	      "4096 hosts: %d", n);
	qlb_config_free(&cfg);

	CHECK(write_big(y, QLB_MAX_SERVICES + 1, 1, 2) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && d.v[0].line == 8 && d.v[0].col == 3 &&
		      strstr(d.v[0].msg, "services: 65 services, more than "
					 "the maximum 64"),
	      "65 services: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	CHECK(write_big(y, 2, QLB_MAX_VIPS / 2 + 1, 2) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && strstr(d.v[0].msg, "services[1].vips: 257 VIPs after "
					   "the 257 of the services above, "
					   "more than the maximum 512"),
	      "513 VIPs: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	CHECK(write_big(y, 1, 1, QLB_MAX_HOSTS + 1) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n >= 1 && d.v[0].line == 5 &&
		      strstr(d.v[0].msg, "hosts: 4097 hosts, more than the "
					 "maximum 4096"),
	      "4097 hosts: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	/* what one LB node holds over all services: (service, host) pairs,
	 * server-ID entries and Maglev entries */
	CHECK(write_big(y, 5, 1, QLB_MAX_HOSTS) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	/* (as many server IDs: both are said) */
	CHECK(n == 2 && (strstr(d.v[0].msg, "services: 20480 (service, host) "
					    "pairs, more than the maximum "
					    "16384") ||
			 strstr(d.v[1].msg, "services: 20480 (service, host) "
					    "pairs, more than the maximum "
					    "16384")),
	      "20480 members: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	CHECK(write_big_lb(y, 3, 1, QLB_MAX_HOSTS, 2, 0) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && strstr(d.v[0].msg, "services: 24576 server IDs over "
					   "all services and configs, more "
					   "than the maximum 16384"),
	      "24576 server IDs: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);

	CHECK(write_big_lb(y, QLB_MAX_SERVICES, 1, 8, 1, 65537) == 0);
	n = qlb_config_load(y, &cfg, stderr);
	CHECK(n == 0, "64 services x 65537 Maglev entries: %d", n);
	qlb_config_free(&cfg);

	CHECK(write_big_lb(y, QLB_MAX_SERVICES, 1, 8, 1, 65539) == 0);
	n = qlb_config_load_diag(y, &cfg, NULL, &d);
	CHECK(n == 1 && d.v[0].line == 8 &&
		      strstr(d.v[0].msg, "lb.maglev_table_size: 64 services x "
					 "65539 entries is more than the "
					 "4194368"),
	      "64 x 65539 Maglev entries: %d %s", n, n ? d.v[0].msg : "");
	qlb_diags_free(&d);
	unlink(y);
	rmdir(dir);
}

static void check_hardening(void)
{
	char dir[] = "/tmp/qlb-test-config-XXXXXX";

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	check_fifo(dir);
	check_hash_secret(dir);
	check_key_owner(dir);
	CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

int main(void)
{
	const char *dir = getenv(DIR_ENV) ? getenv(DIR_ENV) : "tests/config";

	check_bad_files(dir);
	check_good(dir);
	check_key_files();
	check_hardening();
	check_services(dir);
	check_limits();
	return t_done("test_config");
}
