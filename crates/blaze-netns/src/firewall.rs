//! The nftables scripts loaded into a host: one table, a chain for random
//! loss and a chain for partitions, both on the input hook of `eth0`.

use std::fmt::Write;
use std::net::Ipv4Addr;

/// The table every host gets.
pub(crate) const TABLE: &str = "blaze_netns";

/// Creates the table and its two (empty) chains.
pub(crate) fn setup() -> String {
    format!(
        "add table inet {TABLE}\n\
         add chain inet {TABLE} partition {{ type filter hook input priority -10; policy accept; }}\n\
         add chain inet {TABLE} loss {{ type filter hook input priority 0; policy accept; }}\n"
    )
}

/// Replaces the loss rule: drop `percent` % of the UDP arriving on `eth0`,
/// chosen at random per packet (100 or more: all of it). Zero removes the
/// rule.
pub(crate) fn loss(percent: u8) -> String {
    let mut script = format!("flush chain inet {TABLE} loss\n");
    if percent >= 100 {
        // numgen's comparison only takes 0..=99.
        let _ = writeln!(
            script,
            "add rule inet {TABLE} loss iifname \"eth0\" meta l4proto udp counter drop"
        );
    } else if percent > 0 {
        let _ = writeln!(
            script,
            "add rule inet {TABLE} loss iifname \"eth0\" meta l4proto udp numgen random mod 100 < {percent} counter drop"
        );
    }
    script
}

/// Replaces the partition rule: drop everything arriving from `blocked`.
/// An empty list removes the rule.
pub(crate) fn partition(blocked: &[Ipv4Addr]) -> String {
    let mut script = format!("flush chain inet {TABLE} partition\n");
    if !blocked.is_empty() {
        let set: Vec<String> = blocked.iter().map(Ipv4Addr::to_string).collect();
        let _ = writeln!(
            script,
            "add rule inet {TABLE} partition ip saddr {{ {} }} drop",
            set.join(", ")
        );
    }
    script
}

/// The packets the loss rule dropped, from `nft list chain` output (0
/// when there is no rule).
pub(crate) fn dropped(listing: &str) -> u64 {
    listing
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rule_is_random_udp_only_and_removable() {
        assert_eq!(
            loss(5),
            "flush chain inet blaze_netns loss\n\
             add rule inet blaze_netns loss iifname \"eth0\" meta l4proto udp numgen random mod 100 < 5 counter drop\n"
        );
        assert_eq!(loss(0), "flush chain inet blaze_netns loss\n");
        assert_eq!(
            loss(200),
            "flush chain inet blaze_netns loss\n\
             add rule inet blaze_netns loss iifname \"eth0\" meta l4proto udp counter drop\n"
        );
    }

    #[test]
    fn partition_rule_lists_the_other_side() {
        let blocked = [Ipv4Addr::new(10, 200, 0, 3), Ipv4Addr::new(10, 200, 0, 4)];
        assert_eq!(
            partition(&blocked),
            "flush chain inet blaze_netns partition\n\
             add rule inet blaze_netns partition ip saddr { 10.200.0.3, 10.200.0.4 } drop\n"
        );
        assert_eq!(partition(&[]), "flush chain inet blaze_netns partition\n");
    }

    #[test]
    fn drops_are_read_from_the_counter() {
        let listing = "table inet blaze_netns {\n\tchain loss {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname \"eth0\" meta l4proto udp numgen random mod 100 < 5 counter packets 17 bytes 2300 drop\n\t}\n}\n";
        assert_eq!(dropped(listing), 17);
        assert_eq!(dropped("table inet blaze_netns {\n}\n"), 0);
    }

    #[test]
    fn setup_hooks_both_chains_on_input() {
        let s = setup();
        assert!(s.contains("partition { type filter hook input priority -10;"));
        assert!(s.contains("loss { type filter hook input priority 0;"));
    }
}
