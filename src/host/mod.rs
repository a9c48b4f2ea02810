//! Facts the stack takes from the host kernel, and settings of this process: the interface's
//! index, queues, address, MAC, MTU and driver, the routes, neighbour MAC addresses, the
//! ports kernel sockets listen on, the NIC's RSS configuration — read over rtnetlink, the
//! ethtool generic netlink family, sysfs and procfs — the hugetlb pool, and this
//! process's privileges: root, capabilities, the locked-memory limit.
//!
//! The stack shares its IPv4 address with the kernel, and the kernel answers and sends ARP
//! for it (the XDP program passes ARP through). The kernel's neighbour table is therefore the
//! source of MAC addresses: running our own ARP would compete with the kernel for replies,
//! which XDP can deliver to only one of us. When a neighbour is missing, a datagram sent
//! through a kernel UDP socket makes the kernel resolve it.
//!
//! No `unsafe` here: system calls go through `rustix`'s safe wrappers.

mod capabilities;
mod groups;
mod huge_pages;
mod interface;
mod isn_secret;
mod neighbors;
mod ports;
mod process;
mod routes;
mod rss;
mod rtnetlink;

pub use capabilities::{effective_capabilities, missing_capabilities, Capability};
pub use groups::{group_id, group_name};
pub use huge_pages::{huge_page_pool, HugePagePool, NR_HUGEPAGES};
pub use interface::{
    driver_name, interface_index, interface_ipv4, interface_mac, interface_mtu, rx_queue_count,
    NoSuchInterface,
};
pub use isn_secret::{isn_secret, ISN_SECRET_PATH};
pub use neighbors::{neighbor, solicit_neighbor};
pub use ports::kernel_listening_ports;
pub use process::{is_root, locked_memory_limit, precise_timers};
pub use routes::{route_to, routes, Route};
pub use rss::{rss_config, RssConfig, RssHashFunction};
