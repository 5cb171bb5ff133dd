//! A loaded Spin app: manifest, runtime config, compiled components and their instance pools.

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::SpinImports;
use crate::component::{ComponentConfig, ComponentRuntime, ComponentStats, InstanceLimits};
use crate::key_value::KeyValueBackend;
use crate::logs::ComponentLog;
use crate::manifest::Manifest;
use crate::outbound::Chain;
use crate::routing::{RouteMatch, Router};
use crate::runtime_config::{RuntimeConfig, StoreDecl};
use crate::state::{HostState, SpinHost};
use crate::variables::{ComponentVariables, Variables};
use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::handler::{self, ProxyHandler, ProxyPre};
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// The body of every response the host hands out.
pub type HostBody = UnsyncBoxBody<Bytes, wasmtime::Error>;
/// The body of every request the host takes in.
pub type RequestBody = UnsyncBoxBody<Bytes, handler::ErrorCode>;

/// The client address Spin reports for service-chaining requests.
pub const CHAINED_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// How to load an app.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Variable values that win over environment and defaults.
    pub variables: HashMap<String, String>,
    pub limits: InstanceLimits,
    /// Directory that relative store paths of the runtime config resolve against; defaults to
    /// the runtime config file's directory, as in Spin.
    pub storage_root: Option<PathBuf>,
    /// Read `SPIN_VARIABLE_*` from the process environment (on unless turned off).
    pub ignore_environment: bool,
    /// Runs another Wasm file in place of a component, keeping the manifest's grants for it:
    /// lets a test probe exactly what a component is allowed to do.
    pub replace_sources: HashMap<String, PathBuf>,
}

/// A running app.
pub struct App {
    shared: Arc<AppShared>,
}

pub struct AppShared {
    router: Router,
    components: HashMap<String, LoadedComponent>,
    /// Host and port used in `spin-full-url` when a request names none.
    default_authority: String,
    /// Kept alive for stores without a path.
    _scratch: tempfile::TempDir,
}

struct LoadedComponent {
    handler: ProxyHandler<ComponentRuntime>,
    log: ComponentLog,
    stats: Arc<ComponentStats>,
}

impl App {
    /// Loads `spin.toml` at `manifest_path` with `runtime-config.toml` at `runtime_config`
    /// (or none), compiling each component (cached per process).
    pub fn load(
        manifest_path: &Path,
        runtime_config: Option<&Path>,
        options: AppOptions,
    ) -> anyhow::Result<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let app_dir = manifest_path.parent().unwrap_or(Path::new(".")).to_owned();
        let runtime = match runtime_config {
            Some(path) => RuntimeConfig::load(path)?,
            None => RuntimeConfig::default(),
        };
        let storage_root = options.storage_root.clone().unwrap_or_else(|| {
            runtime_config
                .and_then(Path::parent)
                .map_or(app_dir.clone(), Path::to_owned)
        });
        let scratch = tempfile::tempdir()?;
        let variables = Variables::resolve(&manifest.variables, &options.variables, |name| {
            if options.ignore_environment {
                None
            } else {
                std::env::var(name).ok()
            }
        })?;
        let router = Router::build(&manifest)?;
        let stores = Stores::open(&manifest, &runtime, &storage_root, scratch.path())?;
        let engine = engine()?;
        let linker = linker(&engine)?;

        let mut configs = Vec::new();
        for (id, decl) in &manifest.component {
            let allowed = decl
                .allowed_outbound_hosts
                .iter()
                .map(|entry| variables.render(entry))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let config = ComponentConfig {
                id: id.clone(),
                key_value_stores: stores.key_value_grants(id, &decl.key_value_stores)?,
                sqlite_databases: stores.sqlite_grants(id, &decl.sqlite_databases)?,
                allowed_hosts: AllowedHosts::parse(&allowed)
                    .with_context(|| format!("component {id}"))?,
                variables: ComponentVariables::new(id, &manifest, &variables)?,
            };
            let source = match options.replace_sources.get(id) {
                Some(replacement) => replacement.clone(),
                None => app_dir.join(&decl.source),
            };
            let component = compile(&engine, &source).with_context(|| format!("component {id}"))?;
            let pre = ServicePre::new(linker.instantiate_pre(&component)?)?;
            configs.push((config, pre));
        }

        let shared = Arc::new_cyclic(|weak| {
            let components = configs
                .into_iter()
                .map(|(config, pre)| {
                    let log = ComponentLog::default();
                    let stats = Arc::new(ComponentStats::default());
                    let id = config.id.clone();
                    let runtime = ComponentRuntime {
                        config: Arc::new(config),
                        engine: engine.clone(),
                        pre: ProxyPre::P3(pre),
                        limits: options.limits,
                        log: log.clone(),
                        stats: Arc::clone(&stats),
                        chain: Chain(weak.clone()),
                    };
                    (
                        id,
                        LoadedComponent {
                            handler: ProxyHandler::new(runtime),
                            log,
                            stats,
                        },
                    )
                })
                .collect();
            AppShared {
                router,
                components,
                default_authority: "127.0.0.1:3000".to_owned(),
                _scratch: scratch,
            }
        });
        Ok(Self { shared })
    }

    /// Handles one request as `spin up` would for a client at `client`.
    pub async fn handle(
        &self,
        request: Request<RequestBody>,
        client: SocketAddr,
    ) -> Response<HostBody> {
        self.shared.handle(request, client).await
    }

    /// Everything a component wrote to stdout/stderr, plus host notes (traps).
    pub fn log(&self, component: &str) -> String {
        self.shared
            .components
            .get(component)
            .map(|c| c.log.contents())
            .unwrap_or_default()
    }

    /// All components' logs, labelled.
    pub fn logs(&self) -> String {
        let mut ids: Vec<_> = self.shared.components.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| format!("----- {id} -----\n{}", self.log(id)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn stats(&self, component: &str) -> Option<Arc<ComponentStats>> {
        self.shared
            .components
            .get(component)
            .map(|c| Arc::clone(&c.stats))
    }

    pub(crate) fn shared(&self) -> &Arc<AppShared> {
        &self.shared
    }
}

impl Drop for App {
    /// A failing test shows what the components wrote.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("component output:\n{}", self.logs());
        }
    }
}

impl AppShared {
    pub fn has_component(&self, id: &str) -> bool {
        self.components.contains_key(id)
    }

    pub async fn handle(
        &self,
        request: Request<RequestBody>,
        client: SocketAddr,
    ) -> Response<HostBody> {
        let Some(route) = self.router.route(request.uri().path()) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let authority = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .or_else(|| {
                request
                    .headers()
                    .get(HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.default_authority.clone());
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let full_url = format!("http://{authority}{path_and_query}");
        let (mut parts, body) = request.into_parts();
        parts.uri = match full_url.parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return empty(StatusCode::BAD_REQUEST),
        };
        self.dispatch(&route, Request::from_parts(parts, body), &full_url, client)
            .await
    }

    /// Runs the routed component on the request; a trap or an error-code return becomes what
    /// Spin answers: 500 with an empty body.
    pub async fn dispatch<B>(
        &self,
        route: &RouteMatch,
        request: Request<B>,
        full_url: &str,
        client: SocketAddr,
    ) -> Response<HostBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<handler::ErrorCode>,
    {
        let Some(component) = self.components.get(&route.component) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let (mut parts, body) = request.into_parts();
        route.set_spin_headers(&mut parts.headers, full_url, client);
        let request = Request::from_parts(parts, body.map_err(Into::into).boxed_unsync());
        match component.handler.handle((), request).await {
            Ok(response) => response,
            Err(error) => {
                component.log.note(&format!("request failed: {error:?}"));
                empty(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// A response with no body and `content-length: 0`, as Spin sends for 404 and 500.
fn empty(status: StatusCode) -> Response<HostBody> {
    let mut response = Response::new(
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// Key-value backends and SQLite files of the app, by label.
struct Stores {
    key_value: BTreeMap<String, Arc<KeyValueBackend>>,
    sqlite: BTreeMap<String, PathBuf>,
}

impl Stores {
    /// Opens every store the runtime config declares, plus `default` where a component is
    /// granted it (Spin always provides `default`).
    fn open(
        manifest: &Manifest,
        runtime: &RuntimeConfig,
        root: &Path,
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let location =
            |label: &str, kind: &str, decl: Option<&StoreDecl>| -> anyhow::Result<PathBuf> {
                let path = match decl.and_then(|d| d.path.as_ref()) {
                    Some(path) if path.is_absolute() => path.clone(),
                    Some(path) => root.join(path),
                    None => scratch.join(format!("{kind}-{label}.db")),
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                Ok(path)
            };
        let mut key_value = BTreeMap::new();
        let mut kv_labels: Vec<&String> = runtime.key_value_store.keys().collect();
        let mut sql_labels: Vec<&String> = runtime.sqlite_database.keys().collect();
        let default = "default".to_owned();
        let default_ref = &default;
        if manifest
            .component
            .values()
            .any(|c| c.key_value_stores.contains(default_ref))
        {
            kv_labels.push(default_ref);
        }
        if manifest
            .component
            .values()
            .any(|c| c.sqlite_databases.contains(default_ref))
        {
            sql_labels.push(default_ref);
        }
        for label in kv_labels {
            let path = location(label, "kv", runtime.key_value_store.get(label))?;
            key_value
                .entry(label.clone())
                .or_insert(KeyValueBackend::open(&path)?);
        }
        let mut sqlite = BTreeMap::new();
        for label in sql_labels {
            let path = location(label, "sqlite", runtime.sqlite_database.get(label))?;
            sqlite.entry(label.clone()).or_insert(path);
        }
        Ok(Self { key_value, sqlite })
    }

    /// Spin refuses to start when a component is granted a store nobody declared.
    fn key_value_grants(
        &self,
        id: &str,
        labels: &[String],
    ) -> anyhow::Result<HashMap<String, Arc<KeyValueBackend>>> {
        labels
            .iter()
            .map(|label| match self.key_value.get(label) {
                Some(backend) => Ok((label.clone(), Arc::clone(backend))),
                None => {
                    bail!("component {id} uses key-value store {label:?}, which is not defined")
                }
            })
            .collect()
    }

    fn sqlite_grants(
        &self,
        id: &str,
        labels: &[String],
    ) -> anyhow::Result<HashMap<String, PathBuf>> {
        labels
            .iter()
            .map(|label| match self.sqlite.get(label) {
                Some(path) => Ok((label.clone(), path.clone())),
                None => {
                    bail!("component {id} uses SQLite database {label:?}, which is not defined")
                }
            })
            .collect()
    }
}

/// One engine per process, so compiled components can be shared between apps.
fn engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config).map_err(|e| anyhow!("{e:?}"))?;
    Ok(ENGINE.get_or_init(|| engine).clone())
}

/// Compiles a component once per process and file version.
fn compile(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    type Cache = Mutex<HashMap<(PathBuf, SystemTime), Component>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("{} (was it built?)", path.display()))?;
    let key = (path.to_owned(), modified);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(component) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(component);
    }
    let component = Component::from_file(engine, path).map_err(|e| anyhow!("{e:?}"))?;
    if let Ok(mut cache) = cache.lock() {
        cache.insert(key, component.clone());
    }
    Ok(component)
}

fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    SpinImports::add_to_linker::<_, SpinHost>(&mut linker, HostState::spin_view)?;
    Ok(linker)
}
