//! What the node's router counted.

/// Counters of the node's router. The machines keep their own counters
/// (see [`Node::membership`](crate::Node::membership) and friends); these
/// count the datagrams the router itself dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams handed to the node.
    pub datagrams: u64,
    /// Datagrams the codec refused (or with a nil sender).
    pub malformed: u64,
    /// Frames of another wire version.
    pub bad_version: u64,
    /// Frames this node sent itself (multicast loopback).
    pub own: u64,
    /// Frames of a group this node has not joined.
    pub unknown_group: u64,
    /// Frames for a stream no channel of the group carries (no custom
    /// channel installed), among them the frames of a channel this build
    /// leaves out (features `best-effort`, `fec`, `total-order`).
    pub no_channel: u64,
    /// Frames without a body, or with a body this version does not know or
    /// this build's codec leaves out (parity, token, request and reply
    /// frames without features `fec`, `total-order`, `messaging`; map
    /// operation, lock operation and map control frames without feature
    /// `map`, unless another crate of the build turned on `blaze-wire/map`:
    /// see `no_map`).
    pub no_body: u64,
    /// Map traffic of a member that runs no map, dropped. In a build
    /// without feature `map`: map operation, lock operation and map
    /// control frames of a joined group that the codec decoded (another
    /// crate of the build turned on `blaze-wire/map`; without it they
    /// count in [`no_body`](Stats::no_body)), and the map's operations
    /// delivered by a group's Totem ring (its reserved topic
    /// `blaze.map`). With feature `map` and `Config::run_map` false: the
    /// same frames and operations.
    /// Always 0 for a member that runs the map, which hands them to it
    /// (the field is in every build, so that turning the feature on
    /// elsewhere in a build breaks no code that reads it).
    pub no_map: u64,
    /// Members of a view that did not fit a channel's peer table.
    pub peer_table_full: u64,
}
