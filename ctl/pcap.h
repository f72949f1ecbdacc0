/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * A small reader and writer of classic pcap files (not pcapng), enough for
 * `qlbctl trace`. The reader trusts nothing in the file: every length is
 * checked against the snap length, a hard cap and the caller's buffer.
 */
#ifndef QLB_CTL_PCAP_H
#define QLB_CTL_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QLB_PCAP_LINKTYPE_ETHERNET 1
#define QLB_PCAP_MAX_SNAPLEN	   262144 /* larger records are refused */

struct qlb_pcap_reader {
	FILE *f;
	bool own;  /* opened by qlb_pcap_open: close it */
	bool swap; /* file written on the other endianness */
	bool nsec; /* nanosecond timestamps */
	uint32_t linktype;
	uint32_t snaplen;
	unsigned long count; /* records read so far */
	char err[160];	     /* why the last call failed */
};

struct qlb_pcap_rec {
	uint32_t ts_sec;
	uint32_t ts_frac; /* micro- or nanoseconds, as in the file */
	uint32_t caplen;  /* bytes stored (and copied to the buffer) */
	uint32_t origlen; /* length on the wire */
};

/* Open @path / read from @f (not closed by qlb_pcap_close). Return: 0 or
 * -1 with r->err set (not a pcap, pcapng, truncated header, ...). */
int qlb_pcap_open(struct qlb_pcap_reader *r, const char *path);
int qlb_pcap_fopen(struct qlb_pcap_reader *r, FILE *f);

/*
 * qlb_pcap_next() - read the next record into @buf (@cap bytes).
 * Return: 1 a record, 0 clean end of file, -1 error (r->err: truncated
 * record, length beyond the snap length or @cap, read error).
 */
int qlb_pcap_next(struct qlb_pcap_reader *r, uint8_t *buf, size_t cap,
		  struct qlb_pcap_rec *rec);
void qlb_pcap_close(struct qlb_pcap_reader *r);

struct qlb_pcap_writer {
	FILE *f;
};

/* Create @path with microsecond timestamps and @linktype. Return: 0 /
 * -errno. */
int qlb_pcap_create(struct qlb_pcap_writer *w, const char *path,
		    uint32_t linktype);
int qlb_pcap_write(struct qlb_pcap_writer *w, const struct qlb_pcap_rec *rec,
		   const uint8_t *data, size_t len);
/* Return: 0 or -errno (a failed flush means the file is incomplete). */
int qlb_pcap_finish(struct qlb_pcap_writer *w);

#endif /* QLB_CTL_PCAP_H */
