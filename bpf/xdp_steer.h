/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between the XDP program (xdp_steer.c) and user space (src/xdp/program.rs, which
 * mirrors these constants and structs): map names, sizes and value layouts. Change both
 * sides together.
 */
#ifndef XDPTCP_XDP_STEER_H
#define XDPTCP_XDP_STEER_H

#include <linux/types.h>

/* Most RX queues one interface can have sockets on (size of the XSKMAP). */
#define XDPTCP_MAX_QUEUES 64

/* Bits of xdptcp_config.cookie_flags: the TCP options the stack's configuration allows. */
#define XDPTCP_COOKIE_TIMESTAMPS 0x1
#define XDPTCP_COOKIE_SACK 0x2
#define XDPTCP_COOKIE_WINDOW_SCALING 0x4

/* Most addresses in "addresses" (the stack's own besides xdptcp_config.ipv4). */
#define XDPTCP_MAX_ADDRESSES 1024

/* Value of the one-entry "config" array. */
struct xdptcp_config {
	__be32 ipv4;   /* the stack's address; frames to others pass to the kernel */
	__u32 enabled; /* 0 until user space has filled every map */
	__u32 more_addresses; /* 1 when "addresses" holds further addresses of the stack */
	__u32 reserved0;
	/* What a cookie SYN,ACK needs (syn_cookie.h), as the stack would send it: */
	__u64 key0;         /* the stack's ISN secret, bytes 0..8 as a little-endian word */
	__u64 key1;         /* bytes 8..16 */
	__u16 mss;          /* our MSS option */
	__u16 window;       /* the SYN,ACK's window (a SYN's window is never scaled) */
	__u8 window_shift;  /* our window scale shift, offered when the peer offered one */
	__u8 cookie_flags;  /* XDPTCP_COOKIE_* */
	__u8 ttl;           /* of the SYN,ACK */
	__u8 reserved;
};

/* Key of the "cookie_ports" hash: a listening port whose worker (the one on this RX queue)
 * wants every SYN to it answered here with a SYN cookie. */
struct xdptcp_cookie_port {
	__u32 queue;
	__u32 port;
};

/* Most (queue, port) pairs in "cookie_ports". */
#define XDPTCP_MAX_COOKIE_PORTS 4096

/* Per-queue counters ("stats", a per-CPU array indexed by RX queue). */
struct xdptcp_queue_stats {
	__u64 steered;        /* frames redirected to the AF_XDP socket */
	__u64 passed;         /* frames handed to the kernel */
	__u64 cookies_sent;   /* SYNs answered here with a cookie SYN,ACK (XDP_TX) */
	__u64 cookie_skipped; /* SYNs to a cookie port steered to the socket instead: options
			       * malformed, or no room to build the answer in the frame */
	__u64 icmp_steered;   /* of "steered": ICMP errors about the stack's TCP segments */
	__u64 no_socket;      /* of "steered": the queue's XSKMAP slot held no socket, so the
			       * frame went to the kernel instead */
};

#endif
