//! `spin:redis/redis@3.0.0` (outbound Redis) on the `redis` crate, as Spin 4.1's
//! `factor-outbound-redis` serves it to a WASIp3 component (`docs/spin-facts.md`, "Redis"):
//!
//! - `open` checks the address against the component's `allowed_outbound_hosts` before
//!   connecting (`redis://host` means port 6379) and answers `invalid-address` for an address
//!   not allowed or not parsed; each open is its own multiplexed connection;
//! - `execute` sends any command and flattens the reply: nested arrays and sets become one
//!   list, `OK` and simple strings `status`, doubles and big numbers `binary` text, booleans
//!   `int64`; maps, attributes, verbatim strings and server errors are `other` errors;
//! - every other error is `other` with the client's message.
//!
//! Not copied: Spin's per-instance cap on open connections (`too-many-connections`) and its
//! limit on buffered reply bytes; the app opens one connection per invocation and reads
//! bounded batches.

use crate::bindings::redis::{self, Error, RedisParameter, RedisResult};
use crate::component::ComponentStats;
use crate::state::{SpinHost, SpinView};
use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncCommands, FromRedisValue, Value};
use wasmtime::component::{Accessor, Resource};

/// The resource behind a guest's `connection` handle.
pub struct ConnectionHandle {
    connection: MultiplexedConnection,
}

impl redis::Host for SpinView<'_> {}

impl redis::HostConnection for SpinView<'_> {
    fn drop(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl SpinView<'_> {
    /// Whether this component may connect to `address`.
    fn may_connect(&self, address: &str) -> bool {
        address
            .parse::<http::Uri>()
            .is_ok_and(|uri| self.state.component.allowed_hosts.allows(&uri))
    }
}

/// The connection behind `handle`, counting one command.
fn connection<T>(
    accessor: &Accessor<T, SpinHost>,
    handle: &Resource<ConnectionHandle>,
) -> wasmtime::Result<MultiplexedConnection> {
    accessor.with(|mut access| {
        let view = access.get();
        ComponentStats::count(&view.state.stats.redis_commands);
        Ok(view.table.get(handle)?.connection.clone())
    })
}

fn other(error: impl std::fmt::Display) -> Error {
    Error::Other(error.to_string())
}

impl<T> redis::HostConnectionWithStore<T> for SpinHost {
    async fn open(
        accessor: &Accessor<T, Self>,
        address: String,
    ) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        let allowed = accessor.with(|mut access| {
            let view = access.get();
            ComponentStats::count(&view.state.stats.redis_opens);
            view.may_connect(&address)
        });
        if !allowed {
            return Ok(Err(Error::InvalidAddress));
        }
        let client = match ::redis::Client::open(address.as_str()) {
            Ok(client) => client,
            Err(_) => return Ok(Err(Error::InvalidAddress)),
        };
        let connection = match client.get_multiplexed_async_connection().await {
            Ok(connection) => connection,
            Err(error) => return Ok(Err(other(error))),
        };
        accessor.with(|mut access| {
            let handle = access.get().table.push(ConnectionHandle { connection })?;
            Ok(Ok(handle))
        })
    }

    async fn publish(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection
            .publish::<_, _, ()>(&channel, &payload)
            .await
            .map_err(other))
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.get(&key).await.map_err(other))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.set(&key, &value).await.map_err(other))
    }

    async fn incr(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.incr(&key, 1).await.map_err(other))
    }

    async fn del(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.del(&keys).await.map_err(other))
    }

    async fn sadd(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.sadd(&key, &values).await.map_err(|e| {
            if e.kind() == ::redis::ErrorKind::TypeError {
                Error::TypeError
            } else {
                other(e)
            }
        }))
    }

    async fn smembers(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.smembers(&key).await.map_err(other))
    }

    async fn srem(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut connection = connection(accessor, &handle)?;
        Ok(connection.srem(&key, &values).await.map_err(other))
    }

    async fn execute(
        accessor: &Accessor<T, Self>,
        handle: Resource<ConnectionHandle>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let mut connection = connection(accessor, &handle)?;
        let mut cmd = ::redis::cmd(&command);
        for argument in arguments {
            match argument {
                RedisParameter::Int64(value) => cmd.arg(value),
                RedisParameter::Binary(value) => cmd.arg(value),
            };
        }
        Ok(cmd
            .query_async::<Flattened>(&mut connection)
            .await
            .map(|flattened| flattened.0)
            .map_err(other))
    }
}

/// A reply as `execute` hands it to the guest: one flat list.
struct Flattened(Vec<RedisResult>);

impl FromRedisValue for Flattened {
    fn from_redis_value(value: &Value) -> ::redis::RedisResult<Self> {
        let mut values = Vec::new();
        flatten(&mut values, value)?;
        Ok(Self(values))
    }
}

fn unsupported(what: &str) -> ::redis::RedisError {
    ::redis::RedisError::from((
        ::redis::ErrorKind::TypeError,
        "Could not convert Redis response",
        format!("Redis {what} is not supported"),
    ))
}

fn flatten(values: &mut Vec<RedisResult>, value: &Value) -> ::redis::RedisResult<()> {
    let flat = match value {
        Value::Nil => RedisResult::Nil,
        Value::Int(value) => RedisResult::Int64(*value),
        Value::BulkString(bytes) => RedisResult::Binary(bytes.clone()),
        Value::SimpleString(text) => RedisResult::Status(text.clone()),
        Value::Okay => RedisResult::Status("OK".to_owned()),
        Value::Double(value) => RedisResult::Binary(value.to_string().into_bytes()),
        Value::Boolean(value) => RedisResult::Int64(i64::from(*value)),
        Value::BigNumber(value) => RedisResult::Binary(value.to_string().into_bytes()),
        Value::Array(items) | Value::Set(items) => {
            return items.iter().try_for_each(|item| flatten(values, item));
        }
        Value::Map(_) => return Err(unsupported("Map type")),
        Value::Attribute { .. } => return Err(unsupported("Attribute type")),
        Value::VerbatimString { .. } => return Err(unsupported("string with format attribute")),
        Value::Push { .. } => return Err(unsupported("Pub/Sub types")),
        Value::ServerError(error) => {
            return Err(::redis::RedisError::from((
                ::redis::ErrorKind::ResponseError,
                "Server error",
                format!("{error:?}"),
            )));
        }
    };
    values.push(flat);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flattened reply, as text (the generated type has no `PartialEq`).
    fn flat(value: Value) -> Result<String, String> {
        Flattened::from_redis_value(&value)
            .map(|f| format!("{:?}", f.0))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn nested_arrays_become_one_list_in_order() {
        let reply = Value::Array(vec![
            Value::BulkString(b"ratings".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"1-0".to_vec()),
                Value::Array(vec![
                    Value::BulkString(b"event".to_vec()),
                    Value::BulkString(b"{}".to_vec()),
                ]),
            ]),
            Value::Nil,
            Value::Int(3),
        ]);
        let expected = vec![
            RedisResult::Binary(b"ratings".to_vec()),
            RedisResult::Binary(b"1-0".to_vec()),
            RedisResult::Binary(b"event".to_vec()),
            RedisResult::Binary(b"{}".to_vec()),
            RedisResult::Nil,
            RedisResult::Int64(3),
        ];
        assert_eq!(flat(reply).unwrap(), format!("{expected:?}"));
    }

    #[test]
    fn ok_is_a_status_and_a_map_is_refused() {
        assert_eq!(
            flat(Value::Okay).unwrap(),
            format!("{:?}", vec![RedisResult::Status("OK".into())])
        );
        assert!(flat(Value::Map(vec![])).is_err(), "maps are not flattened");
    }
}
