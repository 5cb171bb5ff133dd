//! The Redis trigger, as Spin 4.1's `trigger-redis` runs it (`docs/spin-facts.md`, "Redis"):
//!
//! - one subscriber per server address (`[application.trigger.redis] address`, or a trigger's
//!   own `address`), subscribed with plain `SUBSCRIBE` to every channel of its triggers, after
//!   `{{ variable }}` templates are rendered;
//! - each message is handled to the end before the next one on that address is read; every
//!   component subscribed to the channel gets it, each in a fresh instance, at the same time;
//! - a handler that returns an error or traps is logged and the message is gone: no
//!   acknowledgement, no redelivery; so is a component that does not export
//!   `spin:redis/inbound-redis@3.0.0` (Spin looks for the export per message, not at start);
//! - a server that cannot be reached at start fails the start, and a lost connection ends the
//!   subscriber with "disconnected from ...": the trigger exits instead of reconnecting (under
//!   `spin up`, every trigger of the app then stops).
//!
//! Spin starts the trigger with `spin up`; here a test starts it with [`RedisTrigger::start`]
//! once the app is loaded, and reads its exit from [`RedisListeners`].

use crate::bindings::redis_trigger::RedisTriggerPre;
use crate::component::ComponentRuntime;
use crate::manifest::Manifest;
use crate::state::HostState;
use crate::variables::Variables;
use anyhow::{Context, anyhow};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::task::JoinHandle;
use wasmtime::component::InstancePre;

/// One `[[trigger.redis]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The server, e.g. `redis://127.0.0.1:6379`.
    pub address: String,
    pub channel: String,
    pub component: String,
}

#[derive(Default)]
pub struct RedisTrigger {
    subscriptions: Vec<Subscription>,
    /// Each subscribed component bound to its `inbound-redis` export, or why it cannot be.
    handlers: HashMap<String, Result<RedisTriggerPre<HostState>, String>>,
}

impl RedisTrigger {
    /// Reads the subscriptions and binds each subscribed component to its export.
    pub fn new(
        manifest: &Manifest,
        variables: &Variables,
        pre_of: impl Fn(&str) -> Option<InstancePre<HostState>>,
    ) -> anyhow::Result<Self> {
        let subscriptions: Vec<Subscription> = manifest
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
        let mut handlers = HashMap::new();
        for subscription in &subscriptions {
            let id = &subscription.component;
            let pre = pre_of(id).ok_or_else(|| anyhow!("no component {id:?}"))?;
            let bound = RedisTriggerPre::new(pre).map_err(|error| {
                format!("component {id} does not export spin:redis/inbound-redis: {error:?}")
            });
            handlers.insert(id.clone(), bound);
        }
        Ok(Self {
            subscriptions,
            handlers,
        })
    }

    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// Connects to every address and subscribes, as `spin up` does at start, then handles
    /// messages in the background until a connection is lost.
    pub async fn start(
        &self,
        components: &BTreeMap<String, Arc<ComponentRuntime>>,
    ) -> anyhow::Result<RedisListeners> {
        let mut by_address: BTreeMap<&str, HashMap<String, Vec<Handler>>> = BTreeMap::new();
        for subscription in &self.subscriptions {
            let runtime = components
                .get(&subscription.component)
                .ok_or_else(|| anyhow!("no component {:?}", subscription.component))?;
            let pre = self
                .handlers
                .get(&subscription.component)
                .ok_or_else(|| anyhow!("component {:?} is not bound", subscription.component))?;
            by_address
                .entry(&subscription.address)
                .or_default()
                .entry(subscription.channel.clone())
                .or_default()
                .push(Handler {
                    runtime: Arc::clone(runtime),
                    pre: pre.clone(),
                });
        }
        let handled = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (address, channels) in by_address {
            let client = redis::Client::open(address)
                .with_context(|| format!("Redis trigger: bad address {address:?}"))?;
            // Spin names the server as `host:port` in its messages.
            let server = client.get_connection_info().addr.to_string();
            let mut pubsub = client
                .get_async_pubsub()
                .await
                .with_context(|| format!("Redis trigger failed to connect to {server}"))?;
            for channel in channels.keys() {
                pubsub.subscribe(channel).await.with_context(|| {
                    format!("Redis trigger failed to subscribe to channel {channel:?} on {server}")
                })?;
            }
            let handled = Arc::clone(&handled);
            tasks.push(tokio::spawn(async move {
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let handlers = channels.get(message.get_channel_name());
                    let payload = message.get_payload_bytes().to_vec();
                    let deliveries = handlers
                        .into_iter()
                        .flatten()
                        .map(|handler| handler.deliver(payload.clone()));
                    futures::future::join_all(deliveries).await;
                    handled.fetch_add(1, Ordering::SeqCst);
                }
                anyhow!("disconnected from {server}")
            }));
        }
        Ok(RedisListeners { tasks, handled })
    }
}

/// One component subscribed to a channel.
struct Handler {
    runtime: Arc<ComponentRuntime>,
    pre: Result<RedisTriggerPre<HostState>, String>,
}

impl Handler {
    /// Runs the component once on `payload` in a fresh instance; an error is logged and the
    /// message dropped.
    async fn deliver(&self, payload: Vec<u8>) {
        let pre = match &self.pre {
            Ok(pre) => pre,
            Err(unbound) => return self.runtime.log.note(unbound),
        };
        let mut store = self.runtime.new_store();
        let outcome = async {
            let bindings = pre.instantiate_async(&mut store).await?;
            self.runtime.instantiated();
            let returned = store
                .run_concurrent(async |accessor| {
                    bindings
                        .spin_redis_inbound_redis()
                        .call_handle_message(accessor, payload)
                        .await
                })
                .await??;
            wasmtime::Result::Ok(returned)
        }
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => self
                .runtime
                .log
                .note(&format!("Redis handler returned an error: {error:?}")),
            Err(trap) => self.runtime.trapped(&trap),
        }
    }
}

/// The running subscribers of an app's Redis trigger; dropping it stops them.
pub struct RedisListeners {
    tasks: Vec<JoinHandle<anyhow::Error>>,
    handled: Arc<AtomicUsize>,
}

impl RedisListeners {
    /// Messages handled so far (every subscribed component ran to its end on each).
    pub fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }

    /// Whether a subscriber has ended (its connection was lost), as Spin's trigger exits.
    pub fn exited(&self) -> bool {
        self.tasks.iter().any(JoinHandle::is_finished)
    }

    /// Waits for the first subscriber to end and returns why.
    pub async fn exit(&mut self) -> anyhow::Error {
        if self.tasks.is_empty() {
            return anyhow!("no Redis subscriptions");
        }
        let (ended, _, _) = futures::future::select_all(self.tasks.iter_mut()).await;
        ended.unwrap_or_else(|panic| anyhow!("subscriber panicked: {panic}"))
    }
}

impl Drop for RedisListeners {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
