//! `ClusterChannel`: a [`GroupChannel`] with the group's replicated map,
//! write locks with leases, and the coordinator (master).

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use blaze_node::{GroupId, MapError, MemberId, RequestId, WriteOptions};
use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::events::{GroupEvent, LockGrant, MapChange};
use crate::hub::Hub;
use crate::{ChannelConfig, ChannelError, GroupChannel};

/// A [`GroupChannel`] with cluster management: each group's replicated
/// map (put, get, remove, change listeners), write locks with leases
/// (expiring unless renewed), and the group's coordinator (master) with
/// master-changed listeners and [`wait_for_election`](ClusterChannel::wait_for_election).
///
/// The map is replicated to every member and survives the failure of any
/// of them, the coordinator included; a joiner receives the current state.
/// Everything [`GroupChannel`] does is reachable through `Deref`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use blaze_std::{ChannelConfig, ClusterChannel};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = |name: &str| {
///     ChannelConfig::builder()
///         .name(name)
///         .group("239.255.42.19:47019".parse().unwrap())
///         .join("doc-cluster")
///         .build()
/// };
/// let mut a = ClusterChannel::new(config("a")?);
/// let mut b = ClusterChannel::new(config("b")?);
/// a.start().await?;
/// b.start().await?;
/// let timeout = Duration::from_secs(10);
/// b.wait_for_members("doc-cluster", timeout, |m| m.len() == 2).await?;
/// let master = a.wait_for_election("doc-cluster", timeout).await?;
/// a.wait_for_members("doc-cluster", timeout, |m| m.len() == 2).await?;
/// assert_eq!(b.wait_for_election("doc-cluster", timeout).await?, master);
///
/// a.map_put("doc-cluster", "config", b"colour", b"blue").await?;
/// let seen = b.wait_for_value("doc-cluster", "config", b"colour", timeout).await?;
/// assert_eq!(seen, b"blue");
///
/// let grant = b.lock("doc-cluster", "config", b"colour", Duration::from_secs(5)).await?;
/// assert!(grant.fence > 0);
/// b.unlock("doc-cluster", "config", b"colour").await?;
/// b.shutdown().await?;
/// a.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClusterChannel {
    group: GroupChannel,
}

impl Deref for ClusterChannel {
    type Target = GroupChannel;
    fn deref(&self) -> &GroupChannel {
        &self.group
    }
}

impl DerefMut for ClusterChannel {
    fn deref_mut(&mut self) -> &mut GroupChannel {
        &mut self.group
    }
}

/// How long a map write waits for its replication.
const WRITE_LIMIT: Duration = Duration::from_secs(10);

impl ClusterChannel {
    /// A constructed channel (see [`Channel::new`](crate::Channel::new)).
    pub fn new(config: ChannelConfig) -> Self {
        ClusterChannel {
            group: GroupChannel::new(config),
        }
    }

    /// This member's copy of `key` in `map` of `group`.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`].
    pub async fn map_get(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, ChannelError> {
        let (g, m, k) = (GroupId::from_name(group), map.to_owned(), key.to_vec());
        Ok(self
            .runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, _| {
                engine.node.map_get(g, &m, &k).map(|e| e.value.to_vec())
            })
            .await?)
    }

    /// Waits until this member's copy of `key` has a value.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Timeout`], [`ChannelError::NotStarted`].
    pub async fn wait_for_value(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ChannelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(value) = self.map_get(group, map, key).await? {
                return Ok(value);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChannelError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sets `key` to `value` in `map` of `group` and waits until the write
    /// is replicated; returns the entry's new version.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Map`] (refused: locked by another member, quorum
    /// lost, map full, …), [`ChannelError::Timeout`],
    /// [`ChannelError::NotInGroup`], [`ChannelError::NotStarted`].
    pub async fn map_put(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<u64, ChannelError> {
        self.map_put_with(group, map, key, value, WriteOptions::default())
            .await
    }

    /// [`map_put`](ClusterChannel::map_put) with options (time to live,
    /// removal when this member leaves, fencing token).
    ///
    /// # Errors
    ///
    /// As [`map_put`](ClusterChannel::map_put).
    pub async fn map_put_with(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
        value: &[u8],
        options: WriteOptions,
    ) -> Result<u64, ChannelError> {
        let (m, k, v) = (map.to_owned(), key.to_vec(), value.to_vec());
        self.write(group, move |engine, g, now| {
            engine.node.map_put(now, g, &m, &k, &v, options)
        })
        .await
    }

    /// Removes `key` from `map` of `group` and waits until that is
    /// replicated.
    ///
    /// # Errors
    ///
    /// As [`map_put`](ClusterChannel::map_put).
    pub async fn map_remove(&self, group: &str, map: &str, key: &[u8]) -> Result<(), ChannelError> {
        let (m, k) = (map.to_owned(), key.to_vec());
        self.write(group, move |engine, g, now| {
            engine.node.map_remove(now, g, &m, &k, 0)
        })
        .await
        .map(|_| ())
    }

    /// Runs a map command, retrying while the map has no coordinator yet
    /// (just after a view change it is still syncing), and waits for its
    /// outcome.
    async fn write<F>(&self, group: &str, op: F) -> Result<u64, ChannelError>
    where
        F: Fn(&mut Engine, GroupId, blaze_node::Instant) -> Result<RequestId, MapError>
            + Send
            + Sync
            + 'static,
    {
        let g = GroupId::from_name(group);
        let op = std::sync::Arc::new(op);
        let rx = self
            .until_accepted(group, move |engine, hub, now| {
                let request = op(engine, g, now)?;
                let (tx, rx) = oneshot::channel();
                hub.writes.insert((g, request), tx);
                Ok(rx)
            })
            .await?;
        match tokio::time::timeout(WRITE_LIMIT, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ChannelError::Closed),
            Err(_) => Err(ChannelError::Timeout),
        }
    }

    /// Calls `command` on the task until the map accepts it (it refuses
    /// with "no coordinator" while it syncs after a view change), for up
    /// to ten seconds.
    async fn until_accepted<T, F>(&self, group: &str, command: F) -> Result<T, ChannelError>
    where
        T: Send + 'static,
        F: Fn(&mut Engine, &mut Hub, blaze_node::Instant) -> Result<T, MapError>
            + Send
            + Sync
            + 'static,
    {
        let command = std::sync::Arc::new(command);
        let deadline = tokio::time::Instant::now() + WRITE_LIMIT;
        loop {
            let c = std::sync::Arc::clone(&command);
            let r = self
                .runner()?
                .call(move |engine: &mut Engine, hub: &mut Hub, now| c(engine, hub, now))
                .await?;
            match r {
                Ok(value) => return Ok(value),
                Err(MapError::Map(blaze_map::CommandError::NoCoordinator))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(map_error(e, group)),
            }
        }
    }

    /// Takes the write lock of `key` in `map` of `group` for `lease`
    /// (released when the lease runs out unless renewed), waiting while
    /// another member holds it, up to `lease` plus ten seconds.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Map`], [`ChannelError::Timeout`],
    /// [`ChannelError::NotInGroup`], [`ChannelError::NotStarted`].
    pub async fn lock(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<LockGrant, ChannelError> {
        let (g, m, k) = (GroupId::from_name(group), map.to_owned(), key.to_vec());
        let rx = self
            .until_accepted(group, move |engine, hub, now| {
                let request = engine.node.lock(now, g, &m, &k, lease.into())?;
                let (tx, rx) = oneshot::channel();
                hub.locks.insert((g, request), tx);
                Ok(rx)
            })
            .await?;
        match tokio::time::timeout(lease + WRITE_LIMIT, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(ChannelError::Closed),
            Err(_) => Err(ChannelError::Timeout),
        }
    }

    /// Extends a held lock's lease to `lease` from now.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Map`] (not held), [`ChannelError::NotStarted`].
    pub async fn renew_lock(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
        lease: Duration,
    ) -> Result<(), ChannelError> {
        let (g, m, k) = (GroupId::from_name(group), map.to_owned(), key.to_vec());
        self.runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, now| {
                engine.node.renew_lock(now, g, &m, &k, lease.into())
            })
            .await?
            .map(|_| ())
            .map_err(|e| map_error(e, group))
    }

    /// Releases a lock this member holds.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Map`] (not held), [`ChannelError::NotStarted`].
    pub async fn unlock(&self, group: &str, map: &str, key: &[u8]) -> Result<(), ChannelError> {
        let (g, m, k) = (GroupId::from_name(group), map.to_owned(), key.to_vec());
        self.runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, now| engine.node.unlock(now, g, &m, &k))
            .await?
            .map_err(|e| map_error(e, group))
    }

    /// The member holding the lock of `key`, as applied here.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`].
    pub async fn lock_holder(
        &self,
        group: &str,
        map: &str,
        key: &[u8],
    ) -> Result<Option<MemberId>, ChannelError> {
        let (g, m, k) = (GroupId::from_name(group), map.to_owned(), key.to_vec());
        Ok(self
            .runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, _| {
                engine.node.lock_info(g, &m, &k).map(|info| info.holder)
            })
            .await?)
    }

    /// Calls `listener` (on a task of its own) for every change of a map
    /// of any group of this member.
    pub fn on_map_change<F>(&self, mut listener: F)
    where
        F: FnMut(&MapChange) + Send + 'static,
    {
        let mut events = self.events();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let GroupEvent::MapChanged(change) = &event {
                    listener(change);
                }
            }
        });
    }

    /// The coordinator (master) of `group` in the current view.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`].
    pub async fn coordinator(&self, group: &str) -> Result<Option<MemberId>, ChannelError> {
        let g = GroupId::from_name(group);
        Ok(self
            .runner()?
            .call(move |engine: &mut Engine, _: &mut Hub, _| engine.node.coordinator(g))
            .await?)
    }

    /// Whether this member is the coordinator of `group`.
    ///
    /// # Errors
    ///
    /// [`ChannelError::NotStarted`].
    pub async fn is_coordinator(&self, group: &str) -> Result<bool, ChannelError> {
        Ok(self.coordinator(group).await? == Some(self.id()))
    }

    /// Waits until `group` has a coordinator and returns it.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Timeout`], [`ChannelError::NotStarted`].
    pub async fn wait_for_election(
        &self,
        group: &str,
        timeout: Duration,
    ) -> Result<MemberId, ChannelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(master) = self.coordinator(group).await? {
                return Ok(master);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChannelError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Calls `listener` (on a task of its own) with (group, new master,
    /// previous master) whenever the coordinator of a group changes.
    pub fn on_master_changed<F>(&self, mut listener: F)
    where
        F: FnMut(&str, MemberId, Option<MemberId>) + Send + 'static,
    {
        let mut events = self.events();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let GroupEvent::CoordinatorChanged {
                    group,
                    coordinator,
                    previous,
                } = &event
                {
                    listener(group, *coordinator, *previous);
                }
            }
        });
    }
}

fn map_error(e: MapError, group: &str) -> ChannelError {
    match e {
        MapError::NotJoined => ChannelError::NotInGroup(group.to_owned()),
        MapError::Map(e) => ChannelError::Map(e.to_string()),
        other => ChannelError::Map(other.to_string()),
    }
}
