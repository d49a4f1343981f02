//! Generates prost types and a FileDescriptorSet from `proto/blaze.proto`
//! with protox, so no `protoc` is needed.

use protox::prost::Message as _;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("blaze.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("blaze.fds"), fds.encode_to_vec())?;
    let mut cfg = prost_build::Config::new();
    cfg.btree_map(["."]);
    cfg.compile_fds(fds)?;
    Ok(())
}
