/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) over a short
 * byte string, the same function the stack's SYN cookies and timestamp offsets use (the
 * `siphasher` crate's SipHasher24 with a 16-byte key, bytes written as one stream). Every loop
 * has a bound known at compile time, as the BPF verifier wants.
 */
#ifndef XDPTCP_SIPHASH_H
#define XDPTCP_SIPHASH_H

#include <linux/types.h>

/* Longest message hashed here (the cookie's: tag, 4-tuple, ISN and period are 33 bytes). */
#define XDPTCP_SIPHASH_MAX 40

#define XDPTCP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define XDPTCP_SIPROUND(v0, v1, v2, v3)                                                       \
	do {                                                                                   \
		v0 += v1;                                                                      \
		v1 = XDPTCP_ROTL(v1, 13);                                                      \
		v1 ^= v0;                                                                      \
		v0 = XDPTCP_ROTL(v0, 32);                                                      \
		v2 += v3;                                                                      \
		v3 = XDPTCP_ROTL(v3, 16);                                                      \
		v3 ^= v2;                                                                      \
		v0 += v3;                                                                      \
		v3 = XDPTCP_ROTL(v3, 21);                                                      \
		v3 ^= v0;                                                                      \
		v2 += v1;                                                                      \
		v1 = XDPTCP_ROTL(v1, 17);                                                      \
		v1 ^= v2;                                                                      \
		v2 = XDPTCP_ROTL(v2, 32);                                                      \
	} while (0)

/* The little-endian 64-bit word at msg[at..at+8]. */
static __always_inline __u64 xdptcp_le64(const __u8 *msg, int at)
{
	__u64 w = 0;
#pragma unroll
	for (int i = 7; i >= 0; i--)
		w = (w << 8) | msg[at + i];
	return w;
}

/* SipHash-2-4 of msg[0..LEN) under the key (k0, k1): the key's two little-endian halves. LEN
 * must be a compile-time constant no larger than XDPTCP_SIPHASH_MAX. */
static __always_inline __u64 xdptcp_siphash(__u64 k0, __u64 k1, const __u8 *msg, const int len)
{
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = k1 ^ 0x7465646279746573ULL;
	const int whole = len & ~7;

#pragma unroll
	for (int at = 0; at < XDPTCP_SIPHASH_MAX; at += 8) {
		if (at < whole) {
			__u64 m = xdptcp_le64(msg, at);
			v3 ^= m;
			XDPTCP_SIPROUND(v0, v1, v2, v3);
			XDPTCP_SIPROUND(v0, v1, v2, v3);
			v0 ^= m;
		}
	}
	/* The last block: the remaining bytes, and the length in the top byte. */
	__u64 b = (__u64)(len & 0xff) << 56;
#pragma unroll
	for (int i = 0; i < 7; i++) {
		if (whole + i < len)
			b |= (__u64)msg[whole + i] << (8 * i);
	}
	v3 ^= b;
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	XDPTCP_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
