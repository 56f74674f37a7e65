//! The simulator stands alone: it speaks only Azure's wire formats and depends on nothing of
//! AzCops (production's own queries are checked against it by the `azcops` package's contract
//! test, tests/it/sim_contract.rs).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_simulator_neither_depends_on_nor_imports_azcops() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let dependencies: Vec<&str> = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.trim_start().starts_with("azcops"))
        .collect();
    assert!(dependencies.is_empty(), "{dependencies:?}");
    let files = rust_files(&root.join("src"));
    assert!(files.len() > 20, "the sources are found: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source file");
        let imports: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter(|l| l.contains("azcops::"))
            .collect();
        assert!(imports.is_empty(), "{}: {imports:?}", file.display());
    }
}
