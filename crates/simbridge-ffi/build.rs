//! Gives the shared library its ELF soname, `libsimbridge.so.<ABI>`: programs linked against it
//! then record that name, so an incompatible ABI (a new major) installs beside the old one and
//! never replaces it under a running program. `SIMBRIDGE_SONAME` reaches the crate so a unit test
//! can hold the soname and `SIMBRIDGE_ABI_VERSION` together.

/// Must equal `SIMBRIDGE_ABI_VERSION` in src/lib.rs (a unit test checks).
const ABI_MAJOR: u32 = 1;

fn main() {
    let soname = format!("libsimbridge.so.{ABI_MAJOR}");
    // Only ELF linkers know -soname (macOS's would refuse it).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    println!("cargo:rustc-env=SIMBRIDGE_SONAME={soname}");
    println!("cargo:rerun-if-changed=build.rs");
}
