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

#define DEFAULT_FILE "/etc/qlb/qlb.yaml"
#define MAX_EDITS    8

struct edit {
	size_t start, end; /* replace text[start, end) */
	char text[512];
};

struct doc {
	const char *path;
	char *text;
	size_t len;
	struct stat st;
	struct qlb_config cfg;
	bool loaded;
	bool crlf;   /* the file ends its lines with CR LF */
	int lock_fd; /* the file, flock()ed while we edit it */
	struct edit edits[MAX_EDITS];
	int nedits;
};

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

/* ---- reading and writing the file ------------------------------------ */

static int doc_read(struct doc *d)
{
	struct stat st2;
	ssize_t r;
	size_t got = 0;
	int fd, n, tries;

	/* one rotate at a time: a run that waited for the lock finds the file
	 * replaced by the one before it and starts over on the new file */
	for (tries = 0;; tries++) {
		fd = open(d->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			qlb_err("cannot open %s: %s", d->path, strerror(errno));
			return -1;
		}
		d->lock_fd = fd;
		if (flock(fd, LOCK_EX) < 0) {
			qlb_err("cannot lock %s: %s", d->path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &d->st) < 0 || !S_ISREG(d->st.st_mode)) {
			qlb_err("%s is not a regular file", d->path);
			return -1;
		}
		if (stat(d->path, &st2) == 0 && st2.st_ino == d->st.st_ino)
			break;
		close(fd);
		d->lock_fd = -1;
		if (tries == 20) {
			qlb_err("%s keeps being replaced; try again", d->path);
			return -1;
		}
	}
	d->text = malloc(d->st.st_size + 1);
	if (!d->text) {
		qlb_err("out of memory");
		return -1;
	}
	while (got < (size_t)d->st.st_size) {
		r = read(fd, d->text + got, d->st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			qlb_err("cannot read %s: %s", d->path,
				r < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		got += r;
	}
	d->text[got] = 0;
	d->len = got;
	{
		const char *nl = memchr(d->text, '\n', got);

		d->crlf = nl && nl > d->text && nl[-1] == '\r';
	}
	if (got >= 2 &&
	    ((unsigned char)d->text[0] == 0xfe ||
	     (unsigned char)d->text[0] == 0xff || !d->text[0] || !d->text[1])) {
		qlb_err("%s is not UTF-8: rotate edits UTF-8 files only",
			d->path);
		return -1;
	}
	n = qlb_config_load(d->path, &d->cfg, stderr);
	if (n) {
		qlb_err("%s has %d problem%s: fix them before rotating",
			d->path, n, n == 1 ? "" : "s");
		return -1;
	}
	d->loaded = true;
	/* the marks must describe the very text we edit */
	if (stat(d->path, &st2) < 0 || st2.st_ino != d->st.st_ino ||
	    st2.st_size != d->st.st_size ||
	    st2.st_mtim.tv_sec != d->st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != d->st.st_mtim.tv_nsec) {
		qlb_err("%s changed while it was read; try again", d->path);
		return -1;
	}
	return 0;
}

static void doc_free(struct doc *d)
{
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* releases the lock */
	if (d->loaded)
		qlb_config_free(&d->cfg);
	free(d->text);
}

static struct edit *add_edit(struct doc *d, size_t start, size_t end)
{
	struct edit *e;

	if (d->nedits == MAX_EDITS)
		return NULL;
	e = &d->edits[d->nedits++];
	e->start = start;
	e->end = end;
	e->text[0] = 0;
	return e;
}

static int edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x < y ? -1 : 1; /* insertions at one place keep their order */
}

/* Apply the edits (non-overlapping) into a new buffer. */
static char *apply_edits(struct doc *d, size_t *len)
{
	size_t cap = d->len + 1, pos = 0, o = 0;
	char *out;
	int i;

	for (i = 0; i < d->nedits; i++)
		cap += 2 * strlen(d->edits[i].text);
	out = malloc(cap);
	if (!out)
		return NULL;
	qsort(d->edits, d->nedits, sizeof(d->edits[0]), edit_cmp);
	for (i = 0; i < d->nedits; i++) {
		const struct edit *e = &d->edits[i];
		const char *t;

		if (e->start < pos || e->end < e->start || e->end > d->len) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		memcpy(out + o, d->text + pos, e->start - pos);
		o += e->start - pos;
		/* inserted lines end as the file's own lines do */
		for (t = e->text; *t; t++) {
			if (*t == '\n' && d->crlf)
				out[o++] = '\r';
			out[o++] = *t;
		}
		pos = e->end;
	}
	memcpy(out + o, d->text + pos, d->len - pos);
	o += d->len - pos;
	out[o] = 0;
	*len = o;
	return out;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

static void fsync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/*
 * commit() - write the edited text beside the original, validate it whole,
 * and rename it over the original. Nothing changes on any failure.
 */
static int commit(struct doc *d)
{
	char tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], *text;
	struct qlb_diags diags;
	struct qlb_config cfg;
	struct stat st2;
	size_t len;
	unsigned int i;
	int fd, n;

	text = apply_edits(d, &len);
	if (!text) {
		qlb_err("cannot edit %s: %s", d->path, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", d->path);
	snprintf(base, sizeof(base), "%s", d->path);
	/* same directory: rename stays atomic and key_file paths still resolve
	 */
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.qlbctl-XXXXXX", dirname(dir),
		     basename(base)) >= (int)sizeof(tmp)) {
		qlb_err("path too long: %s", d->path);
		free(text);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		qlb_err("cannot create a file beside %s: %s", d->path,
			strerror(errno));
		free(text);
		return -1;
	}
	if (write_all(fd, text, len) < 0 ||
	    fchmod(fd, d->st.st_mode & 07777) < 0 || fsync(fd) < 0) {
		qlb_err("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* keep the owner when we may (root editing another user's file) */
	if (fchown(fd, d->st.st_uid, d->st.st_gid) < 0 && qlb_verbose)
		qlb_warn("cannot keep the owner of %s: %s", d->path,
			 strerror(errno));
	close(fd);
	fd = -1;
	free(text);
	text = NULL;

	n = qlb_config_load_diag(tmp, &cfg, NULL, &diags);
	if (n) {
		for (i = 0; i < diags.n; i++)
			fprintf(stderr, "%s (as edited):%d:%d: %s\n", d->path,
				diags.v[i].line, diags.v[i].col,
				diags.v[i].msg);
		qlb_diags_free(&diags);
		qlb_err("the edited %s would be invalid (%d problem%s); left "
			"it unchanged",
			d->path, n, n == 1 ? "" : "s");
		goto fail;
	}
	qlb_diags_free(&diags);
	qlb_config_free(&cfg);
	if (stat(d->path, &st2) < 0 || st2.st_ino != d->st.st_ino ||
	    st2.st_mtim.tv_sec != d->st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != d->st.st_mtim.tv_nsec) {
		qlb_err("%s changed while it was edited; left it alone, try "
			"again",
			d->path);
		goto fail;
	}
	if (rename(tmp, d->path) < 0) {
		qlb_err("cannot replace %s: %s", d->path, strerror(errno));
		goto fail;
	}
	fsync_dir(d->path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(text);
	unlink(tmp);
	return -1;
}

/* ---- edits ----------------------------------------------------------- */

static bool editable(const struct doc *d, unsigned int id)
{
	if (!d->cfg.marks.configs_block || !d->cfg.marks.item_block[id]) {
		qlb_err("%s: config %u is written in flow style ({...} or "
			"[...]); rotate edits block-style lists only",
			d->path, id);
		return false;
	}
	return true;
}

/* Set key @key of config @id to @val: replace its value, or add a line. */
static int set_key(struct doc *d, unsigned int id, const char *key,
		   const struct qlb_span *span, const char *val)
{
	const struct qlb_conf_marks *mk = &d->cfg.marks;
	struct edit *e;

	if (span->end > span->start) {
		e = add_edit(d, span->start, span->end);
		if (!e)
			return -1;
		snprintf(e->text, sizeof(e->text), "%s", val);
		return 0;
	}
	e = add_edit(d, mk->item[id].end, mk->item[id].end);
	if (!e)
		return -1;
	/* the item may end the file without a newline */
	snprintf(e->text, sizeof(e->text), "%s%*s%s: %s\n",
		 mk->item[id].end && d->text[mk->item[id].end - 1] != '\n'
			 ? "\n"
			 : "",
		 mk->key_col[id], "", key, val);
	return 0;
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

static int active_id(const struct qlb_config *cfg)
{
	int i;

	for (i = 0; i < QLB_CONFIG_MAX; i++)
		if (cfg->configs[i].present &&
		    cfg->configs[i].state == QLB_CONF_ACTIVE)
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
	if (fchmod(fd, 0600) < 0 || write_all(fd, hexkey, 33) < 0 ||
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
		{"help", no_argument, NULL, 'h'},
		{0}};
	int o, want_id = -1, sid_len = -1, nonce_len = -1, wb = -1, ret = 1;
	int tmpl = -1, i, last = -1;
	bool no_key = false;
	struct doc d = {.lock_fd = -1};
	char keypath[PATH_MAX], keyname[PATH_MAX], dir[PATH_MAX], base[256];
	char hexkey[40], stamp[32], *dot;
	const struct qlb_conf_marks *mk;
	const struct qlb_conf_cid *t;
	unsigned int id;
	struct edit *e;
	time_t now = time(NULL);
	struct tm tm;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			file = optarg;
			break;
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
		case 'h':
			usage(stdout);
			return QLB_EXIT_OK;
		default:
			return bad_opt("new", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return qlb_usage_err(usage,
				     "rotate new: unexpected argument "
				     "'%s'",
				     argv[optind]);
	d.path = file;
	if (doc_read(&d) < 0)
		goto out;
	mk = &d.cfg.marks;
	/* lengths follow the active config; else the last one in the file */
	tmpl = active_id(&d.cfg);
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		if (!d.cfg.configs[i].present)
			continue;
		if (last < 0 || mk->item[i].end > mk->item[last].end)
			last = i;
	}
	if (tmpl < 0)
		tmpl = last;
	if (last < 0 || !editable(&d, last))
		goto out;
	t = &d.cfg.configs[tmpl];
	if (want_id >= 0) {
		if (d.cfg.configs[want_id].present) {
			qlb_err("config %d already exists in %s", want_id,
				file);
			goto out;
		}
		id = want_id;
	} else {
		/* walk forward from the template: the codepoint reused last is
		 * the one retired longest ago */
		for (i = 1; i <= QLB_CONFIG_MAX; i++)
			if (!d.cfg.configs[(tmpl + i) % QLB_CONFIG_MAX].present)
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
		snprintf(keyname, sizeof(keyname), "%s-cr%u-%lld.key", base, id,
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
	e = add_edit(&d, mk->item[last].end, mk->item[last].end);
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
	if (commit(&d) < 0)
		goto out;
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "file", file);
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
		printf("%s: config %u added as routable%s%s%s\n"
		       "next: distribute %s to every LB node, then to the "
		       "hosts; then\n"
		       "      qlbctl rotate promote -f %s %u\n",
		       file, id, keypath[0] ? " (key in " : " (plaintext)",
		       keypath[0] ? keypath : "", keypath[0] ? ")" : "", file,
		       file, id);
	}
	keypath[0] = 0; /* it is in use now */
	ret = 0;
out:
	if (keypath[0])
		unlink(keypath); /* the edit failed: no orphan key */
	doc_free(&d);
	return ret;
}

/* ---- promote, retire -------------------------------------------------- */

/* Return: 0, 1 after --help, or QLB_EXIT_USAGE (message given). */
static int get_id_arg(int argc, char **argv, const char **file, bool *force,
		      unsigned int *id, const char *what)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"force", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	int o;

	/* no '+': options may follow the ID ("retire -f F 2 --force") */
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			*file = optarg;
			break;
		case 'F':
			if (!force)
				return bad_opt(what, argv[optind - 1]);
			*force = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return bad_opt(what, argv[optind - 1]);
		}
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

static void done_json(const char *file, const char *action, unsigned int id,
		      int other)
{
	struct qlb_json_w w;

	jw_init(&w, stdout);
	jw_obj_open(&w, NULL);
	jw_str(&w, "file", file);
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
	struct doc d = {.lock_fd = -1};
	char now_s[32];
	unsigned int id;
	int r, prev, ret = 1;

	r = get_id_arg(argc, argv, &file, NULL, &id, "promote");
	if (r)
		return r == 1 ? QLB_EXIT_OK : r;
	d.path = file;
	if (doc_read(&d) < 0)
		goto out;
	if (!d.cfg.configs[id].present) {
		qlb_err("%s has no config %u", file, id);
		goto out;
	}
	prev = active_id(&d.cfg);
	if (prev == (int)id) {
		if (qlb_json)
			done_json(file, "promote", id, -1);
		else
			printf("%s: config %u is already active; nothing to "
			       "do\n",
			       file, id);
		ret = 0;
		goto out;
	}
	if (!editable(&d, id) || (prev >= 0 && !editable(&d, prev)))
		goto out;
	snprintf(now_s, sizeof(now_s), "%lld", (long long)time(NULL));
	if (set_key(&d, id, "state", &d.cfg.marks.state[id], "active") < 0 ||
	    set_key(&d, id, "since", &d.cfg.marks.since[id], now_s) < 0)
		goto out;
	if (prev >= 0 &&
	    (set_key(&d, prev, "state", &d.cfg.marks.state[prev], "retiring") <
		     0 ||
	     set_key(&d, prev, "since", &d.cfg.marks.since[prev], now_s) < 0))
		goto out;
	if (commit(&d) < 0)
		goto out;
	if (qlb_json) {
		done_json(file, "promote", id, prev);
	} else {
		printf("%s: config %u is active", file, id);
		if (prev >= 0)
			printf("; config %d retiring (routable for %u s more)",
			       prev, d.cfg.configs[prev].drain_time);
		printf("\nnext: distribute %s; servers mint under config %u "
		       "from then on\n",
		       file, id);
	}
	ret = 0;
out:
	doc_free(&d);
	return ret;
}

static int cmd_retire(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	const struct qlb_conf_cid *q;
	struct doc d = {.lock_fd = -1};
	bool force = false;
	unsigned int id;
	long long left;
	struct edit *e;
	char age[32];
	int r, ret = 1;

	r = get_id_arg(argc, argv, &file, &force, &id, "retire");
	if (r)
		return r == 1 ? QLB_EXIT_OK : r;
	d.path = file;
	if (doc_read(&d) < 0)
		goto out;
	q = &d.cfg.configs[id];
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
	if (!editable(&d, id))
		goto out;
	e = add_edit(&d, d.cfg.marks.item[id].start, d.cfg.marks.item[id].end);
	if (!e)
		goto out;
	if (commit(&d) < 0)
		goto out;
	if (qlb_json) {
		done_json(file, "retire", id, -1);
	} else {
		printf("%s: config %u removed; its codepoint is free again\n",
		       file, id);
		if (q->key_file[0])
			printf("its key file %s is no longer named; remove it "
			       "once every node has the new file\n",
			       q->key_file);
	}
	ret = 0;
out:
	doc_free(&d);
	return ret;
}

/* ---- status ----------------------------------------------------------- */

static int cmd_status(int argc, char **argv)
{
	const char *file = DEFAULT_FILE;
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	struct qlb_config cfg;
	struct qlb_json_w w;
	long long now = time(NULL);
	int o, i;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			return QLB_EXIT_OK;
		default:
			return bad_opt("status", argv[optind - 1]);
		}
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
	if (qlb_json) {
		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "file", file);
		jw_arr_open(&w, "configs");
	} else {
		printf("%-3s %-9s %-9s %-10s %-10s %-7s %s\n", "ID", "STATE",
		       "AGE", "RETIRABLE", "LENGTHS", "WORKER", "KEY");
	}
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		const struct qlb_conf_cid *q = &cfg.configs[i];
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
