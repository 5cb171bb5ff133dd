//! `spin:variables/variables@3.0.0`.

use crate::bindings::variables::{self, Error};
use crate::state::{SpinHost, SpinView};
use crate::variables::GetError;
use wasmtime::component::Accessor;

impl variables::Host for SpinView<'_> {}

impl<T> variables::HostWithStore<T> for SpinHost {
    async fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        Ok(accessor.with(|mut access| {
            access
                .get()
                .state
                .component
                .variables
                .get(&name)
                .map_err(|error| match error {
                    GetError::InvalidName(message) => Error::InvalidName(message),
                    GetError::Undefined(message) => Error::Undefined(message),
                    GetError::Provider(message) => Error::Provider(message),
                })
        }))
    }
}
