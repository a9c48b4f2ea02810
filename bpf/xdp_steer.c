// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdptcp's XDP program: steer the stack's own TCP traffic, and the ICMP errors about it, to the
 * AF_XDP socket of the RX queue it arrived on; pass everything else (ARP, other ICMP, the
 * kernel's own TCP, malformed frames) to the kernel untouched.
 *
 * A frame is the stack's when it is IPv4/TCP, not a fragment, addressed to the stack's IPv4
 * address, and its destination port is marked in "ports" (listening ports and the stack's
 * ephemeral range). User space fills "config", "ports" and "xsks" (one socket per queue).
 *
 * So is an ICMP destination unreachable message to the stack's address about a TCP segment
 * the stack sent: the datagram it quotes (RFC 792: its IP header and first 8 bytes) is TCP
 * from the stack's address, from a port marked in "ports". The stack checks the rest (the
 * ICMP checksum, the quoted sequence number: RFC 5927) and lowers the path MTU on a
 * "fragmentation needed" (RFC 1191). Every other ICMP message goes to the kernel.
 *
 * A SYN to a port whose worker has put it in "cookie_ports" for this queue (its backlog is
 * full, or it always wants cookies) is answered here with a SYN cookie (syn_cookie.h) and
 * never reaches the socket.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "syn_cookie.h"
#include "xdp_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPTCP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Destination ports the stack owns: index = port, value 1 = ours. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdptcp_config);
} config SEC(".maps");

/* The stack's addresses besides xdptcp_config.ipv4 (network order); the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPTCP_MAX_ADDRESSES);
	__type(key, __be32);
	__type(value, __u8);
} addresses SEC(".maps");

/* True when `addr` is one of the stack's addresses. The map is looked up only when it holds
 * any: the common case, one address, costs one comparison. */
static __always_inline int address_owned(__be32 addr, const struct xdptcp_config *cfg)
{
	if (addr == cfg->ipv4)
		return 1;
	return cfg->more_addresses && bpf_map_lookup_elem(&addresses, &addr) != 0;
}

/* (queue, port) pairs whose SYNs are answered here with cookies; the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPTCP_MAX_COOKIE_PORTS);
	__type(key, struct xdptcp_cookie_port);
	__type(value, __u8);
} cookie_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPTCP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct xdptcp_queue_stats);
} stats SEC(".maps");

/* The ICMP header (RFC 792), declared here: linux/icmp.h brings in libc headers that the BPF
 * target does not have. */
struct icmp_header {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest; /* for "fragmentation needed": unused, then the next-hop MTU (RFC 1191) */
};

#define ICMP_DESTINATION_UNREACHABLE 3

#define IP_MORE_FRAGMENTS 0x2000
#define IP_OFFSET_MASK 0x1fff

/* The IPv4 header of the frame in [data, data_end) if it is an IPv4 packet, not a fragment,
 * addressed to the stack, else NULL. Every header is bounds-checked before it is read;
 * anything short or odd is not ours and goes to the kernel as it is. */
static __always_inline struct iphdr *for_our_address(void *data, void *data_end,
						     const struct xdptcp_config *cfg)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return 0;
	if (ip->version != 4 || ip->ihl < 5)
		return 0;
	if (!address_owned(ip->daddr, cfg))
		return 0;
	if (ip->frag_off & bpf_htons(IP_MORE_FRAGMENTS | IP_OFFSET_MASK))
		return 0;
	return ip;
}

/* True when the stack owns local port `port` (network order). */
static __always_inline int port_owned(__be16 port)
{
	__u32 key = bpf_ntohs(port);
	__u8 *owned = bpf_map_lookup_elem(&ports, &key);
	return owned && *owned;
}

/* The TCP header of a packet for the stack's address if it is TCP to a port the stack owns,
 * else NULL. */
static __always_inline struct tcphdr *ours(struct iphdr *ip, void *data_end)
{
	if (ip->protocol != IPPROTO_TCP)
		return 0;
	struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return 0;
	return port_owned(tcp->dest) ? tcp : 0;
}

/* True for an ICMP destination unreachable message about a TCP segment the stack sent: the
 * quoted IPv4 header says TCP from the stack's address, and the quoted TCP header (of which
 * the message carries the first 8 bytes: ports and sequence number) says from a port the
 * stack owns. */
static __always_inline int icmp_about_ours(struct iphdr *ip, void *data_end,
					   const struct xdptcp_config *cfg)
{
	if (ip->protocol != IPPROTO_ICMP)
		return 0;
	struct icmp_header *icmp = (void *)ip + ip->ihl * 4;
	if ((void *)(icmp + 1) > data_end)
		return 0;
	if (icmp->type != ICMP_DESTINATION_UNREACHABLE)
		return 0;

	struct iphdr *quoted = (void *)(icmp + 1);
	if ((void *)(quoted + 1) > data_end)
		return 0;
	if (quoted->version != 4 || quoted->ihl < 5)
		return 0;
	if (!address_owned(quoted->saddr, cfg) || quoted->protocol != IPPROTO_TCP)
		return 0;

	__be16 *quoted_ports = (void *)quoted + quoted->ihl * 4;
	if ((void *)(quoted_ports + 4) > data_end)
		return 0;
	return port_owned(quoted_ports[0]);
}

/* True for a SYN (no ACK, RST or FIN) to a port this queue's worker answers with cookies. */
static __always_inline int wants_cookie(const struct tcphdr *tcp, __u32 queue)
{
	if (!tcp->syn || tcp->ack || tcp->rst || tcp->fin)
		return 0;
	struct xdptcp_cookie_port key = {.queue = queue, .port = bpf_ntohs(tcp->dest)};
	return bpf_map_lookup_elem(&cookie_ports, &key) != 0;
}

/* Redirects the frame to this queue's AF_XDP socket. With no socket in the queue's XSKMAP
 * slot, bpf_redirect_map returns the fallback action in its flags' lower bits: the frame
 * goes to the kernel, counted. */
static __always_inline int to_socket(__u32 queue, struct xdptcp_queue_stats *st)
{
	int action = bpf_redirect_map(&xsks, queue, XDP_PASS);
	if (action != XDP_REDIRECT && st)
		st->no_socket++;
	return action;
}

SEC("xdp")
int xdptcp_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 queue = ctx->rx_queue_index;
	__u32 zero = 0;

	struct xdptcp_queue_stats *st = bpf_map_lookup_elem(&stats, &queue);
	struct xdptcp_config *cfg = bpf_map_lookup_elem(&config, &zero);

	struct iphdr *ip = cfg && cfg->enabled ? for_our_address(data, data_end, cfg) : 0;
	struct tcphdr *tcp = ip ? ours(ip, data_end) : 0;
	if (tcp) {
		if (wants_cookie(tcp, queue)) {
			int action = answer_syn_with_cookie(ctx, cfg);
			if (action == XDP_TX) {
				if (st)
					st->cookies_sent++;
				return XDP_TX;
			}
			if (st)
				st->cookie_skipped++;
			if (action == XDP_DROP)
				return XDP_DROP;
		}
		if (st)
			st->steered++;
		return to_socket(queue, st);
	}
	if (ip && icmp_about_ours(ip, data_end, cfg)) {
		if (st) {
			st->steered++;
			st->icmp_steered++;
		}
		return to_socket(queue, st);
	}
	if (st)
		st->passed++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
