/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A SYN answered in the XDP program with a SYN cookie (RFC 4987 §3.6), so a SYN flood costs
 * user space nothing: the frame is rewritten in place into the SYN,ACK the stack itself would
 * send (src/tcp/syn_cookie.rs, which documents the cookie's bits) and sent back out of the
 * interface it came in on (XDP_TX). The cookie and the timestamp offset are the same keyed
 * SipHash the stack computes, under the stack's secret (in "config"), so the ACK that brings
 * the cookie back is checked and turned into a connection by the stack, on the same queue.
 */
#ifndef XDPTCP_SYN_COOKIE_H
#define XDPTCP_SYN_COOKIE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "siphash.h"
#include "xdp_steer.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_TIMESTAMP 8

/* Most option bytes a TCP header has room for (RFC 9293 §3.1). */
#define TCP_MAX_OPTIONS 40

/* RFC 9293 §3.7.1: the MSS assumed when a SYN carries none. */
#define DEFAULT_PEER_MSS 536

/* One period of the cookie clock (src/tcp/syn_cookie.rs: PERIOD_NANOS). */
#define COOKIE_PERIOD_NS (64ULL * 1000000000ULL)
/* The timestamp clock ticks in milliseconds (src/tcp/connection/timestamps.rs). */
#define TS_TICK_NS 1000000ULL
/* TSval bits that carry the window scale and SACK-permitted of a cookie connection. */
#define TS_OPTION_MASK 0x3f
#define TS_NO_WINDOW_SCALE 0xf
#define TS_SACK_BIT 0x10

/* What the SYN offered. */
struct syn_offer {
	__u16 mss;
	__u8 window_scale; /* valid when has_window_scale */
	__u8 has_window_scale;
	__u8 sack_permitted;
	__u8 has_timestamps;
	__u32 tsval;
};

/* The walk over a SYN's options, copied out of the frame: bpf_loop calls read_option once per
 * option, so the verifier checks one step, not every path through forty. */
struct option_walk {
	__u8 bytes[64];
	__u32 len; /* option bytes in the header, at most TCP_MAX_OPTIONS */
	__u32 at;  /* the next option's offset */
	__u32 malformed;
	struct syn_offer offer;
};

static __always_inline __u32 walk_byte(const struct option_walk *w, __u32 at)
{
	return w->bytes[at & 63];
}

/* One option: notes what it offers and steps past it; 1 ends the walk. Unknown options are
 * skipped; a length of 0 or 1, or one past the header, is malformed. */
static long read_option(__u32 n, void *context)
{
	struct option_walk *w = context;
	__u32 i = w->at;
	if (i >= w->len || i >= TCP_MAX_OPTIONS)
		return 1;
	__u32 kind = walk_byte(w, i);
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->at = i + 1;
		return 0;
	}
	__u32 size = i + 1 < w->len ? walk_byte(w, i + 1) : 0;
	if (size < 2 || i + size > w->len) {
		w->malformed = 1;
		return 1;
	}
	if (kind == TCPOPT_MSS && size == 4) {
		w->offer.mss = (walk_byte(w, i + 2) << 8) | walk_byte(w, i + 3);
	} else if (kind == TCPOPT_WINDOW && size == 3) {
		w->offer.window_scale = walk_byte(w, i + 2);
		w->offer.has_window_scale = 1;
	} else if (kind == TCPOPT_SACK_PERM && size == 2) {
		w->offer.sack_permitted = 1;
	} else if (kind == TCPOPT_TIMESTAMP && size == 10) {
		w->offer.tsval = (walk_byte(w, i + 2) << 24) | (walk_byte(w, i + 3) << 16) |
				 (walk_byte(w, i + 4) << 8) | walk_byte(w, i + 5);
		w->offer.has_timestamps = 1;
	}
	w->at = i + size;
	return 0;
}

/* Reads the `len` option bytes at `offset` in the frame into `walk->offer`: 0, or -1 when they
 * are malformed (the SYN is then left to the stack, which counts and drops it). */
static __always_inline int read_syn_options(struct xdp_md *ctx, __u32 offset, __u32 len,
					    struct option_walk *walk)
{
	walk->offer.mss = DEFAULT_PEER_MSS;
	walk->len = len;
	if (len == 0)
		return 0;
	if (len > TCP_MAX_OPTIONS || bpf_xdp_load_bytes(ctx, offset, walk->bytes, len) < 0)
		return -1;
	bpf_loop(TCP_MAX_OPTIONS, read_option, walk, 0);
	return walk->malformed ? -1 : 0;
}

/* Writes the 4-tuple as the stack's tuple hasher takes it: our address and port, then the
 * peer's, each in network byte order (src/tcp/isn.rs: tuple_hasher). */
static __always_inline void put_tuple(__u8 *msg, int at, __be32 local_ip, __be16 local_port,
				      __be32 remote_ip, __be16 remote_port)
{
	__builtin_memcpy(msg + at, &local_ip, 4);
	__builtin_memcpy(msg + at + 4, &local_port, 2);
	__builtin_memcpy(msg + at + 6, &remote_ip, 4);
	__builtin_memcpy(msg + at + 10, &remote_port, 2);
}

static __always_inline void put_be32(__u8 *msg, int at, __u32 v)
{
	msg[at] = v >> 24;
	msg[at + 1] = v >> 16;
	msg[at + 2] = v >> 8;
	msg[at + 3] = v;
}

/* The cookie for this SYN (IsnGenerator::syn_cookie): period, MSS index, 24-bit hash. */
static __always_inline __u32 make_cookie(const struct xdptcp_config *cfg, __u64 now,
					 __be32 local_ip, __be16 local_port, __be32 remote_ip,
					 __be16 remote_port, __u32 peer_isn, __u16 peer_mss)
{
	/* The MSS table of src/tcp/syn_cookie.rs: the largest entry not above the peer's. */
	const __u16 table[8] = {536, 1200, 1300, 1360, 1400, 1440, 1460, 8960};
	__u32 index = 0;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (table[i] <= peer_mss)
			index = i;
	}
	__u64 period = now / COOKIE_PERIOD_NS;
	__u8 msg[XDPTCP_SIPHASH_MAX] = {'s', 'y', 'n', 'c', 'o', 'o', 'k', 'i', 'e'};
	put_tuple(msg, 9, local_ip, local_port, remote_ip, remote_port);
	put_be32(msg, 21, peer_isn);
	put_be32(msg, 25, period >> 32);
	put_be32(msg, 29, (__u32)period);
	__u32 hash = (__u32)xdptcp_siphash(cfg->key0, cfg->key1, msg, 33) & 0x00ffffff;
	return ((__u32)(period % 32) << 27) | (index << 24) | hash;
}

/* Our TSval now for this 4-tuple (clock_value with IsnGenerator::timestamp_offset), with the
 * window scale and SACK-permitted in its low six bits, lowered rather than raised
 * (syn_cookie::tsval_with_options). */
static __always_inline __u32 cookie_tsval(const struct xdptcp_config *cfg, __u64 now,
					  __be32 local_ip, __be16 local_port, __be32 remote_ip,
					  __be16 remote_port, int window_scale, int sack)
{
	__u8 msg[XDPTCP_SIPHASH_MAX] = {'t', 's', 'o', 'f', 'f', 's', 'e', 't'};
	put_tuple(msg, 8, local_ip, local_port, remote_ip, remote_port);
	__u32 offset = (__u32)xdptcp_siphash(cfg->key0, cfg->key1, msg, 20);
	__u32 tsval = (__u32)(now / TS_TICK_NS) + offset;
	__u32 options = (window_scale < 0 ? TS_NO_WINDOW_SCALE
					  : (window_scale > 14 ? 14 : window_scale)) |
			(sack ? TS_SACK_BIT : 0);
	if ((tsval & TS_OPTION_MASK) < options)
		tsval -= TS_OPTION_MASK + 1;
	return (tsval & ~TS_OPTION_MASK) | options;
}

static __always_inline __u16 fold_checksum(__u64 sum)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Answers the SYN in the frame with a cookie SYN,ACK by rewriting the frame: XDP_TX, or -1 if
 * it cannot and the frame is untouched (the caller then steers the SYN to the socket, whose
 * stack answers it), or XDP_DROP if the frame was resized but then could not be written. */
static __always_inline int answer_syn_with_cookie(struct xdp_md *ctx,
						  const struct xdptcp_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return -1;
	int options_len = tcp->doff * 4 - (int)sizeof(*tcp);
	if (options_len < 0 || options_len > TCP_MAX_OPTIONS ||
	    (void *)(tcp + 1) + options_len > data_end)
		return -1;

	struct option_walk walk = {};
	__u32 options_at = (void *)(tcp + 1) - data;
	if (read_syn_options(ctx, options_at, options_len, &walk) < 0)
		return -1;
	const struct syn_offer offer = walk.offer;

	/* What the reply is built from, before the frame is resized. */
	__u8 peer_mac[ETH_ALEN], our_mac[ETH_ALEN];
	__builtin_memcpy(peer_mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(our_mac, eth->h_dest, ETH_ALEN);
	__be32 local_ip = ip->daddr, remote_ip = ip->saddr;
	__be16 local_port = tcp->dest, remote_port = tcp->source;
	__u32 peer_isn = bpf_ntohl(tcp->seq);

	/* The options we answer with, as syn_cookie::syn_ack chooses them: window scaling and
	 * SACK only beside timestamps, whose TSval remembers them. */
	int timestamps = offer.has_timestamps && (cfg->cookie_flags & XDPTCP_COOKIE_TIMESTAMPS);
	int window_scale = (offer.has_window_scale &&
			    (cfg->cookie_flags & XDPTCP_COOKIE_WINDOW_SCALING))
				   ? offer.window_scale
				   : -1;
	int sack = offer.sack_permitted && (cfg->cookie_flags & XDPTCP_COOKIE_SACK);

	__u64 now = bpf_ktime_get_ns();
	__u32 cookie = make_cookie(cfg, now, local_ip, local_port, remote_ip, remote_port,
				   peer_isn, offer.mss);

	/* MSS alone (4 bytes), or MSS, [SACK-permitted | NOP NOP], timestamps, NOP and window
	 * scale or four NOPs (20 bytes). */
	const int tcp_len = sizeof(struct tcphdr) + (timestamps ? 20 : 4);
	const int frame_len = sizeof(struct ethhdr) + sizeof(struct iphdr) + tcp_len;
	if (bpf_xdp_adjust_tail(ctx, frame_len - (int)(data_end - data)) < 0)
		return -1;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	tcp = (void *)(ip + 1);
	__u8 *opt = (__u8 *)(tcp + 1);
	if ((void *)(opt + 20) > data_end && timestamps)
		return XDP_DROP; /* cannot happen: the frame was sized above */
	if ((void *)(opt + 4) > data_end)
		return XDP_DROP; /* cannot happen: the frame was sized above */

	__builtin_memcpy(eth->h_dest, peer_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, our_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0;
	ip->tot_len = bpf_htons(sizeof(struct iphdr) + tcp_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* don't fragment */
	ip->ttl = cfg->ttl;
	ip->protocol = IPPROTO_TCP;
	ip->check = 0;
	ip->saddr = local_ip;
	ip->daddr = remote_ip;
	ip->check = fold_checksum(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));

	__builtin_memset(tcp, 0, sizeof(*tcp));
	tcp->source = local_port;
	tcp->dest = remote_port;
	tcp->seq = bpf_htonl(cookie);
	tcp->ack_seq = bpf_htonl(peer_isn + 1);
	tcp->doff = tcp_len / 4;
	tcp->syn = 1;
	tcp->ack = 1;
	tcp->window = bpf_htons(cfg->window);

	opt[0] = TCPOPT_MSS;
	opt[1] = 4;
	opt[2] = cfg->mss >> 8;
	opt[3] = cfg->mss;
	if (timestamps) {
		if ((void *)(opt + 20) > data_end)
			return XDP_DROP; /* cannot happen: the frame was sized above */
		__u32 tsval = cookie_tsval(cfg, now, local_ip, local_port, remote_ip, remote_port,
					   window_scale, sack);
		opt[4] = sack ? TCPOPT_SACK_PERM : TCPOPT_NOP;
		opt[5] = sack ? 2 : TCPOPT_NOP;
		opt[6] = TCPOPT_TIMESTAMP;
		opt[7] = 10;
		put_be32(opt, 8, tsval);
		put_be32(opt, 12, offer.tsval);
		opt[16] = TCPOPT_NOP;
		if (window_scale >= 0) {
			opt[17] = TCPOPT_WINDOW;
			opt[18] = 3;
			opt[19] = cfg->window_shift;
		} else {
			opt[17] = TCPOPT_NOP;
			opt[18] = TCPOPT_NOP;
			opt[19] = TCPOPT_NOP;
		}
	}

	/* RFC 9293 §3.1: the checksum covers the pseudo-header (addresses, protocol, length).
	 * Each branch has its own constant length, within what it checked against data_end. */
	__u64 sum;
	if (timestamps) {
		if ((void *)tcp + 40 > data_end)
			return XDP_DROP; /* cannot happen: the frame was sized above */
		sum = bpf_csum_diff(0, 0, (__be32 *)tcp, 40, 0);
	} else {
		sum = bpf_csum_diff(0, 0, (__be32 *)tcp, 24, 0);
	}
	sum += (local_ip & 0xffff) + (local_ip >> 16) + (remote_ip & 0xffff) + (remote_ip >> 16);
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons(tcp_len);
	tcp->check = fold_checksum(sum);
	return XDP_TX;
}

#endif
