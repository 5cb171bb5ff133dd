//! Generates the Rust messages of `movie.proto` and `moviesystem/v1/ratings.proto` with
//! prost-build, from descriptors compiled by protox: pure Rust, so no `protoc` is needed to
//! build any component. Cargo reruns this when a `.proto` file changes.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["movie.proto", "moviesystem/v1/ratings.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["."])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
