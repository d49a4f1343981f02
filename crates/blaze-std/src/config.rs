//! The configuration of a channel: a builder in code, or a TOML file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use blaze_node::Qos;
use serde::{Deserialize, Serialize};

use crate::SocketConfig;

/// The quality of service of a topic's messages, as a configuration
/// names it (the built-in [`Qos`] values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TopicQos {
    /// Plain datagrams: may be lost, duplicated or reordered by the
    /// network; nothing is retransmitted.
    BestEffort,
    /// NACK-based reliable multicast: every message of a sender reaches
    /// every live member once, in the sender's order. The default.
    #[default]
    Reliable,
    /// Reliable multicast with Reed–Solomon parity: losses are mostly
    /// healed by parity without a round trip; what parity cannot heal is
    /// retransmitted.
    ReliableFec,
    /// Total order through the group's Totem ring: every member delivers
    /// the same sequence of these messages (the sender included).
    Agreed,
    /// As `Agreed`, delivered only once every member of the ring has
    /// received the message.
    Safe,
}

impl From<TopicQos> for Qos {
    fn from(qos: TopicQos) -> Qos {
        match qos {
            TopicQos::BestEffort => Qos::BestEffort,
            TopicQos::Reliable => Qos::Reliable,
            TopicQos::ReliableFec => Qos::ReliableFec,
            TopicQos::Agreed => Qos::Agreed,
            TopicQos::Safe => Qos::Safe,
        }
    }
}

impl fmt::Display for TopicQos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Qos::from(*self).fmt(f)
    }
}

/// Who orders the writes of the groups' replicated maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MapOrdering {
    /// The view's coordinator sequences every write (the default).
    #[default]
    Coordinator,
    /// The group's Totem ring orders every write, with safe delivery: every
    /// member decides each outcome at the write's position in the ring's
    /// total order, and a write completes once every member of the ring
    /// holds it. No coordinator is involved.
    Totem,
}

impl From<MapOrdering> for blaze_map::Ordering {
    fn from(o: MapOrdering) -> blaze_map::Ordering {
        match o {
            MapOrdering::Coordinator => blaze_map::Ordering::Coordinator,
            MapOrdering::Totem => blaze_map::Ordering::Totem { safe: true },
        }
    }
}

/// The default multicast group of a channel.
pub const DEFAULT_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 42, 99), 7600);

/// How a channel is set up: identity, network, timing, defaults.
///
/// Made with [`ChannelConfig::builder`], or read from TOML with
/// [`ChannelConfig::from_toml`] / [`ChannelConfig::load`]; every field has a
/// default, so a file names only what it changes:
///
/// ```
/// use blaze_std::{ChannelConfig, TopicQos};
///
/// let config = ChannelConfig::from_toml(r#"
///     name = "alpha"
///     group = "239.255.42.1:7600"
///     groups = ["chat"]
///     heartbeat_ms = 50
///     failure_timeout_ms = 400
///     [topics]
///     ticks = "best-effort"
/// "#).unwrap();
/// assert_eq!(config.name, "alpha");
/// assert_eq!(config.topics["ticks"], TopicQos::BestEffort);
///
/// let built = ChannelConfig::builder()
///     .name("alpha")
///     .group("239.255.42.1:7600".parse().unwrap())
///     .join("chat")
///     .topic("ticks", TopicQos::BestEffort)
///     .heartbeat(std::time::Duration::from_millis(50))
///     .failure_timeout(std::time::Duration::from_millis(400))
///     .build()
///     .unwrap();
/// assert_eq!(built, config);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ChannelConfig {
    /// The member's name, shown to the other members (at most 32 bytes).
    pub name: String,
    /// The IPv4 multicast group and port; `None` for unicast-only
    /// discovery through [`seeds`](ChannelConfig::seeds).
    pub group: Option<SocketAddrV4>,
    /// The local interface, by address. Default `127.0.0.1`.
    pub interface: Ipv4Addr,
    /// The unicast port; 0 (the default) picks one.
    pub port: u16,
    /// Unicast-only mode: other members' unicast addresses.
    pub seeds: Vec<SocketAddr>,
    /// Groups joined when the channel starts; the first is where
    /// [`Channel::publish`](crate::Channel::publish) publishes. Default
    /// `["blaze"]`.
    pub groups: Vec<String>,
    /// The quality of service of topics (topics not listed are reliable).
    pub topics: BTreeMap<String, TopicQos>,
    /// Heartbeat interval, milliseconds.
    pub heartbeat_ms: u64,
    /// A member silent this long is declared failed, milliseconds (at
    /// least three heartbeats). The total-order ring of agreed and safe
    /// topics uses it as its token timeout (at least 200 ms), so that a
    /// member the view keeps is not split off the ring.
    pub failure_timeout_ms: u64,
    /// Preference to become the coordinator (higher wins, then the
    /// oldest).
    pub weight: u32,
    /// Log filter for the program (`tracing` directives, e.g.
    /// `"info,blaze_std=debug"`).
    pub log: String,
    /// Busy polling, microseconds: before parking, the channel's task
    /// spins on its sockets this long, for the lowest latency at the cost
    /// of a busy core. 0 (the default) parks at once. The task spins on
    /// its runtime thread, so it pays only with a thread (and a core) to
    /// spare: on a current-thread runtime it holds up the application's
    /// tasks, and on a loaded machine it takes the receivers' cores.
    pub busy_poll_us: u64,
    /// Who orders the writes of the groups' replicated maps. Default
    /// `coordinator`; `totem` orders them through the group's ring.
    pub map_ordering: MapOrdering,
    /// Whether this member runs the groups' replicated maps. Default on.
    /// A member without them (a gateway, a sensor) still joins, sends and
    /// receives, but the members with the map leave it out of the maps: it
    /// neither coordinates one nor holds up a write; its own writes and
    /// locks fail with [`ChannelError::Map`](crate::ChannelError::Map), and
    /// its reads find nothing.
    pub run_map: bool,
    /// `IP_MULTICAST_LOOP`: group datagrams sent by this member also reach
    /// the sockets of this host, this member's own included. Default on,
    /// which members sharing a host need; turn it off where every member
    /// has a host (or network namespace) of its own, so that a member does
    /// not receive and discard each group datagram it sent.
    pub multicast_loop: bool,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            name: String::from("blaze"),
            group: Some(DEFAULT_GROUP),
            interface: Ipv4Addr::LOCALHOST,
            port: 0,
            seeds: Vec::new(),
            groups: vec![String::from("blaze")],
            topics: BTreeMap::new(),
            heartbeat_ms: 100,
            failure_timeout_ms: 500,
            weight: 0,
            log: String::from("info"),
            busy_poll_us: 0,
            map_ordering: MapOrdering::Coordinator,
            run_map: true,
            multicast_loop: true,
        }
    }
}

/// The longest member name.
pub const MAX_NAME_LEN: usize = 32;

/// Why a configuration is refused. Nothing was applied.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The TOML text is malformed or names an unknown field.
    Parse(toml::de::Error),
    /// A field's value is out of range.
    Invalid {
        /// The field, as named in the file.
        field: &'static str,
        /// What is wrong and what to do.
        reason: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read configuration {}: {source}", path.display())
            }
            ConfigError::Parse(e) => write!(f, "malformed configuration: {e}"),
            ConfigError::Invalid { field, reason } => {
                write!(f, "configuration `{field}`: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::Parse(e) => Some(e),
            ConfigError::Invalid { .. } => None,
        }
    }
}

impl ChannelConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> ChannelConfigBuilder {
        ChannelConfigBuilder {
            config: ChannelConfig::default(),
            joined: false,
        }
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: ChannelConfig = toml::from_str(text).map_err(ConfigError::Parse)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a TOML file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ChannelConfig::from_toml(&text)
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason| Err(ConfigError::Invalid { field, reason });
        if self.name.is_empty() || self.name.len() > MAX_NAME_LEN {
            return invalid("name", "must be 1 to 32 bytes long");
        }
        if let Some(group) = self.group
            && !group.ip().is_multicast()
        {
            return invalid(
                "group",
                "must be an IPv4 multicast address (pick one in 239.255.0.0/16)",
            );
        }
        if self.group.is_none() && self.seeds.is_empty() {
            return invalid(
                "seeds",
                "without a multicast group, give at least one seed (another member's unicast address)",
            );
        }
        if self.heartbeat_ms == 0 {
            return invalid("heartbeat_ms", "must be at least 1");
        }
        if self.failure_timeout_ms < self.heartbeat_ms.saturating_mul(3) {
            return invalid(
                "failure_timeout_ms",
                "must be at least three heartbeat intervals",
            );
        }
        if self.groups.is_empty() {
            return invalid("groups", "name at least one group to join");
        }
        if self
            .groups
            .iter()
            .any(|g| g.is_empty() || g.len() > MAX_NAME_LEN)
        {
            return invalid("groups", "group names must be 1 to 32 bytes long");
        }
        if self.groups.len() > crate::engine::MAX_GROUPS {
            return invalid("groups", "a node is in at most 4 groups at once");
        }
        if self
            .topics
            .keys()
            .any(|t| t.is_empty() || t.len() > blaze_node::MAX_TOPIC_LEN)
        {
            return invalid("topics", "topic names must be 1 to 64 bytes long");
        }
        if self.topics.keys().any(|t| blaze_node::is_reserved_topic(t)) {
            return invalid(
                "topics",
                "topic names starting with `blaze.` are reserved for the stack",
            );
        }
        Ok(())
    }

    /// The sockets this configuration asks for.
    pub fn socket_config(&self) -> SocketConfig {
        let mut sockets = match self.group {
            Some(group) => SocketConfig::multicast(group),
            None => SocketConfig::unicast(self.seeds.clone()),
        };
        sockets.interface = self.interface;
        sockets.unicast_port = self.port;
        sockets.multicast_loop = self.multicast_loop;
        sockets
    }

    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// The failure time-out.
    pub fn failure_timeout(&self) -> Duration {
        Duration::from_millis(self.failure_timeout_ms)
    }

    /// The busy-polling budget, `None` when off.
    ///
    /// ```
    /// use blaze_std::ChannelConfig;
    /// let config = ChannelConfig::builder()
    ///     .busy_poll(std::time::Duration::from_micros(50))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.busy_poll(), Some(std::time::Duration::from_micros(50)));
    /// assert_eq!(ChannelConfig::default().busy_poll(), None);
    /// ```
    pub fn busy_poll(&self) -> Option<Duration> {
        (self.busy_poll_us > 0).then(|| Duration::from_micros(self.busy_poll_us))
    }
}

/// Builds a [`ChannelConfig`] field by field; [`build`](ChannelConfigBuilder::build)
/// validates.
#[derive(Debug, Clone)]
pub struct ChannelConfigBuilder {
    config: ChannelConfig,
    joined: bool,
}

impl ChannelConfigBuilder {
    /// The member's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The multicast group.
    pub fn group(mut self, group: SocketAddrV4) -> Self {
        self.config.group = Some(group);
        self
    }

    /// Unicast-only discovery through these seeds (no multicast).
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.config.group = None;
        self.config.seeds = seeds.into_iter().collect();
        self
    }

    /// The local interface.
    pub fn interface(mut self, interface: Ipv4Addr) -> Self {
        self.config.interface = interface;
        self
    }

    /// The unicast port.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// A group to join at start (the first one given replaces the
    /// default group `blaze`).
    pub fn join(mut self, group: impl Into<String>) -> Self {
        if !self.joined {
            self.config.groups.clear();
            self.joined = true;
        }
        self.config.groups.push(group.into());
        self
    }

    /// The quality of service of a topic.
    pub fn topic(mut self, topic: impl Into<String>, qos: TopicQos) -> Self {
        self.config.topics.insert(topic.into(), qos);
        self
    }

    /// The heartbeat interval (whole milliseconds).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.config.heartbeat_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The failure time-out (whole milliseconds).
    pub fn failure_timeout(mut self, timeout: Duration) -> Self {
        self.config.failure_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The preference to become coordinator.
    pub fn weight(mut self, weight: u32) -> Self {
        self.config.weight = weight;
        self
    }

    /// The log filter.
    pub fn log(mut self, filter: impl Into<String>) -> Self {
        self.config.log = filter.into();
        self
    }

    /// Busy polling before parking (whole microseconds; zero turns it
    /// off): lower latency for a busy core.
    pub fn busy_poll(mut self, budget: Duration) -> Self {
        self.config.busy_poll_us = u64::try_from(budget.as_micros()).unwrap_or(u64::MAX);
        self
    }

    /// Who orders the writes of the groups' replicated maps.
    ///
    /// ```
    /// use blaze_std::{ChannelConfig, MapOrdering};
    /// let config = ChannelConfig::builder().map_ordering(MapOrdering::Totem).build().unwrap();
    /// assert_eq!(config.map_ordering, MapOrdering::Totem);
    /// assert!(config.to_toml().contains("map_ordering = \"totem\""));
    /// ```
    pub fn map_ordering(mut self, ordering: MapOrdering) -> Self {
        self.config.map_ordering = ordering;
        self
    }

    /// Whether this member runs the groups' replicated maps
    /// ([`ChannelConfig::run_map`]).
    ///
    /// ```
    /// use blaze_std::ChannelConfig;
    /// let config = ChannelConfig::builder().run_map(false).build().unwrap();
    /// assert!(!config.run_map);
    /// assert!(config.to_toml().contains("run_map = false"));
    /// assert!(ChannelConfig::default().run_map);
    /// ```
    pub fn run_map(mut self, on: bool) -> Self {
        self.config.run_map = on;
        self
    }

    /// Whether group datagrams loop back to this host's sockets
    /// ([`ChannelConfig::multicast_loop`]).
    ///
    /// ```
    /// use blaze_std::ChannelConfig;
    /// let config = ChannelConfig::builder().multicast_loop(false).build().unwrap();
    /// assert!(!config.socket_config().multicast_loop);
    /// assert!(ChannelConfig::default().multicast_loop);
    /// ```
    pub fn multicast_loop(mut self, on: bool) -> Self {
        self.config.multicast_loop = on;
        self
    }

    /// The validated configuration.
    pub fn build(self) -> Result<ChannelConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let config = ChannelConfig::default();
        config.validate().unwrap();
        let text = config.to_toml();
        assert_eq!(ChannelConfig::from_toml(&text).unwrap(), config);
        assert_eq!(ChannelConfig::from_toml("").unwrap(), config);
    }

    #[test]
    fn refuses_bad_fields_by_name() {
        let cases = [
            ("name = \"\"", "name"),
            ("group = \"10.0.0.1:7600\"", "group"),
            (
                "heartbeat_ms = 100\nfailure_timeout_ms = 200",
                "failure_timeout_ms",
            ),
            ("heartbeat_ms = 0", "heartbeat_ms"),
            ("groups = [\"\"]", "groups"),
            ("groups = []", "groups"),
        ];
        for (text, field) in cases {
            match ChannelConfig::from_toml(text) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            ChannelConfig::from_toml("nmae = \"typo\""),
            Err(ConfigError::Parse(_))
        ));
        let unicast = ChannelConfig::builder().seeds([]).build().unwrap_err();
        assert!(unicast.to_string().contains("seed"), "{unicast}");
    }

    #[test]
    fn load_names_the_missing_file() {
        let err = ChannelConfig::load("/nonexistent/blaze.toml").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/blaze.toml"), "{err}");
    }

    #[test]
    fn socket_config_follows_the_mode() {
        let seed: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let config = ChannelConfig::builder()
            .seeds([seed])
            .port(7001)
            .build()
            .unwrap();
        let sockets = config.socket_config();
        assert_eq!(sockets.group, None);
        assert_eq!(sockets.peers, vec![seed]);
        assert_eq!(sockets.unicast_port, 7001);
        let multicast = ChannelConfig::default().socket_config();
        assert_eq!(multicast.group, Some(DEFAULT_GROUP));
    }
}
