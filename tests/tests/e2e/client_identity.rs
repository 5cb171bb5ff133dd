//! Who a rate limit counts: the address Spin reports, never one the client names. Spin appends
//! its `spin-client-addr` after the client's own headers (the host does the same), and
//! `X-Forwarded-For` is believed only from `trusted_proxies`. Each test spends a small quota
//! honestly and then tries to escape it, or to spend someone else's, with forged headers, on
//! the three limits a client without a token meets: token requests (auth), composed views
//! (movie) and exports (metadata).

use super::common;
use bytes::Bytes;
use http::{Request, StatusCode};
use spin_test_host::{AppOptions, TestResponse};
use std::net::SocketAddr;

/// The movie system with quotas of 2 per hour (so no window ends mid-test) and `trusted`.
fn limited(trusted: &str) -> common::MovieSystem {
    let variables = [
        ("token_rate_limit", "2"),
        ("view_rate_limit", "2"),
        ("write_rate_limit", "2"),
        ("rate_limit_window_s", "3600"),
        ("trusted_proxies", trusted),
    ];
    common::movie_system_with(AppOptions {
        variables: variables
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        ..AppOptions::default()
    })
}

/// A request a client without a token may make, on each limited surface.
#[derive(Clone, Copy, Debug)]
enum Surface {
    Token,
    View,
    Export,
}

const SURFACES: [Surface; 3] = [Surface::Token, Surface::View, Surface::Export];

impl Surface {
    fn request(self, headers: &[(&str, &str)]) -> Request<Bytes> {
        let builder = match self {
            Self::Token => Request::post("/auth/token")
                .header("authorization", "Basic Z3Vlc3M6d3Jvbmc=")
                .header("content-type", "application/x-www-form-urlencoded"),
            Self::View => Request::get("/movies/m1").header("cache-control", "no-cache"),
            Self::Export => Request::get("/metadata/export"),
        };
        let builder = headers.iter().fold(builder, |builder, (name, value)| {
            builder.header(*name, *value)
        });
        let body = match self {
            Self::Token => Bytes::from_static(b"grant_type=client_credentials"),
            _ => Bytes::new(),
        };
        builder.body(body).expect("request")
    }
}

async fn send(
    app: &common::MovieSystem,
    surface: Surface,
    from: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let peer: SocketAddr = from.parse().expect("peer address");
    app.send_from(surface.request(headers), peer)
        .await
        .expect("the app answers")
}

fn limited_out(response: &TestResponse) -> bool {
    response.status == StatusCode::TOO_MANY_REQUESTS
}

/// Uses up `from`'s quota on `surface` with plain requests.
async fn spend_quota(app: &common::MovieSystem, surface: Surface, from: &str) {
    for n in 1..=2 {
        let response = send(app, surface, from, &[]).await;
        assert!(
            !limited_out(&response),
            "{surface:?}: request {n} of a quota of 2 from {from} was refused"
        );
    }
}

/// Sends more than a quota's worth of requests from another client, each with `header`
/// naming the victim, then asserts that the victim is still served.
async fn assert_victim_unaffected(
    app: &common::MovieSystem,
    surface: Surface,
    header: (&str, &str),
) {
    let victim = "192.0.2.10:5000";
    for _ in 0..4 {
        send(app, surface, "198.51.100.66:1", &[header]).await;
    }
    let response = send(app, surface, victim, &[]).await;
    assert!(
        !limited_out(&response),
        "{surface:?}: the victim was locked out by requests sending {header:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_spin_client_addr_does_not_escape_a_spent_quota() {
    let app = limited("");
    for surface in SURFACES {
        let client = "198.51.100.7:40000";
        spend_quota(&app, surface, client).await;
        for forged in ["203.0.113.1:1", "203.0.113.2:1", "[2001:db8::1]:1"] {
            let response = send(&app, surface, client, &[("spin-client-addr", forged)]).await;
            assert!(
                limited_out(&response),
                "{surface:?} from a client over its quota naming itself {forged}: {}",
                response.status
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_spin_client_addr_does_not_spend_another_clients_quota() {
    let app = limited("");
    for surface in SURFACES {
        assert_victim_unaffected(&app, surface, ("spin-client-addr", "192.0.2.10:5000")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    let app = limited("10.0.0.0/8");
    for surface in SURFACES {
        let client = "198.51.100.7:40000";
        spend_quota(&app, surface, client).await;
        let escape = send(&app, surface, client, &[("x-forwarded-for", "203.0.113.5")]).await;
        assert!(
            limited_out(&escape),
            "{surface:?}: a client over its quota escaped by naming another address"
        );
        assert_victim_unaffected(&app, surface, ("x-forwarded-for", "192.0.2.10")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_range_each_client_has_its_own_quota() {
    let app = limited("10.42.0.0/16");
    for surface in SURFACES {
        // Two ingress pods of the trusted range, each forwarding for the client it saw.
        for (n, pod) in ["10.42.1.5:8080", "10.42.9.9:8080"].into_iter().enumerate() {
            let response = send(&app, surface, pod, &[("x-forwarded-for", "198.51.100.1")]).await;
            assert!(
                !limited_out(&response),
                "{surface:?}: request {n} of client 1"
            );
        }
        let other = send(
            &app,
            surface,
            "10.42.1.5:8080",
            &[("x-forwarded-for", "198.51.100.2")],
        )
        .await;
        assert!(
            !limited_out(&other),
            "{surface:?}: a second client behind the proxy shares the first one's quota"
        );
        let again = send(
            &app,
            surface,
            "10.42.1.5:8080",
            &[("x-forwarded-for", "198.51.100.1")],
        )
        .await;
        assert!(
            limited_out(&again),
            "{surface:?}: client 1's third request, through either pod, is over its quota"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_a_forged_hop_does_not_escape_a_spent_quota() {
    let app = limited("10.42.0.0/16");
    let proxy = "10.42.1.5:8080";
    for surface in SURFACES {
        for _ in 0..2 {
            send(&app, surface, proxy, &[("x-forwarded-for", "198.51.100.1")]).await;
        }
        // The client's own value, extended by the proxy, and sent as a line of its own.
        let extended = send(
            &app,
            surface,
            proxy,
            &[("x-forwarded-for", "203.0.113.9, 198.51.100.1")],
        )
        .await;
        assert!(
            limited_out(&extended),
            "{surface:?}: a forged left-most hop escaped the quota"
        );
        let request = surface.request(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        let lines = app
            .send_from(request, proxy.parse().expect("peer"))
            .await
            .expect("the app answers");
        assert!(
            limited_out(&lines),
            "{surface:?}: a forged X-Forwarded-For line before the proxy's escaped the quota"
        );
    }
}
