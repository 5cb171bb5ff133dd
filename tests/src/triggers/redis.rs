//! The Redis trigger's subscriptions: which component handles messages on which channel of
//! which server, read from `[[trigger.redis]]` and `[application.trigger.redis]`.
//!
//! What the host does today: loads and links each subscribed component without asking it to
//! export `wasi:http`, renders `{{ variable }}` templates in addresses and channels as Spin
//! does (a trigger may read `channel = "{{ redis_channel }}"`), and
//! exposes the subscriptions. It does not yet connect to Redis or deliver messages: nothing in
//! the app subscribes yet. Delivery (calling `spin:redis/inbound-redis@3.0.0#handle-message`)
//! belongs here when the first Redis-triggered component arrives.

use crate::manifest::Manifest;
use crate::variables::Variables;

/// One `[[trigger.redis]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The server, e.g. `redis://127.0.0.1:6379`.
    pub address: String,
    pub channel: String,
    pub component: String,
}

#[derive(Debug, Default)]
pub struct RedisTrigger {
    subscriptions: Vec<Subscription>,
}

impl RedisTrigger {
    pub fn new(manifest: &Manifest, variables: &Variables) -> anyhow::Result<Self> {
        let subscriptions = manifest
            .trigger
            .redis
            .iter()
            .map(|trigger| {
                let address = manifest.redis_address(trigger).unwrap_or_default();
                Ok(Subscription {
                    address: variables.render(address)?,
                    channel: variables.render(&trigger.channel)?,
                    component: trigger.component.clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { subscriptions })
    }

    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }
}
