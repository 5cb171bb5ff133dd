//! A probe component for the test host's self-tests. It does what our services must never do
//! (open any store, call any URL, panic on request) so tests can check that the host answers
//! exactly as Spin does. Only `tests/fixtures/probe-app/spin.toml` uses it.
//!
//! It also exports a Redis handler, for the Redis trigger's self-tests: it prints `start <m>`
//! and `end <m>` around each message `m`, sleeps for a message `sleep-<ms>`, fails for `fail`
//! and panics for `trap`.

/// The Redis handler (see the crate's doc).
#[cfg(target_arch = "wasm32")]
mod redis_entry {
    #[spin_sdk::redis_subscriber]
    async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
        let text = String::from_utf8_lossy(&message).into_owned();
        println!("start {text}");
        if let Some(ms) = text.strip_prefix("sleep-").and_then(|ms| ms.parse().ok()) {
            spin_sdk::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        match text.as_str() {
            "fail" => anyhow::bail!("the probe was asked to fail"),
            "trap" => panic!("the probe was asked to trap"),
            _ => {}
        }
        println!("end {text}");
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
mod entry {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use spin_sdk::http::{EmptyBody, Request};
    use std::cell::Cell;

    thread_local! {
        /// Requests served by this instance: shows instance reuse from outside.
        static SERVED: Cell<u64> = const { Cell::new(0) };
    }

    type Reply = http::Response<Full<Bytes>>;

    fn reply(text: String) -> Reply {
        let length = text.len();
        let mut response = http::Response::new(Full::new(Bytes::from(text)));
        response
            .headers_mut()
            .insert("content-length", length.into());
        response
    }

    thread_local! {
        /// The `cache` store, opened once per instance as the services open theirs.
        static STORE: std::cell::RefCell<Option<std::rc::Rc<spin_sdk::key_value::Store>>> =
            const { std::cell::RefCell::new(None) };
    }

    /// The instance's `cache` store, with the key the `kv` kind reads written on opening.
    async fn instance_store() -> anyhow::Result<std::rc::Rc<spin_sdk::key_value::Store>> {
        if let Some(store) = STORE.with(|cell| cell.borrow().clone()) {
            return Ok(store);
        }
        let store = spin_sdk::key_value::Store::open("cache").await?;
        store.set("cost", b"v").await?;
        let store = std::rc::Rc::new(store);
        STORE.with(|cell| cell.replace(Some(std::rc::Rc::clone(&store))));
        Ok(store)
    }

    /// `count` host calls of one `kind`, one after another, for the cost model of
    /// `tests/benches/host_calls.py`: a store read or write (the store opened once per
    /// instance), a SQLite statement (on a connection opened per request), a service-chained GET
    /// (of the `exact` component), a wall-clock read, a log line, a variable read, a timer
    /// started and dropped (a deadline the work beat), or a yield to the host (not a host call:
    /// what `service_kit::host_turn` spends).
    async fn host_calls(kind: &str, count: u32) -> anyhow::Result<()> {
        match kind {
            "none" => {}
            "kv" => {
                let store = instance_store().await?;
                for _ in 0..count {
                    store.get("cost").await?;
                }
            }
            "kv-write" => {
                let store = instance_store().await?;
                for _ in 0..count {
                    store.set("cost", b"v").await?;
                }
            }
            "sqlite" => {
                let db = spin_sdk::sqlite::Connection::open("data").await?;
                for _ in 0..count {
                    db.execute("SELECT 1", []).await?.collect().await?;
                }
            }
            "chain" => {
                for _ in 0..count {
                    let request = http::Request::get("http://exact.spin.internal/probe/exact")
                        .body(EmptyBody::new())?;
                    let response = spin_sdk::http::send(request).await?;
                    response.into_body().collect().await?;
                }
            }
            "clock" => {
                for _ in 0..count {
                    std::hint::black_box(spin_sdk::wasip3::clocks::system_clock::now());
                }
            }
            "log" => {
                for i in 0..count {
                    eprintln!("{{\"level\":\"info\",\"event\":\"cost.line\",\"n\":{i}}}");
                }
            }
            "variable" => {
                for _ in 0..count {
                    spin_sdk::variables::get("greeting").await?;
                }
            }
            "timer" => {
                // A deadline's timer that the work beat: started, then dropped unfinished.
                for _ in 0..count {
                    let timer = spin_sdk::time::sleep(std::time::Duration::from_secs(1));
                    futures::future::select(std::pin::pin!(timer), std::future::ready(())).await;
                }
            }
            "yield" => {
                for _ in 0..count {
                    spin_sdk::wit_bindgen::yield_async().await;
                }
            }
            other => anyhow::bail!("no host call of kind {other}"),
        }
        Ok(())
    }

    #[spin_sdk::http_service]
    async fn serve(request: Request) -> Reply {
        let served = SERVED.with(|s| {
            s.set(s.get() + 1);
            s.get()
        });
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let info = header("spin-path-info");
        let query: Vec<(String, String)> =
            form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let segments: Vec<&str> = info.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["kv", label] => reply(match spin_sdk::key_value::Store::open(label).await {
                Ok(store) => match store.set("k", b"v").await {
                    Ok(()) => format!("ok {:?}", store.get("k").await),
                    Err(e) => format!("{e:?}"),
                },
                Err(e) => format!("{e:?}"),
            }),
            ["sqlite", label] => reply(match spin_sdk::sqlite::Connection::open(label).await {
                Ok(db) => match db.execute("SELECT 1", []).await {
                    Ok(rows) => format!("ok {:?}", rows.collect().await.map(|r| r.len())),
                    Err(e) => format!("{e:?}"),
                },
                Err(e) => format!("{e:?}"),
            }),
            ["sqlite", label, "attach"] => {
                reply(match spin_sdk::sqlite::Connection::open(label).await {
                    Ok(db) => {
                        let statement = format!("ATTACH DATABASE '{}' AS other", param("file"));
                        match db.execute(statement, []).await {
                            Ok(rows) => format!("ok {:?}", rows.collect().await.map(|r| r.len())),
                            Err(e) => format!("{e:?}"),
                        }
                    }
                    Err(e) => format!("{e:?}"),
                })
            }
            // Opens the Redis server at `?address=` and pings it.
            ["redis"] => reply(
                match spin_sdk::redis::Connection::open(param("address")).await {
                    Ok(connection) => match connection.execute("PING", []).await {
                        Ok(results) => format!("ok {results:?}"),
                        Err(e) => format!("{e:?}"),
                    },
                    Err(e) => format!("{e:?}"),
                },
            ),
            ["var", name] => reply(match spin_sdk::variables::get(name).await {
                Ok(value) => format!("ok {value}"),
                Err(e) => format!("{e:?}"),
            }),
            ["fetch"] => {
                let outbound = http::Request::get(param("url")).body(EmptyBody::new());
                let Ok(mut outbound) = outbound else {
                    return reply("bad url".into());
                };
                // `first_byte_ms` sets the wasi:http first-byte timeout on the request.
                if let Ok(ms) = param("first_byte_ms").parse::<u64>() {
                    let options = spin_sdk::wasip3::http::types::RequestOptions::new();
                    let _ = options.set_first_byte_timeout(Some(ms * 1_000_000));
                    outbound.extensions_mut().insert(
                        spin_sdk::wasip3::http_compat::RequestOptionsExtension(options),
                    );
                }
                reply(match spin_sdk::http::send(outbound).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.into_body().collect().await.map(|b| b.to_bytes());
                        let body = body
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default();
                        format!("status {status} {body}")
                    }
                    Err(e) => format!("{e:?}"),
                })
            }
            ["panic"] => panic!("the probe was asked to panic"),
            // Standing in for a service, a path ending in `slow-<ms>` answers after that long:
            // a slow chained upstream.
            [.., last] if last.starts_with("slow-") => {
                let ms = last.trim_start_matches("slow-").parse().unwrap_or(0);
                spin_sdk::time::sleep(std::time::Duration::from_millis(ms)).await;
                reply(format!("slept {ms} ms"))
            }
            ["count"] => reply(served.to_string()),
            // `headers`: no host call, but `count` more response headers for the host to take.
            ["cost", "headers", count] => {
                let count: u32 = count.parse().unwrap_or(0);
                let mut response = reply(format!("{count} headers"));
                for i in 0..count {
                    let name = http::HeaderName::try_from(format!("x-cost-{i}"));
                    if let Ok(name) = name {
                        response
                            .headers_mut()
                            .insert(name, http::HeaderValue::from_static("public, max-age=1"));
                    }
                }
                response
            }
            ["cost", kind, count] => {
                let count: u32 = count.parse().unwrap_or(0);
                reply(match host_calls(kind, count).await {
                    Ok(()) => format!("{count} {kind}"),
                    Err(error) => format!("{error:?}"),
                })
            }
            _ => {
                let mut fields = serde_json::Map::new();
                fields.insert("uri".into(), request.uri().to_string().into());
                for (name, value) in request.headers() {
                    if name.as_str().starts_with("spin-") {
                        fields.insert(name.to_string(), value.to_str().unwrap_or_default().into());
                    }
                }
                reply(serde_json::Value::Object(fields).to_string())
            }
        }
    }
}
