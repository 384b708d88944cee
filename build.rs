//! Embeds every file under `web/` (the /dashboard and /explorer pages and their assets) in the
//! binary: writes `$OUT_DIR/web_assets.rs`, a table of `(path, bytes, etag)` that
//! `src/http/assets.rs` serves. The ETag is a content hash, so it changes exactly when the file does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = root.join("web");
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    if web.is_dir() {
        collect(&web, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&web)
            .expect("collected under web/")
            .to_str()
            .expect("asset paths are UTF-8")
            .replace('\\', "/");
        let bytes = std::fs::read(file).expect("asset readable");
        writeln!(
            table,
            "    ({relative:?}, include_bytes!({:?}) as &[u8], \"\\\"{:016x}\\\"\"),",
            file.display().to_string(),
            fnv1a(&bytes)
        )
        .expect("writing to a String");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_assets.rs");
    std::fs::write(out, table).expect("OUT_DIR writable");
}

/// Every file under `dir`, recursively; hidden files (editor droppings, .gitkeep) are skipped.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("web/ readable");
    for entry in entries {
        let path = entry.expect("web/ entry readable").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// 64-bit FNV-1a: a content fingerprint for ETags and cache-busting URLs, not a security hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
