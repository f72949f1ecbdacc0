/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Lets one header compile for BPF (clang -target bpf) and for user space
 * (gcc or clang). Everything under include/qlb/ that both worlds share
 * includes this first.
 */
#ifndef QLB_COMPAT_H
#define QLB_COMPAT_H

#include <linux/types.h>

#ifdef __bpf__
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define QLB_INLINE static __always_inline
#define qlb_memcpy __builtin_memcpy
#define qlb_memset __builtin_memset
#else
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#define QLB_INLINE static inline __attribute__((unused))
#define qlb_memcpy memcpy
#define qlb_memset memset
#endif

/* Branch hints: the data path keeps its common case in one straight run of
 * code and moves the rest out of line. */
#define qlb_likely(x)	__builtin_expect(!!(x), 1)
#define qlb_unlikely(x) __builtin_expect(!!(x), 0)

#endif /* QLB_COMPAT_H */
