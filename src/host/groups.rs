//! Group names and ids from `/etc/group` (the management socket's group; groups only a
//! directory service such as LDAP knows are not seen).

/// Where the system's groups are listed.
const GROUP_FILE: &str = "/etc/group";

/// `(name, gid)` of each line of `/etc/group` that has both.
fn groups() -> Vec<(String, u32)> {
    std::fs::read_to_string(GROUP_FILE)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            Some((name.to_string(), id))
        })
        .collect()
}

/// The id of the group named `name`, if `/etc/group` lists it.
pub fn group_id(name: &str) -> Option<u32> {
    groups()
        .into_iter()
        .find_map(|(n, id)| (n == name).then_some(id))
}

/// The name of group `gid`, else the number.
pub fn group_name(gid: u32) -> String {
    groups()
        .into_iter()
        .find_map(|(name, id)| (id == gid).then_some(name))
        .unwrap_or_else(|| gid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_group_0_and_an_unknown_name_has_no_id() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_name(0), "root");
        assert_eq!(group_id("no-such-group-xdptcp"), None);
        assert_eq!(group_name(4_000_000_000), "4000000000");
    }
}
