//! Running `ip` and `nft`, with exit codes checked and stderr kept.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::NetnsError;

/// Runs `program args`, returning its standard output.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, NetnsError> {
    run_with_input(program, args, None)
}

/// Runs `program args` with `input` on its standard input (nft scripts).
pub(crate) fn run_with_input(
    program: &str,
    args: &[&str],
    input: Option<&str>,
) -> Result<String, NetnsError> {
    let command = command_line(program, args);
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetnsError::Spawn {
            command: command.clone(),
            source,
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A failed write shows up as the program's own failure below.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| NetnsError::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetnsError::Failed {
            command,
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    let mut line = program.to_owned();
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_stderr_are_reported() {
        assert_eq!(run("sh", &["-c", "echo hi"]).unwrap(), "hi\n");
        let e = run("sh", &["-c", "echo nope >&2; exit 3"]).unwrap_err();
        match e {
            NetnsError::Failed {
                command,
                code,
                stderr,
            } => {
                assert_eq!(command, "sh -c echo nope >&2; exit 3");
                assert_eq!(code, Some(3));
                assert_eq!(stderr, "nope\n");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            run("/nonexistent/program", &[]),
            Err(NetnsError::Spawn { .. })
        ));
        assert_eq!(run_with_input("cat", &[], Some("x y")).unwrap(), "x y");
    }
}
