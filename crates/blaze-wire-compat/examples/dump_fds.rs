//! Writes the schema's FileDescriptorSet to a file, for Python and other
//! protobuf runtimes: `cargo run -p blaze-wire-compat --example dump_fds -- OUT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_fds OUT_FILE");
        return ExitCode::from(2);
    };
    match std::fs::write(&path, blaze_wire_compat::FILE_DESCRIPTOR_SET) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
