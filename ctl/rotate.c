// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl rotate: QUIC-LB config and key rotation by editing the fleet YAML.
 *
 *   new      add a config under a free codepoint with a fresh key (key file
 *            0600 beside the YAML), state routable: LBs learn it first
 *   promote  make a config active (servers mint under it); the previously
 *            active one turns retiring (still routed) from now on
 *   retire   drop a retiring config once its drain time has passed
 *   status   each config's state, age and key source (never the key)
 *
 * libyaml cannot write a document back with its comments, so the text is
 * edited surgically at the byte spans the parser recorded (ctl/config.h,
 * struct qlb_conf_marks). The result is validated as a whole before it
 * atomically replaces the original; any failure leaves the file untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common.h"
#include "config.h"
#include "rotate_edit.h"

#define DEFAULT_FILE "/etc/qlb/qlb.yaml"
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: qlbctl [-j] rotate COMMAND -f FILE ...\n\n"
		"QUIC-LB config and key rotation: each step edits FILE in "
		"place\n"
		"(comments kept), validates the result and replaces FILE "
		"atomically.\n\n"
		"  new -f FILE [--id N] [--server-id-len N] [--nonce-len N]\n"
		"              [--worker-bits N] [--no-key]\n"
		"        add a config under a free codepoint as routable, with "
		"a fresh\n"
		"        random key in a mode 0600 key file beside FILE (never "
		"printed);\n"
		"        lengths and worker bits follow the active config\n"
		"  promote -f FILE ID\n"
		"        make config ID active; the active one becomes "
		"retiring\n"
		"  retire -f FILE ID [--force]\n"
		"        remove retiring config ID once since + drain_time has "
		"passed\n"
		"  status [-f FILE]\n"
		"        state, age and key source of every config (FILE "
		"defaults to\n"
		"        " DEFAULT_FILE ")\n\n"
		"Every command takes --service NAME to rotate the own quic_lb "
		"block of\n"
		"that service instead of the top-level one (key files then "
		"named\n"
		"BASENAME-NAME-crID-TIME.key); other services stay "
		"untouched.\n\n"
		"Order across a fleet: new -> distribute to LB nodes, then "
		"hosts ->\n"
		"promote -> distribute -> wait drain_time -> retire -> "
		"distribute.\n");
}

/* getopt's complaint, through qlb_err so that -j gets JSON. */
static int bad_opt(const char *sub, const char *arg)
{
	return qlb_usage_err(usage,
			     "rotate %s: unknown option or missing value: "
			     "'%s'",
			     sub, arg);
}

/*
 * common_opt() - handle @o, one of the options every subcommand takes
 * (-f, --service, --help). Return: -1 when parsing goes on, else the exit
 * code: QLB_EXIT_OK after --help, QLB_EXIT_USAGE (message given) for an
 * unknown option or a missing value.
 */
static int common_opt(int o, const char *sub, char **argv, const char **file,
		      const char **service)
{
	switch (o) {
	case 'f':
		*file = optarg;
		return -1;
	case 'S':
		*service = optarg;
		return -1;
	case 'h':
		usage(stdout);
		return QLB_EXIT_OK;
	}
	return bad_opt(sub, argv[optind - 1]);
}

/* A duration for people: 42s, 5m3s, 2h10m, 3d4h. */
static void fmt_dur(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

static int parse_num(const char *opt, const char *s, int *out)
{
	uint32_t v;

	if (qlb_parse_u32(opt, s, 0, 255, &v))
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_id(const char *s, unsigned int *id)
{
	return qlb_parse_u32("config ID", s, 0, QLB_CONFIG_MAX - 1, id);
}

static int active_id(const struct qlb_conf_cid *configs)
{
	int i;

	for (i = 0; i < QLB_CONFIG_MAX; i++)
		if (configs[i].present && configs[i].state == QLB_CONF_ACTIVE)
			return i;
	return -1;
}

/* ---- new ------------------------------------------------------------- */

static int write_key_file(const char *path, char *hexkey)
{
	uint8_t key[16];
	ssize_t r;
	int fd;

	r = getrandom(key, sizeof(key), 0);
	if (r != sizeof(key)) {
		qlb_err("cannot get random bytes for a key: %s",
			r < 0 ? strerror(errno) : "short read");
		return -1;
	}
	qlb_hex(key, sizeof(key), hexkey);
	explicit_bzero(key, sizeof(key));
	strcat(hexkey, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		qlb_err("cannot create key file %s: %s", path, strerror(errno));
		goto fail;
	}
	/* the umask may only have narrowed it; make it exactly 0600 */
	if (fchmod(fd, 0600) < 0 || qlb_doc_write_all(fd, hexkey, 33) < 0 ||
	    fsync(fd) < 0) {
		qlb_err("cannot write key file %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto fail;
	}
	close(fd);
	explicit_bzero(hexkey, 34);
	return 0;
fail:
	explicit_bzero(hexkey, 34);
	return -1;
}

static int cmd_new(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"id", required_argument, NULL, 'i'},
		{"server-id-len", required_argument, NULL, 's'},
		{"nonce-len", required_argument, NULL, 'n'},
		{"worker-bits", required_argument, NULL, 'w'},
		{"no-key", no_argument, NULL, 'k'},
		{"service", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	int o, want_id = -1, sid_len = -1, nonce_len = -1, wb = -1, ret = 1, rc;
	int tmpl = -1, i, last = -1;
	bool no_key = false;
	struct qlb_doc d = {.lock_fd = -1};
	char keypath[PATH_MAX], keyname[PATH_MAX], dir[PATH_MAX], base[256];
	char hexkey[40], stamp[32], *dot;
	const struct qlb_conf_marks *mk;
	const struct qlb_conf_cid *t;
	unsigned int id;
	struct qlb_edit *e;
	time_t now = time(NULL);
	struct tm tm;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			if (parse_id(optarg, &id) < 0)
				return QLB_EXIT_USAGE;
			want_id = (int)id;
			break;
		case 's':
			if (parse_num("--server-id-len", optarg, &sid_len) < 0)
				return QLB_EXIT_USAGE;
			break;
		case 'n':
			if (parse_num("--nonce-len", optarg, &nonce_len) < 0)
				return QLB_EXIT_USAGE;
			break;
		case 'w':
			if (parse_num("--worker-bits", optarg, &wb) < 0)
				return QLB_EXIT_USAGE;
			break;
		case 'k':
			no_key = true;
			break;
		default:
			rc = common_opt(o, "new", argv, &file, &d.service);
			if (rc >= 0)
				return rc;
		}
	}
	if (optind < argc)
		return qlb_usage_err(usage,
				     "rotate new: unexpected argument "
				     "'%s'",
				     argv[optind]);
	d.path = file;
	if (qlb_doc_read(&d) < 0)
		goto out;
	mk = d.marks;
	/* lengths follow the active config; else the last one in the file */
	tmpl = active_id(d.configs);
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		if (!d.configs[i].present)
			continue;
		if (last < 0 || mk->item[i].end > mk->item[last].end)
			last = i;
	}
	if (tmpl < 0)
		tmpl = last;
	if (last < 0 || !qlb_doc_editable(&d, last))
		goto out;
	t = &d.configs[tmpl];
	if (want_id >= 0) {
		if (d.configs[want_id].present) {
			qlb_err("config %d already exists in %s", want_id,
				file);
			goto out;
		}
		id = want_id;
	} else {
		/* walk forward from the template: the codepoint reused last is
		 * the one retired longest ago */
		for (i = 1; i <= QLB_CONFIG_MAX; i++)
			if (!d.configs[(tmpl + i) % QLB_CONFIG_MAX].present)
				break;
		if (i > QLB_CONFIG_MAX) {
			qlb_err("no free codepoint in %s: all %d are in use; "
				"retire one first",
				file, QLB_CONFIG_MAX);
			goto out;
		}
		id = (tmpl + i) % QLB_CONFIG_MAX;
	}

	keypath[0] = keyname[0] = 0;
	if (!no_key) {
		snprintf(dir, sizeof(dir), "%s", file);
		snprintf(base, sizeof(base), "%s", basename(dir));
		dot = strrchr(base, '.');
		if (dot && dot != base)
			*dot = 0;
		snprintf(dir, sizeof(dir), "%s", file);
		/* a service's keys apart from the others' (the names of
		 * services hold no '/') */
		snprintf(keyname, sizeof(keyname), "%s%s%s-cr%u-%lld.key", base,
			 d.service ? "-" : "", d.service ? d.service : "", id,
			 (long long)now);
		if (snprintf(keypath, sizeof(keypath), "%s/%s", dirname(dir),
			     keyname) >= (int)sizeof(keypath)) {
			qlb_err("path too long: %s", file);
			goto out;
		}
		if (write_key_file(keypath, hexkey) < 0) {
			keypath[0] = 0;
			goto out;
		}
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	e = qlb_doc_add_edit(&d, mk->item[last].end, mk->item[last].end);
	{
		int dc = mk->dash_col[last], kc = mk->key_col[last];
		const char *nl =
			mk->item[last].end &&
					d.text[mk->item[last].end - 1] != '\n'
				? "\n"
				: "";
		char keyline[PATH_MAX + 64] = "";

		if (!no_key)
			snprintf(keyline, sizeof(keyline),
				 "%*skey_file: %s   # mode 0600, never "
				 "printed\n",
				 kc, "", keyname);
		snprintf(e->text, sizeof(e->text),
			 "%s%*s-%*sid: %u%*s# added by qlbctl rotate new, %s\n"
			 "%*sserver_id_len: %d\n"
			 "%*snonce_len: %d\n"
			 "%*sworker_bits: %d\n"
			 "%s"
			 "%*sencode_length: %s\n"
			 "%*sstate: routable\n"
			 "%*ssince: %lld\n",
			 nl, dc, "", kc - dc - 1, "", id, 8, "", stamp, kc, "",
			 sid_len >= 0 ? sid_len : (int)t->sid_len, kc, "",
			 nonce_len >= 0 ? nonce_len : (int)t->nonce_len, kc, "",
			 wb >= 0 ? wb : (int)t->worker_bits, keyline, kc, "",
			 t->encode_length ? "true" : "false", kc, "", kc, "",
			 (long long)now);
		if (t->drain_time != QLB_DEFAULT_DRAIN_TIME)
			snprintf(e->text + strlen(e->text),
				 sizeof(e->text) - strlen(e->text),
				 "%*sdrain_time: %u\n", kc, "", t->drain_time);
	}
	if (qlb_doc_commit(&d) < 0)
		goto out;
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "file", file);
		if (d.service)
			jw_str(&w, "service", d.service);
		jw_str(&w, "action", "new");
		jw_uint(&w, "id", id);
		jw_str(&w, "state", "routable");
		if (keypath[0])
			jw_str(&w, "key_file", keypath);
		else
			jw_null(&w, "key_file");
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("%s%s%s: config %u added as routable%s%s%s\n"
		       "next: distribute %s to every LB node, then to the "
		       "hosts; then\n"
		       "      qlbctl rotate promote -f %s%s%s %u\n",
		       file, d.service ? ": service " : "",
		       d.service ? d.service : "", id,
		       keypath[0] ? " (key in " : " (plaintext)",
		       keypath[0] ? keypath : "", keypath[0] ? ")" : "", file,
		       file, d.service ? " --service " : "",
		       d.service ? d.service : "", id);
	}
	keypath[0] = 0; /* it is in use now */
	ret = 0;
out:
	if (keypath[0])
		unlink(keypath); /* the edit failed: no orphan key */
	qlb_doc_free(&d);
	return ret;
}

/* ---- promote, retire -------------------------------------------------- */

/* Return: 0, 1 after --help, or QLB_EXIT_USAGE (message given). */
static int get_id_arg(int argc, char **argv, const char **file,
		      const char **service, bool *force, unsigned int *id,
		      const char *what)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"service", required_argument, NULL, 'S'},
		{"force", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	int o, rc;

	/* no '+': options may follow the ID ("retire -f F 2 --force") */
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		if (o == 'F' && force) {
			*force = true;
			continue;
		}
		rc = common_opt(o, what, argv, file, service);
		if (rc >= 0)
			return rc == QLB_EXIT_OK ? 1 : rc;
	}
	if (optind + 1 != argc)
		return qlb_usage_err(usage,
				     "rotate %s: exactly one config ID is "
				     "needed",
				     what);
	if (parse_id(argv[optind], id) < 0) {
		if (!qlb_json)
			usage(stderr);
		return QLB_EXIT_USAGE;
	}
	return 0;
}

static void done_json(const char *file, const char *service, const char *action,
		      unsigned int id, int other)
{
	struct qlb_json_w w;

	jw_init(&w, stdout);
	jw_obj_open(&w, NULL);
	jw_str(&w, "file", file);
	if (service)
		jw_str(&w, "service", service);
	jw_str(&w, "action", action);
	jw_uint(&w, "id", id);
	if (!strcmp(action, "promote")) {
		if (other >= 0)
			jw_int(&w, "retiring", other);
		else
			jw_null(&w, "retiring");
	}
	jw_obj_close(&w);
	jw_end(&w);
}

static int cmd_promote(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	struct qlb_doc d = {.lock_fd = -1};
	char now_s[32];
	unsigned int id;
	int r, prev, ret = 1;

	r = get_id_arg(argc, argv, &file, &d.service, NULL, &id, "promote");
	if (r)
		return r == 1 ? QLB_EXIT_OK : r;
	d.path = file;
	if (qlb_doc_read(&d) < 0)
		goto out;
	if (!d.configs[id].present) {
		qlb_err("%s has no config %u", file, id);
		goto out;
	}
	prev = active_id(d.configs);
	if (prev == (int)id) {
		if (qlb_json)
			done_json(file, d.service, "promote", id, -1);
		else
			printf("%s: config %u is already active; nothing to "
			       "do\n",
			       file, id);
		ret = 0;
		goto out;
	}
	if (!qlb_doc_editable(&d, id) ||
	    (prev >= 0 && !qlb_doc_editable(&d, prev)))
		goto out;
	snprintf(now_s, sizeof(now_s), "%lld", (long long)time(NULL));
	if (qlb_doc_set_key(&d, id, "state", &d.marks->state[id], "active") <
		    0 ||
	    qlb_doc_set_key(&d, id, "since", &d.marks->since[id], now_s) < 0)
		goto out;
	if (prev >= 0 &&
	    (qlb_doc_set_key(&d, prev, "state", &d.marks->state[prev],
			     "retiring") < 0 ||
	     qlb_doc_set_key(&d, prev, "since", &d.marks->since[prev], now_s) <
		     0))
		goto out;
	if (qlb_doc_commit(&d) < 0)
		goto out;
	if (qlb_json) {
		done_json(file, d.service, "promote", id, prev);
	} else {
		printf("%s%s%s: config %u is active", file,
		       d.service ? ": service " : "",
		       d.service ? d.service : "", id);
		if (prev >= 0)
			printf("; config %d retiring (routable for %u s more)",
			       prev, d.configs[prev].drain_time);
		printf("\nnext: distribute %s; servers mint under config %u "
		       "from then on\n",
		       file, id);
	}
	ret = 0;
out:
	qlb_doc_free(&d);
	return ret;
}

static int cmd_retire(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	const struct qlb_conf_cid *q;
	struct qlb_doc d = {.lock_fd = -1};
	bool force = false;
	unsigned int id;
	long long left;
	struct qlb_edit *e;
	char age[32];
	int r, ret = 1;

	r = get_id_arg(argc, argv, &file, &d.service, &force, &id, "retire");
	if (r)
		return r == 1 ? QLB_EXIT_OK : r;
	d.path = file;
	if (qlb_doc_read(&d) < 0)
		goto out;
	q = &d.configs[id];
	if (!q->present) {
		qlb_err("%s has no config %u", file, id);
		goto out;
	}
	if (q->state != QLB_CONF_RETIRING) {
		qlb_err("config %u is %s, not retiring: promote another config "
			"first",
			id, qlb_conf_state_name(q->state));
		goto out;
	}
	if (!q->since && !force) {
		qlb_err("config %u has no since: time, so its drain cannot be "
			"timed; use --force once its connections are gone",
			id);
		goto out;
	}
	left = q->since + (long long)q->drain_time - (long long)time(NULL);
	if (q->since && left > 0 && !force) {
		fmt_dur(left, age, sizeof(age));
		qlb_err("config %u is still draining: its drain_time of %u s "
			"ends in %s; refusing (--force to retire now)",
			id, q->drain_time, age);
		goto out;
	}
	if (!qlb_doc_editable(&d, id))
		goto out;
	e = qlb_doc_add_edit(&d, d.marks->item[id].start,
			     d.marks->item[id].end);
	if (!e)
		goto out;
	if (qlb_doc_commit(&d) < 0)
		goto out;
	if (qlb_json) {
		done_json(file, d.service, "retire", id, -1);
	} else {
		printf("%s%s%s: config %u removed; its codepoint is free "
		       "again\n",
		       file, d.service ? ": service " : "",
		       d.service ? d.service : "", id);
		if (q->key_file[0])
			printf("its key file %s is no longer named; remove it "
			       "once every node has the new file\n",
			       q->key_file);
	}
	ret = 0;
out:
	qlb_doc_free(&d);
	return ret;
}

/* ---- status ----------------------------------------------------------- */

static int cmd_status(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"service", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	const struct qlb_conf_cid *configs;
	const struct qlb_conf_marks *marks;
	const char *service = NULL;
	struct qlb_config cfg;
	struct qlb_json_w w;
	long long now = time(NULL);
	int o, i;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		int rc = common_opt(o, "status", argv, &file, &service);

		if (rc >= 0)
			return rc;
	}
	if (optind < argc)
		return qlb_usage_err(usage,
				     "rotate status: unexpected "
				     "argument '%s'",
				     argv[optind]);
	if (qlb_config_load(file, &cfg, stderr)) {
		qlb_err("%s is not valid", file);
		return QLB_EXIT_ERR;
	}
	if (qlb_doc_block(&cfg, file, service, &configs, &marks)) {
		qlb_config_free(&cfg);
		return QLB_EXIT_ERR;
	}
	if (qlb_json) {
		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "file", file);
		if (service)
			jw_str(&w, "service", service);
		jw_arr_open(&w, "configs");
	} else {
		printf("%-3s %-9s %-9s %-10s %-10s %-7s %s\n", "ID", "STATE",
		       "AGE", "RETIRABLE", "LENGTHS", "WORKER", "KEY");
	}
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		const struct qlb_conf_cid *q = &configs[i];
		long long left = q->since + (long long)q->drain_time - now;
		char age[32] = "-", ret[32] = "-", lens[16];

		if (!q->present)
			continue;
		if (q->since)
			fmt_dur(now - q->since, age, sizeof(age));
		if (q->state == QLB_CONF_RETIRING) {
			if (!q->since)
				snprintf(ret, sizeof(ret), "unknown");
			else if (left <= 0)
				snprintf(ret, sizeof(ret), "now");
			else {
				memcpy(ret, "in ", 3);
				fmt_dur(left, ret + 3, sizeof(ret) - 3);
			}
		}
		if (qlb_json) {
			jw_obj_open(&w, NULL);
			jw_uint(&w, "id", i);
			jw_str(&w, "state", qlb_conf_state_name(q->state));
			if (q->since) {
				jw_int(&w, "since", q->since);
				jw_int(&w, "age", now - q->since);
			} else {
				jw_null(&w, "since");
				jw_null(&w, "age");
			}
			jw_uint(&w, "drain_time", q->drain_time);
			if (q->state == QLB_CONF_RETIRING && q->since)
				jw_int(&w, "retirable_in", left > 0 ? left : 0);
			jw_uint(&w, "server_id_len", q->sid_len);
			jw_uint(&w, "nonce_len", q->nonce_len);
			jw_uint(&w, "worker_bits", q->worker_bits);
			jw_bool(&w, "encode_length", q->encode_length);
			jw_str(&w, "key",
			       q->key_file[0] ? "file"
			       : q->has_key   ? "inline"
					      : "none");
			if (q->key_file[0])
				jw_str(&w, "key_file", q->key_file);
			jw_obj_close(&w);
		} else {
			snprintf(lens, sizeof(lens), "%u+%u", q->sid_len,
				 q->nonce_len);
			printf("%-3d %-9s %-9s %-10s %-10s %-7u %s%s\n", i,
			       qlb_conf_state_name(q->state), age, ret, lens,
			       q->worker_bits,
			       q->key_file[0] ? "file "
			       : q->has_key   ? "inline"
					      : "none (plaintext)",
			       q->key_file);
		}
	}
	if (qlb_json) {
		jw_arr_close(&w);
		jw_obj_close(&w);
		jw_end(&w);
	}
	qlb_config_free(&cfg);
	return QLB_EXIT_OK;
}

int cmd_rotate(int argc, char **argv)
{
	static const struct qlb_cmd subs[] = {
		{"new", cmd_new, "add a routable config with a fresh key"},
		{"promote", cmd_promote, "make a config active"},
		{"retire", cmd_retire, "remove a drained retiring config"},
		{"status", cmd_status, "state, age and key source per config"},
	};

	return qlb_cmd_select(subs, QLB_ARRAY_SIZE(subs), argc - 1, argv + 1,
			      "rotate command", usage);
}
