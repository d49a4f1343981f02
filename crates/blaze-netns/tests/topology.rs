//! The topology against the real kernel (skipped without root). Traffic is
//! checked with tiny python3 UDP/TCP echo programs run inside the hosts.

use std::process::{Command, Stdio};
use std::time::Duration;

use blaze_netns::{Topology, require_or_skip};

/// Echoes UDP datagrams on port 9000 (joined to 239.1.2.3 on `eth0`) and
/// accepts TCP connections on port 9001.
const SERVER: &str = r#"
import socket, struct, sys, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
u.bind(("0.0.0.0", 9000))
mreq = socket.inet_aton("239.1.2.3") + socket.inet_aton(sys.argv[1])
u.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 9001))
t.listen(8)
def accept():
    while True:
        c, _ = t.accept()
        c.close()
threading.Thread(target=accept, daemon=True).start()
print("ready", flush=True)
while True:
    d, a = u.recvfrom(100)
    u.sendto(d, a)
"#;

/// Sends to `argv[1]` (UDP port 9000, or TCP port 9001 with `tcp`) and
/// exits 0 once answered.
const CLIENT: &str = r#"
import socket, sys
if sys.argv[2] == "tcp":
    try:
        socket.create_connection((sys.argv[1], 9001), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        sys.exit(1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
for _ in range(4):
    s.sendto(b"x", (sys.argv[1], 9000))
    try:
        s.recvfrom(100)
        sys.exit(0)
    except OSError:
        pass
sys.exit(1)
"#;

fn python(script: &str, args: &[String]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    c
}

/// Starts an echo server on every host, returns once they listen.
fn servers(net: &Topology) -> Vec<blaze_netns::Process> {
    (0..net.hosts())
        .map(|h| {
            let mut p = net
                .spawn(h, &python(SERVER, &[net.addr(h).to_string()]))
                .expect("server");
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(p.stdout().unwrap()),
                &mut line,
            )
            .unwrap();
            assert_eq!(line.trim(), "ready");
            p
        })
        .collect()
}

fn reaches(net: &Topology, from: usize, to: &str, proto: &str) -> bool {
    let mut p = net
        .spawn_with(
            from,
            &python(CLIENT, &[to.to_owned(), proto.to_owned()]),
            Stdio::null(),
            Stdio::null(),
            Stdio::inherit(),
        )
        .unwrap();
    p.wait_timeout(Duration::from_secs(10))
        .unwrap()
        .is_some_and(|s| s.success())
}

fn udp(net: &Topology, from: usize, to: usize) -> bool {
    reaches(net, from, &net.addr(to).to_string(), "udp")
}

/// The interfaces of the namespace the test runs in.
fn root_links() -> Vec<String> {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_owned()))
        .collect()
}

fn namespaces() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hosts_reach_each_other_partitions_cut_and_heal_and_drop_cleans_up() {
    if require_or_skip("topology").is_none() {
        return;
    }
    let links_before = root_links();
    let net = Topology::new("bztopo", 3).expect("topology");
    let prefix = net.prefix().to_owned();
    // Nothing was added to the namespace the test runs in.
    assert_eq!(root_links(), links_before);
    assert!(namespaces().contains(&format!("{prefix}-h2")));
    let routes = net.exec(1, "ip", &["route"]).unwrap();
    assert!(routes.contains("224.0.0.0/4 dev eth0"), "{routes}");
    let bridge = Command::new("ip")
        .args(["-n", &net.bridge_namespace(), "-d", "link", "show", "br0"])
        .output()
        .unwrap();
    let bridge = String::from_utf8_lossy(&bridge.stdout);
    assert!(bridge.contains("mcast_snooping 0"), "{bridge}");

    let _servers = servers(&net);
    assert!(udp(&net, 0, 1) && udp(&net, 2, 0));
    // Multicast reaches the other hosts through the bridge.
    assert!(reaches(&net, 0, "239.1.2.3", "udp"));

    net.partition(&[&[0], &[1, 2]]).unwrap();
    assert!(!udp(&net, 0, 1));
    assert!(!udp(&net, 2, 0));
    assert!(udp(&net, 1, 2));
    net.heal().unwrap();
    assert!(udp(&net, 0, 1));

    // 100 % loss drops UDP arriving at host 1 only: TCP still goes through.
    net.set_loss(1, 100).unwrap();
    let rules = net.exec(1, "nft", &["list", "ruleset"]).unwrap();
    assert!(rules.contains("meta l4proto udp counter"), "{rules}");
    assert!(!udp(&net, 0, 1));
    assert!(
        net.dropped(1).unwrap() >= 4,
        "the client's four tries were dropped"
    );
    assert_eq!(net.dropped(0).unwrap(), 0);
    assert!(reaches(&net, 0, &net.addr(1).to_string(), "tcp"));
    assert!(udp(&net, 0, 2));
    net.set_loss(1, 30).unwrap();
    let rules = net.exec(1, "nft", &["list", "ruleset"]).unwrap();
    assert!(rules.contains("numgen random mod 100 < 30"), "{rules}");
    net.set_loss(1, 0).unwrap();
    assert!(udp(&net, 0, 1));

    let sleeper = net
        .spawn(2, Command::new("sleep").arg("60"))
        .expect("spawned");
    let pid = sleeper.pid();
    // `ip netns exec` enters the namespace, then becomes `sleep`.
    for _ in 0..500 {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        if comm.trim() == "sleep" {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let netns_of = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(netns_of, ours, "the process runs in the host's namespace");
    // A forgotten handle: the topology still kills the process by PID.
    std::mem::forget(sleeper);
    drop(net);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
    assert!(!namespaces().contains(&prefix));
}

#[test]
fn a_panicking_test_still_cleans_up() {
    if require_or_skip("topology_panic").is_none() {
        return;
    }
    let prefix = std::sync::Mutex::new(String::new());
    let result = std::panic::catch_unwind(|| {
        let net = Topology::new("bzpanic", 2).expect("topology");
        *prefix.lock().unwrap() = net.prefix().to_owned();
        let _p = net.spawn(0, Command::new("sleep").arg("60")).unwrap();
        panic!("deliberate");
    });
    assert!(result.is_err());
    let prefix = prefix.into_inner().unwrap();
    assert!(!prefix.is_empty());
    assert!(!namespaces().contains(&prefix));
}

#[test]
fn unknown_hosts_are_refused() {
    if require_or_skip("topology_hosts").is_none() {
        return;
    }
    let net = Topology::new("bzhosts", 1).expect("topology");
    assert!(net.set_loss(1, 5).is_err());
    assert!(net.partition(&[&[0], &[3]]).is_err());
    assert!(net.spawn(2, &Command::new("true")).is_err());
    assert!(Topology::new("bzhosts", blaze_netns::MAX_HOSTS + 1).is_err());
}
