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

/* Value of the one-entry "config" array. */
struct xdptcp_config {
	__be32 ipv4;   /* the stack's address; frames to others pass to the kernel */
	__u32 enabled; /* 0 until user space has filled every map */
};

/* Per-queue counters ("stats", a per-CPU array indexed by RX queue). */
struct xdptcp_queue_stats {
	__u64 steered; /* frames redirected to the AF_XDP socket */
	__u64 passed;  /* frames handed to the kernel */
};

#endif
