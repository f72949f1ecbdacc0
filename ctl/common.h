/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* What every qlbctl command shares: global flags, errors, JSON output. */
#ifndef QLB_CTL_COMMON_H
#define QLB_CTL_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every command. */
#define QLB_EXIT_OK    0
#define QLB_EXIT_ERR   1
#define QLB_EXIT_USAGE 2

extern bool qlb_json;	/* -j: every output is JSON */
extern bool qlb_pretty; /* -p: pretty JSON */
extern int qlb_verbose; /* -v: libbpf's log and more detail */

/*
 * qlb_err() - report an error. Plain: "qlbctl: MESSAGE" on stderr.
 * With -j: {"error":"MESSAGE"} on stdout, so scripts parse one stream.
 */
void qlb_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "qlbctl: MESSAGE" to stderr in every mode (usage, warnings). */
void qlb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * qlb_vlog() - one line of a daemon's log on @f: the UTC wall-clock time
 * formatted by strftime @datefmt, ".mmm", @tag, the message and a newline.
 */
void qlb_vlog(FILE *f, const char *datefmt, const char *tag, const char *fmt,
	      va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * qlb_catch_stop() - make SIGINT and SIGTERM set qlb_stop_requested, for
 * the commands that run until stopped (`lb stats --watch`, `metrics
 * --listen`). No SA_RESTART: a blocked accept() or sleep returns and the
 * loop sees the flag.
 */
extern volatile sig_atomic_t qlb_stop_requested;
void qlb_catch_stop(void);

/*
 * qlb_signalfd() - for a daemon's poll loop: block SIGHUP, SIGTERM and
 * SIGINT, ignore SIGPIPE. Return: a signalfd for the three (non-blocking,
 * close-on-exec), or -1 with errno set.
 */
int qlb_signalfd(void);

/* The value of hex digit @c (either case), or -1. */
int qlb_hexval(int c);
/* Parse hex (even length, no prefix) into @out, at most @max bytes.
 * Return: bytes written, or -1 when malformed or too long. */
int qlb_parse_hex(const char *s, uint8_t *out, size_t max);

/* Lower-case hex of @len bytes into @buf (2*len+1 bytes). */
char *qlb_hex(const uint8_t *b, size_t len, char *buf);

/* Minimal JSON writer: one object or array at a time on a FILE. */
struct qlb_json_w {
	FILE *f;
	int depth;
	bool first[16];
	bool pretty;
};

void jw_init(struct qlb_json_w *w, FILE *f);
void jw_obj_open(struct qlb_json_w *w,
		 const char *key); /* key NULL in arrays/top */
void jw_obj_close(struct qlb_json_w *w);
void jw_arr_open(struct qlb_json_w *w, const char *key);
void jw_arr_close(struct qlb_json_w *w);
void jw_str(struct qlb_json_w *w, const char *key,
	    const char *val); /* val NULL = null */
void jw_int(struct qlb_json_w *w, const char *key, long long val);
void jw_uint(struct qlb_json_w *w, const char *key, unsigned long long val);
void jw_bool(struct qlb_json_w *w, const char *key, bool val);
void jw_null(struct qlb_json_w *w, const char *key);
void jw_double(struct qlb_json_w *w, const char *key, double val);
/* Ends the top-level value with a newline. */
void jw_end(struct qlb_json_w *w);

/*
 * The CLI skeleton every command uses (as bpftool's cmd_select): one table
 * of subcommands, matched by unique prefix, one numeric parser with
 * ranges, and usage errors that honour -j.
 */
struct qlb_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand */
	const char *help;		  /* one line for the usage text */
};

/* qlb_is_prefix() - @pfx is a non-empty prefix of @word. */
bool qlb_is_prefix(const char *pfx, const char *word);

/*
 * qlb_cmd_select() - run the entry of @cmds (@n entries) that @argv[0]
 * names exactly or by unique prefix. "help", "-h" and "--help" print
 * @usage to stdout. @what names the level in messages ("command",
 * "lb command").
 * Return: the entry's exit code; QLB_EXIT_USAGE, with a message through
 * qlb_usage_err(), when argv[0] is missing, unknown or ambiguous.
 */
int qlb_cmd_select(const struct qlb_cmd *cmds, size_t n, int argc, char **argv,
		   const char *what, void (*usage)(FILE *f));
#define QLB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* qlb_cmd_list() - "  name      help" lines of @cmds for a usage text. */
void qlb_cmd_list(FILE *f, const struct qlb_cmd *cmds, size_t n);

/*
 * qlb_usage_err() - a usage error: the message through qlb_err() (JSON
 * under -j), then, in plain mode, @usage (if not NULL) on stderr.
 * Return: QLB_EXIT_USAGE, so callers can `return qlb_usage_err(...)`.
 */
int qlb_usage_err(void (*usage)(FILE *f), const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * qlb_parse_u64() / qlb_parse_u32() / qlb_parse_double() - parse @s as a
 * number within [@min, @max] for option @opt. Decimal, or hex with 0x
 * (integers; "0x" alone is malformed). Errors go through qlb_err() naming
 * @opt and the range.
 * Return: 0, or -1 on malformed input or out of range.
 */
int qlb_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		  uint64_t *out);
int qlb_parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max,
		  uint32_t *out);
int qlb_parse_double(const char *opt, const char *s, double min, double max,
		     double *out);

/* Command entry points: argv[0] is the command's own name. */
int cmd_cid(int argc, char **argv);	 /* ctl/cmd_cid.c */
int cmd_validate(int argc, char **argv); /* ctl/cmd_validate.c */
int cmd_lb(int argc, char **argv);	 /* ctl/lb.c */
int cmd_trace(int argc, char **argv);	 /* ctl/trace.c */
int cmd_agent(int argc, char **argv);	 /* ctl/agent.c */
int cmd_rotate(int argc, char **argv);	 /* ctl/rotate.c */

#endif /* QLB_CTL_COMMON_H */
