// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of the pcap reader behind `qlbctl trace` (ctl/pcap.c):
 * the input is the capture file, read from memory through qlb_pcap_fopen().
 *
 * Checked on every input:
 *  - no memory error or UB; records land in a buffer of exactly the size
 *    `qlbctl trace` gives (9216 bytes, on the heap so ASan sees overruns);
 *  - every record returned fits that buffer and the snap length, and the
 *    reader stops (end or error, with a message) after at most one record
 *    per 16 input bytes;
 *  - what the reader accepted, qlb_pcap_write() writes and the reader
 *    reads back identically (caplen, data, seconds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz_tmp.h"
#include "pcap.h"
#include "fz.h"

#define CAP  9216 /* ctl/trace.c FRAME_MAX */
#define KEEP 64	  /* records compared after the round trip */

static char fz_dir[64], fz_out[128];

static void fz_cleanup(void)
{
	unlink(fz_out);
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_tmpdir("/tmp/qlb-fuzz-pcap", fz_dir, sizeof(fz_dir));
	snprintf(fz_out, sizeof(fz_out), "%s/out.pcap", fz_dir);
	atexit(fz_cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qlb_pcap_reader r, r2;
	struct qlb_pcap_writer w = {0};
	struct qlb_pcap_rec rec, rec2, kept[KEEP];
	size_t off[KEEP];
	uint8_t *buf = malloc(CAP), *buf2 = malloc(CAP);
	uint8_t *copy = malloc(size + 1);
	unsigned long n = 0;
	FILE *f;
	int got;

	if (!buf || !buf2 || !copy)
		abort();
	memcpy(copy, data, size);
	/* fmemopen() refuses a zero size: one byte more, never read */
	f = fmemopen(copy, size ? size : 1, "rb");
	if (!f)
		abort();
	if (!size)
		fgetc(f);
	if (qlb_pcap_fopen(&r, f)) {
		FZ_ASSERT(r.err[0]);
		goto out_f;
	}
	FZ_ASSERT(r.snaplen && r.snaplen <= QLB_PCAP_MAX_SNAPLEN);
	FZ_ASSERT(qlb_pcap_create(&w, fz_out, QLB_PCAP_LINKTYPE_ETHERNET) == 0);
	while ((got = qlb_pcap_next(&r, buf, CAP, &rec)) == 1) {
		FZ_ASSERT(rec.caplen <= CAP && rec.caplen <= r.snaplen);
		FZ_ASSERT(r.count == n + 1);
		if (n < KEEP) {
			kept[n] = rec;
			off[n] = (size_t)ftell(f) - rec.caplen;
		}
		FZ_ASSERT(qlb_pcap_write(&w, &rec, buf, rec.caplen) == 0);
		n++;
		FZ_ASSERT(n <= size / 16);
	}
	FZ_ASSERT(got == 0 || (got == -1 && r.err[0]));
	FZ_ASSERT(qlb_pcap_finish(&w) == 0);

	/* read back what was written */
	FZ_ASSERT(qlb_pcap_open(&r2, fz_out) == 0);
	FZ_ASSERT(r2.linktype == QLB_PCAP_LINKTYPE_ETHERNET && !r2.nsec);
	for (unsigned long i = 0; i < n; i++) {
		FZ_ASSERT(qlb_pcap_next(&r2, buf2, CAP, &rec2) == 1);
		if (i >= KEEP)
			continue;
		FZ_ASSERT(rec2.caplen == kept[i].caplen &&
			  rec2.origlen == kept[i].caplen &&
			  rec2.ts_sec == kept[i].ts_sec &&
			  rec2.ts_frac == kept[i].ts_frac);
		FZ_ASSERT(!memcmp(buf2, copy + off[i], rec2.caplen));
	}
	FZ_ASSERT(qlb_pcap_next(&r2, buf2, CAP, &rec2) == 0);
	qlb_pcap_close(&r2);
out_f:
	qlb_pcap_close(&r); /* not ours: fopen'd here */
	fclose(f);
	free(buf);
	free(buf2);
	free(copy);
	return 0;
}
