//! Generates the standard gRPC health service's messages from the `health.proto` the
//! repository ships (`proto/grpc/health/v1/`), with protox and prost-build: pure Rust, no
//! `protoc`. Cargo reruns this when the file changes.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let health = "grpc/health/v1/health.proto";
    println!("cargo:rerun-if-changed={root}/{health}");
    let descriptors = protox::compile([health], [root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
