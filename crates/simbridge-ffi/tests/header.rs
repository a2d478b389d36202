//! include/simbridge.h is what cbindgen makes of this crate: regenerated in memory and compared,
//! so a changed function cannot ship with a stale header.

use std::path::Path;

#[test]
fn header_matches_the_code() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => panic!("cbindgen.toml: {e}"),
    };
    let bindings = match cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => panic!("cbindgen cannot read the crate: {e}"),
    };
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let file = crate_dir.join("../../include/simbridge.h");
    if std::env::var_os("SIMBRIDGE_BLESS").is_some() {
        std::fs::write(&file, &fresh).expect("write include/simbridge.h");
        return;
    }
    let current = std::fs::read(&file).unwrap_or_default();
    assert!(
        current == fresh,
        "include/simbridge.h is not what the code gives; refresh it with\n    \
         SIMBRIDGE_BLESS=1 cargo test -p simbridge-ffi --test header\nand commit it"
    );
}
