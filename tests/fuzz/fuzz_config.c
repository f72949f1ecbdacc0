// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of the YAML config loader and validator
 * (qlb_config_load_diag() of ctl/config.c) on arbitrary bytes.
 *
 * config.h offers only a path-based loader, so each input is written to
 * qlb.yaml in a private temporary directory. That directory also holds
 * key files the seeds refer to: k600.key (mode 0600, valid), k644.key
 * (mode 0644: must be refused) and bad.key (0600, not hex).
 *
 * Checked on every input:
 *  - no memory error, leak or undefined behaviour (ASan, UBSan, LSan);
 *  - the return value is the number of problems handed back, each with a
 *    message and a position inside the file;
 *  - a refused file leaves the struct zeroed (config.h's contract), and no
 *    key written in it (`key: <32 hex digits>`) shows in any message
 *    (QLB_FUZZ_SKIP_KEY_ECHO=1 skips this one check, to look for other
 *    bugs while a known echo is not fixed);
 *  - an accepted file gives a struct whose invariants hold: counts within
 *    their limits, every present config builds a codec config, every host
 *    is found by name, no key file that group or others may read.
 */
#include <ctype.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz_tmp.h"
#include "config.h"
#include "fz.h"

static char fz_dir[64], fz_path[128];

static void fz_cleanup(void)
{
	static const char *const f[] = {"qlb.yaml", "k600.key", "k644.key",
					"bad.key"};
	char p[160];
	unsigned int i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, f[i]);
		unlink(p);
	}
	rmdir(fz_dir);
}

static void put(const char *name, const char *text, mode_t mode)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", fz_dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	fchmod(fd, mode);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_tmpdir("/tmp/qlb-fuzz-config", fz_dir, sizeof(fz_dir));
	snprintf(fz_path, sizeof(fz_path), "%s/qlb.yaml", fz_dir);
	put("k600.key", "8f95f09245765f80256934e50c66207f\n", 0600);
	put("k644.key", "fdf726a9893ec05c0632d3956680baf0\n", 0644);
	put("bad.key", "not a key\n", 0600);
	atexit(fz_cleanup);
	return 0;
}

static unsigned int occurrences(const uint8_t *d, size_t n, const char *hex)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i + 32 <= n; i++)
		c += !strncasecmp((const char *)d + i, hex, 32);
	return c;
}

/* Keys written inline: "key:" (or hash_secret's "secret:") then optional
 * blanks/quotes, 32 hex digits. */
static unsigned int inline_keys(const uint8_t *d, size_t n, char keys[][33],
				unsigned int max)
{
	unsigned int nk = 0;
	size_t i, j, k, l;

	for (i = 0; i + 4 <= n && nk < max; i++) {
		if (!memcmp(d + i, "key:", 4))
			l = 4;
		else if (i + 7 <= n && !memcmp(d + i, "secret:", 7))
			l = 7;
		else
			continue;
		for (j = i + l;
		     j < n && (d[j] == ' ' || d[j] == '"' || d[j] == '\''); j++)
			;
		for (k = 0; j + k < n && k < 32 && isxdigit(d[j + k]); k++)
			;
		if (k == 32) {
			memcpy(keys[nk], d + j, 32);
			keys[nk][32] = 0;
			/* written twice (say, also in a key's name): a message
			 * may quote the other place; count only lone keys */
			if (occurrences(d, n, keys[nk]) == 1)
				nk++;
		}
	}
	return nk;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qlb_config *cfg;
	struct qlb_diags d = {0};
	char keys[8][33];
	unsigned int nk, i, k, id, lines = 1;
	FILE *f;
	int n;

	f = fopen(fz_path, "w");
	if (!f || fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	/* an upper bound of YAML's line breaks: \n, \r, and NEL, LS, PS */
	for (i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r' ||
			 (data[i] == 0xc2 && i + 1 < size &&
			  data[i + 1] == 0x85) ||
			 (data[i] == 0xe2 && i + 2 < size &&
			  data[i + 1] == 0x80 &&
			  (data[i + 2] == 0xa8 || data[i + 2] == 0xa9));

	/* struct qlb_config is large (paths): keep it off the stack */
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		abort();
	memset(cfg, 0x5a, sizeof(*cfg));
	n = qlb_config_load_diag(fz_path, cfg, NULL, &d);
	FZ_ASSERT(n >= 0 && (unsigned int)n == d.n);
	FZ_ASSERT(!n || d.v);
	nk = getenv("QLB_FUZZ_SKIP_KEY_ECHO")
		     ? 0
		     : inline_keys(data, size, keys, 8);
	for (i = 0; i < d.n; i++) {
		FZ_ASSERT(d.v[i].msg);
		/* a position inside the file (libyaml may point one line past
		 * the last newline at the end of the stream) */
		FZ_ASSERT(d.v[i].line >= 0 &&
			  (unsigned int)d.v[i].line <= lines + 1);
		FZ_ASSERT(d.v[i].col >= 0);
		for (k = 0; k < nk; k++)
			FZ_ASSERT(!strcasestr(d.v[i].msg, keys[k]));
	}
	qlb_diags_free(&d);

	if (n) {
		FZ_ASSERT(all_zero(cfg, sizeof(*cfg)));
		free(cfg);
		return 0;
	}

	FZ_ASSERT(cfg->nhosts <= QLB_MAX_HOSTS);
	FZ_ASSERT(cfg->lb.nvips <= QLB_MAX_VIPS);
	FZ_ASSERT(cfg->host.nallow_uids <= QLB_MAX_ALLOW &&
		  cfg->host.nallow_gids <= QLB_MAX_ALLOW);
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &cfg->configs[id];
		struct qlb_cid_cfg cc;

		if (!c->present)
			continue;
		FZ_ASSERT(c->id == id);
		FZ_ASSERT(qlb_config_cid_cfg(cfg, id, &cc) == 0);
		FZ_ASSERT(qlb_cid_cfg_valid(&cc) && cc.id == id);
		if (c->key_file[0]) {
			struct stat st;

			/* the loader refuses keys others could read */
			FZ_ASSERT(stat(c->key_file, &st) == 0 &&
				  !(st.st_mode & 077));
		}
	}
	for (i = 0; i < cfg->nhosts; i++) {
		char buf[64];

		FZ_ASSERT(qlb_config_host(cfg, cfg->hosts[i].name) ==
			  &cfg->hosts[i]);
		FZ_ASSERT(
			qlb_addr_str(&cfg->hosts[i].address, buf, sizeof(buf)));
	}
	if (cfg->host.present)
		FZ_ASSERT(qlb_config_host(cfg, cfg->host.name));
	/* services: at least the implicit one; VIP ranges and host indices
	 * within the file's */
	FZ_ASSERT(cfg->nservices >= 1 && cfg->nservices <= QLB_MAX_SERVICES &&
		  cfg->services);
	for (i = 0; i < cfg->nservices; i++) {
		const struct qlb_conf_service *s = &cfg->services[i];

		FZ_ASSERT(s->vip_first + s->nvips <= cfg->lb.nvips);
		for (k = 0; k < s->nvips; k++)
			FZ_ASSERT(cfg->lb.vips[s->vip_first + k].service == i);
		FZ_ASSERT(s->nhosts <= cfg->nhosts);
		for (k = 0; k < s->nhosts; k++)
			FZ_ASSERT(s->hosts[k].host < cfg->nhosts);
		FZ_ASSERT(!s->implicit ||
			  (cfg->nservices == 1 && !strcmp(s->name, "default")));
	}
	qlb_config_free(cfg);
	free(cfg);
	return 0;
}
