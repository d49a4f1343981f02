//! Runs the built `blaze` program as a user would.
#![cfg(feature = "cli")]

use std::process::{Command, Output};

fn blaze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blaze"))
        .args(args)
        .output()
        .expect("the blaze program runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A short raw benchmark, every case (one offered rate), one size, JSON
/// out: every case
/// reports messages that really went through the receiver processes.
#[test]
fn bench_raw_runs_every_case_between_processes() {
    let out = blaze(&[
        "bench",
        "--mode",
        "raw",
        "--sizes",
        "64",
        "--duration",
        "1",
        "--count",
        "20000",
        "--rate",
        "2000",
        "--idle-ms",
        "300",
        "--json",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 4, "{doc}");
    let cases: Vec<&str> = results
        .iter()
        .map(|r| r["case"].as_str().unwrap())
        .collect();
    assert_eq!(cases, ["throughput", "latency", "pingpong", "all-to-all"]);
    for r in results {
        assert_eq!(r["mode"], "raw");
        assert_eq!(r["size"], 64);
        let sent = r["sent"].as_u64().unwrap();
        // All-to-all: three senders of up to 20,000 each.
        assert!(sent > 0 && sent <= 60_000, "{r}");
        assert!(r["received"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["latency"]["count"].as_u64().unwrap() > 0, "{r}");
        assert!(r["latency"]["p50_us"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(results[0]["receivers"], 2);
    assert_eq!(results[2]["receivers"], 1);
    assert_eq!(results[3]["receivers"], 3);
}

#[test]
fn bench_refuses_a_non_loopback_interface_and_says_what_to_use() {
    let out = blaze(&["bench", "--interface", "192.0.2.1", "--duration", "1"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("127.0.0.1"), "{stderr}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in ["", "demo", "bench", "node", "pub", "sub", "members", "map"] {
        let args: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = blaze(&args);
        assert!(out.status.success());
        let stdout = text(&out.stdout);
        assert!(stdout.contains("Examples:"), "{args:?}: {stdout}");
    }
}

/// The demo runs a real three-member cluster and checks every feature.
#[test]
fn demo_passes_every_check_and_prints_its_summary() {
    let out = blaze(&["demo", "--messages", "50"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Summary: "), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(!stdout.contains("[FAIL]"), "{stdout}");
    for step in [
        "Members join",
        "Broadcast",
        "point-to-point",
        "Request and reply",
        "queue",
        "map",
        "lock",
        "killed",
        "coordinator fails over",
    ] {
        assert!(stdout.contains(step), "missing step {step:?}:\n{stdout}");
    }
}

/// Kills a background `blaze` process when dropped (by its process id).
struct Background(std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn background(args: &[&str]) -> Background {
    Background(
        Command::new(env!("CARGO_BIN_EXE_blaze"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the blaze program starts"),
    )
}

/// A long-running member, then short-lived members that list it, write
/// and read the map, publish and subscribe.
#[test]
fn member_commands_work_against_a_running_node() {
    let group = "239.255.62.7:47307";
    let net = ["--group", group, "--wait-ms", "2000"];
    let _node = background(&["node", "--group", group, "--name", "steady"]);
    std::thread::sleep(std::time::Duration::from_millis(500));

    let out = blaze(&[&["members", "blaze", "--json"][..], &net].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let members: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "steady"),
        "{members}"
    );

    let out = blaze(&[&["map", "put", "cfg", "colour", "blue"][..], &net].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = blaze(&[&["map", "get", "cfg", "colour"][..], &net].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "blue");
    let out = blaze(
        &[
            &["map", "get", "cfg", "absent", "--wait-ms", "300"][..],
            &net[..2],
        ]
        .concat(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("absent"));

    // Exits by itself after one message, or after 20 s.
    let sub = Command::new(env!("CARGO_BIN_EXE_blaze"))
        .args([
            "sub",
            "news",
            "--json",
            "--count",
            "1",
            "--timeout",
            "20",
            "--group",
            group,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let out = blaze(&[&["pub", "news", "hello from pub"][..], &net].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output = sub.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    let line: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a message")).unwrap();
    assert_eq!(line["payload"], "hello from pub");
    assert_eq!(line["qos"], "reliable");
}
