//! The error of a topology operation.

use std::fmt;
use std::io;

/// A command the topology ran failed, or could not be started.
///
/// When it is returned from [`Topology::new`](crate::Topology::new) nothing
/// is left behind: the partly built topology was torn down. From the other
/// operations, the topology is unchanged apart from the failed step.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetnsError {
    /// The program could not be started (missing `ip` or `nft`, say).
    Spawn {
        /// The command line.
        command: String,
        /// Why it did not start.
        source: io::Error,
    },
    /// The program ran and exited unsuccessfully.
    Failed {
        /// The command line.
        command: String,
        /// Its exit code, `None` when a signal ended it.
        code: Option<i32>,
        /// What it wrote on standard error.
        stderr: String,
    },
    /// A host index past the topology's hosts (or, from
    /// [`Topology::new`](crate::Topology::new), more hosts than
    /// [`MAX_HOSTS`](crate::MAX_HOSTS)).
    NoSuchHost {
        /// The index given.
        host: usize,
        /// How many hosts there are.
        hosts: usize,
    },
}

impl fmt::Display for NetnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn { command, source } => write!(f, "could not run `{command}`: {source}"),
            Self::Failed {
                command,
                code,
                stderr,
            } => {
                let code = code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
                write!(f, "`{command}` failed with {code}: {}", stderr.trim())
            }
            Self::NoSuchHost { host, hosts } => {
                write!(f, "host {host} does not exist (the topology has {hosts})")
            }
        }
    }
}

impl std::error::Error for NetnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_show_the_command_code_and_stderr() {
        let e = NetnsError::Failed {
            command: "ip netns add x".into(),
            code: Some(2),
            stderr: "Operation not permitted\n".into(),
        };
        assert_eq!(
            e.to_string(),
            "`ip netns add x` failed with code 2: Operation not permitted"
        );
        let e = NetnsError::NoSuchHost { host: 5, hosts: 5 };
        assert_eq!(e.to_string(), "host 5 does not exist (the topology has 5)");
    }
}
