//! The book's chapter 4 comparison, for the book's `Metadata`: encoded size, and the time to
//! encode and to decode it as JSON (serde_json, as the REST routes do) and as Protocol Buffers
//! (prost, as gRPC and `application/x-protobuf` do).
//!
//! `cargo bench -p movie-proto --bench serialization [-- ROUNDS ITERATIONS]`; prints the median
//! of ROUNDS (default 7) rounds of ITERATIONS (default 200,000) operations each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use movie_proto::Metadata;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::Instant;

/// The JSON shape the metadata service sends and takes.
#[derive(Serialize, Deserialize)]
struct MetadataJson {
    id: String,
    title: String,
    description: String,
    director: String,
}

/// The book's example value.
fn example() -> (MetadataJson, Metadata) {
    let (id, title, description, director) = (
        "123",
        "The Movie 2",
        "Sequel of the legendary The Movie",
        "Foo Bars",
    );
    (
        MetadataJson {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            director: director.into(),
        },
        Metadata {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            director: director.into(),
        },
    )
}

/// Nanoseconds per call of `operation`: the median over `rounds` rounds of `iterations`.
fn time(rounds: usize, iterations: u32, mut operation: impl FnMut()) -> f64 {
    let mut per_call: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                operation();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iterations)
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .filter_map(|a| a.parse::<u64>().ok());
    let rounds = args.next().unwrap_or(7) as usize;
    let iterations = args.next().unwrap_or(200_000) as u32;
    let (json_value, proto_value) = example();
    let json = serde_json::to_vec(&json_value).unwrap();
    let proto = proto_value.encode_to_vec();

    let json_encode = time(rounds, iterations, || {
        black_box(serde_json::to_vec(black_box(&json_value)).unwrap());
    });
    let proto_encode = time(rounds, iterations, || {
        black_box(black_box(&proto_value).encode_to_vec());
    });
    let json_decode = time(rounds, iterations, || {
        black_box(serde_json::from_slice::<MetadataJson>(black_box(&json)).unwrap());
    });
    let proto_decode = time(rounds, iterations, || {
        black_box(Metadata::decode(black_box(proto.as_slice())).unwrap());
    });

    println!("the book's Metadata, median of {rounds} rounds x {iterations}");
    println!("format    size (bytes)  encode (ns)  decode (ns)");
    println!(
        "JSON      {:>12}  {json_encode:>11.0}  {json_decode:>11.0}",
        json.len()
    );
    println!(
        "protobuf  {:>12}  {proto_encode:>11.0}  {proto_decode:>11.0}",
        proto.len()
    );
}
