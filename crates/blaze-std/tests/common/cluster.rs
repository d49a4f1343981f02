//! A cluster of `blaze node --control stdio` processes, one per host of a
//! `blaze_netns::Topology`: commands go in on each node's standard input,
//! the JSON events it prints are collected by a reader thread per node.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use blaze_netns::{Process, Topology};
use serde_json::Value;

/// Every node's unicast port (fixed, so that seeds can name it).
pub(crate) const PORT: u16 = 7700;
/// The cluster's multicast group.
pub(crate) const GROUP: &str = "239.255.50.1:7600";
/// Heartbeat interval of every node.
pub(crate) const HEARTBEAT_MS: u64 = 100;
/// Silence after which a member is declared failed.
pub(crate) const FAILURE_TIMEOUT_MS: u64 = 1000;
/// The longest a cluster's scenario may take: every wait ends by then, so
/// that the whole suite stays within its time bound even when it fails.
pub(crate) const BUDGET: Duration = Duration::from_secs(45);

/// How members find each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discovery {
    /// Multicast on the bridge.
    Multicast,
    /// Unicast only: each node names every other host as a seed.
    Seeds,
}

/// The events one node printed, in order.
#[derive(Debug, Default)]
pub(crate) struct Log {
    events: Mutex<(Vec<Value>, bool)>,
    changed: Condvar,
}

impl Log {
    fn push(&self, event: Value) {
        self.events.lock().unwrap().0.push(event);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.events.lock().unwrap().1 = true;
        self.changed.notify_all();
    }

    /// A copy of the events so far.
    pub(crate) fn snapshot(&self) -> Vec<Value> {
        self.events.lock().unwrap().0.clone()
    }

    /// Waits up to `limit` for `done` to hold over the events; returns the
    /// events then, or `None` on time-out.
    pub(crate) fn wait(
        &self,
        limit: Duration,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> Option<Vec<Value>> {
        let until = Instant::now() + limit;
        let mut guard = self.events.lock().unwrap();
        loop {
            if done(&guard.0) {
                return Some(guard.0.clone());
            }
            let left = until.checked_duration_since(Instant::now())?;
            guard = self.changed.wait_timeout(guard, left).unwrap().0;
        }
    }
}

/// One running node.
pub(crate) struct Node {
    /// Its member id, as its `up` event said.
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// What it printed.
    pub(crate) log: Arc<Log>,
    stdin: ChildStdin,
    process: Process,
    stderr: PathBuf,
}

/// The nodes of a topology.
pub(crate) struct Cluster {
    /// The namespaces, bridge and rules.
    pub(crate) net: Topology,
    /// The node of each host (`None` while killed).
    pub(crate) nodes: Vec<Option<Node>>,
    discovery: Discovery,
    dir: PathBuf,
    started: u32,
    deadline: Instant,
}

impl Cluster {
    /// A topology of `hosts` hosts, with `loss` % of incoming UDP dropped on
    /// each, and a node started on every host; returns once every node's
    /// view holds all of them.
    pub(crate) fn start(prefix: &str, hosts: usize, discovery: Discovery, loss: u8) -> Self {
        let net = Topology::new(prefix, hosts).expect("topology");
        for h in 0..hosts {
            net.set_loss(h, loss).expect("loss rule");
        }
        let dir = std::env::temp_dir().join(net.prefix());
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let mut cluster = Cluster {
            net,
            nodes: (0..hosts).map(|_| None).collect(),
            discovery,
            dir,
            started: 0,
            deadline: Instant::now() + BUDGET,
        };
        for h in 0..hosts {
            cluster.spawn(h);
        }
        let ids = cluster.ids();
        cluster.wait_views(
            &(0..hosts).collect::<Vec<_>>(),
            &ids,
            Duration::from_secs(30),
        );
        cluster
    }

    /// `want`, cut to what is left of the scenario's [`BUDGET`].
    pub(crate) fn limit(&self, want: Duration) -> Duration {
        want.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn config(&self, host: usize, name: &str) -> String {
        let mut c = format!(
            "name = \"{name}\"\ninterface = \"{}\"\nport = {PORT}\ngroups = [\"blaze\"]\n\
             heartbeat_ms = {HEARTBEAT_MS}\nfailure_timeout_ms = {FAILURE_TIMEOUT_MS}\n",
            self.net.addr(host)
        );
        match self.discovery {
            Discovery::Multicast => c.push_str(&format!("group = \"{GROUP}\"\n")),
            Discovery::Seeds => {
                let seeds: Vec<String> = (0..self.net.hosts())
                    .filter(|&h| h != host)
                    .map(|h| format!("\"{}:{PORT}\"", self.net.addr(h)))
                    .collect();
                c.push_str(&format!("seeds = [{}]\n", seeds.join(", ")));
            }
        }
        c.push_str(
            "[topics]\nrel = \"reliable\"\ntot = \"agreed\"\nsaf = \"safe\"\ntw = \"agreed\"\n",
        );
        c
    }

    /// Starts a (new) node on `host` and waits for its `up` event.
    pub(crate) fn spawn(&mut self, host: usize) {
        assert!(
            self.nodes[host].is_none(),
            "host {host} already runs a node"
        );
        self.started += 1;
        let name = format!("n{host}-{}", self.started);
        let config = self.dir.join(format!("{name}.toml"));
        std::fs::write(&config, self.config(host, &name)).expect("config written");
        let stderr = self.dir.join(format!("{name}.stderr"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_blaze"));
        command
            .args(["node", "--control", "stdio", "--config"])
            .arg(&config)
            .env("BLAZE_LOG", "warn");
        let mut process = self
            .net
            .spawn_with(
                host,
                &command,
                Stdio::piped(),
                Stdio::piped(),
                Stdio::from(File::create(&stderr).expect("stderr file")),
            )
            .expect("node spawned");
        let stdin = process.stdin().expect("stdin");
        let stdout = process.stdout().expect("stdout");
        let log = Arc::new(Log::default());
        let reader = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str(&line) {
                    Ok(event) => reader.push(event),
                    Err(_) => eprintln!("not JSON from a node: {line}"),
                }
            }
            reader.close();
        });
        let up = log
            .wait(self.limit(Duration::from_secs(20)), |e| {
                e.iter().any(|e| e["ev"] == "up")
            })
            .unwrap_or_else(|| {
                panic!(
                    "node {name} did not come up: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            });
        let id = up.iter().find(|e| e["ev"] == "up").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.nodes[host] = Some(Node {
            id,
            name,
            log,
            stdin,
            process,
            stderr,
        });
    }

    /// The node of `host`.
    pub(crate) fn node(&self, host: usize) -> &Node {
        self.nodes[host].as_ref().expect("a running node")
    }

    /// The ids of the running nodes.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.nodes.iter().flatten().map(|n| n.id.clone()).collect()
    }

    /// Sends a command line to the node of `host`.
    pub(crate) fn send(&mut self, host: usize, line: &str) {
        let node = self.nodes[host].as_mut().expect("a running node");
        writeln!(node.stdin, "{line}").expect("command written");
        node.stdin.flush().expect("command flushed");
    }

    /// Sends `line` and waits for the first new event named `ev`.
    pub(crate) fn ask(&mut self, host: usize, line: &str, ev: &str) -> Value {
        let before = self.node(host).log.snapshot().len();
        self.send(host, line);
        let events = self
            .node(host)
            .log
            .wait(self.limit(Duration::from_secs(20)), |e| {
                e[before..].iter().any(|e| e["ev"] == ev)
            })
            .unwrap_or_else(|| panic!("no {ev} after {line:?} on host {host}"));
        events[before..]
            .iter()
            .find(|e| e["ev"] == ev)
            .unwrap()
            .clone()
    }

    /// Kills the node of `host` with SIGKILL.
    pub(crate) fn kill(&mut self, host: usize) -> Node {
        let mut node = self.nodes[host].take().expect("a running node");
        node.process.kill().expect("killed");
        node
    }

    /// Waits until every node of `hosts` last reported a view whose members
    /// are exactly `members` (in any order).
    pub(crate) fn wait_views(&self, hosts: &[usize], members: &[String], limit: Duration) {
        let mut want = members.to_vec();
        want.sort();
        for &h in hosts {
            let ok = self.node(h).log.wait(self.limit(limit), |events| {
                last_view(events).is_some_and(|mut v| {
                    v.sort();
                    v == want
                })
            });
            assert!(
                ok.is_some(),
                "host {h} never saw the view {want:?}; its last view: {:?}",
                last_view(&self.node(h).log.snapshot())
            );
        }
    }

    /// Waits until every node of `hosts` printed an event `ev` with the
    /// given fields, `count` times in all.
    pub(crate) fn wait_count(&self, hosts: &[usize], ev: &str, count: usize, limit: Duration) {
        for &h in hosts {
            let ok = self.node(h).log.wait(self.limit(limit), |events| {
                events.iter().filter(|e| e["ev"] == ev).count() >= count
            });
            assert!(ok.is_some(), "host {h}: fewer than {count} {ev} events");
        }
    }

    /// Asks every node of `hosts` for `key` of `map`.
    pub(crate) fn values(
        &mut self,
        hosts: &[usize],
        map: &str,
        keys: &[String],
    ) -> Vec<BTreeMap<String, Option<String>>> {
        hosts
            .iter()
            .map(|&h| {
                keys.iter()
                    .map(|k| {
                        let v = self.ask(h, &format!("get {map} {k}"), "value");
                        assert_eq!(v["key"], k.as_str());
                        (k.clone(), v["value"].as_str().map(str::to_owned))
                    })
                    .collect()
            })
            .collect()
    }
}

/// The members of the last view in `events`.
pub(crate) fn last_view(events: &[Value]) -> Option<Vec<String>> {
    events.iter().rev().find(|e| e["ev"] == "view").map(|e| {
        e["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    })
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (h, node) in self.nodes.iter().enumerate() {
                let Some(node) = node else { continue };
                let events = node.log.snapshot();
                eprintln!("--- host {h} ({}, {}): last events", node.name, node.id);
                let shown: Vec<&Value> = events
                    .iter()
                    .filter(|e| e["ev"] != "value" && e["ev"] != "msg")
                    .collect();
                for e in shown.iter().rev().take(40).rev() {
                    eprintln!("  {e}");
                }
                // Messages, as counts per topic and sender.
                let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
                for e in events.iter().filter(|e| e["ev"] == "msg") {
                    let sender = e["payload"].as_str().unwrap_or("").split(':').next();
                    let key = (e["topic"].to_string(), sender.unwrap_or("").to_owned());
                    *counts.entry(key).or_default() += 1;
                }
                eprintln!("  messages (topic, sender): {counts:?}");
                let stderr = std::fs::read_to_string(&node.stderr).unwrap_or_default();
                let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
                for line in tail.iter().rev() {
                    eprintln!("  stderr: {line}");
                }
            }
        }
        // The nodes die with the topology (killed by PID); then the files go.
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
