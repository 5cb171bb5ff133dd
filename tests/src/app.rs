//! A loaded Spin app, trigger-agnostic: manifest, runtime config, variables, stores, and every
//! component compiled, granted and linked; then each trigger built over them
//! (`crate::triggers`).

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::SpinImports;
use crate::component::{ComponentConfig, ComponentRuntime, ComponentStats};
use crate::logs::ComponentLog;
use crate::manifest::Manifest;
use crate::outbound::Chain;
use crate::profiler::{EpochTicker, Profile, ProfileOptions, Sampling};
use crate::runtime_config::RuntimeConfig;
use crate::state::{HostState, SpinHost};
use crate::stores::Stores;
use crate::triggers::http::pool::InstanceLimits;
use crate::triggers::http::{HostBody, HttpPlan, HttpTrigger, RequestBody};
use crate::triggers::redis::{RedisListeners, RedisTrigger, Subscription};
use crate::variables::{ComponentVariables, Variables};
use anyhow::{Context, anyhow};
use http::{Request, Response};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine};

/// How to load an app.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Variable values that win over environment and defaults.
    pub variables: HashMap<String, String>,
    /// Instance reuse of the HTTP trigger.
    pub limits: InstanceLimits,
    /// Directory that relative store paths of the runtime config resolve against; defaults to
    /// the runtime config file's directory, as in Spin.
    pub storage_root: Option<PathBuf>,
    /// Read `SPIN_VARIABLE_*` from the process environment (on unless turned off).
    pub ignore_environment: bool,
    /// Runs another Wasm file in place of a component, keeping the manifest's grants for it:
    /// lets a test probe exactly what a component is allowed to do.
    pub replace_sources: HashMap<String, PathBuf>,
    /// Profiles one component with wasmtime's guest profiler (see [`App::write_profile`]).
    pub profile: Option<ProfileOptions>,
}

/// A running app.
pub struct App {
    shared: Arc<AppShared>,
    /// Bearer token [`App::request`] sends (a test client's convenience, like a curl alias;
    /// [`App::send`] sends exactly what it is given).
    bearer: Mutex<Option<String>>,
    /// The profile being recorded and the ticker that drives its samples, when profiling.
    profiling: Option<(Arc<Profile>, EpochTicker)>,
}

/// What the triggers and service chaining share.
pub struct AppShared {
    components: BTreeMap<String, Arc<ComponentRuntime>>,
    pub http: HttpTrigger,
    pub redis: RedisTrigger,
    /// Kept alive for stores without a path.
    _scratch: tempfile::TempDir,
}

/// A component compiled, granted and linked, before the app exists.
struct Linked {
    config: ComponentConfig,
    pre: InstancePre<HostState>,
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
        let stores = Stores::open(&manifest, &runtime, &storage_root, scratch.path())?;
        let profiled = options.profile.as_ref();
        let engine = engine(profiled.is_some())?;
        let linker = linker(&engine)?;
        let mut profile = None;

        let mut linked = BTreeMap::new();
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
            let component = compile(&engine, &source, profiled.is_some())
                .with_context(|| format!("component {id}"))?;
            if let Some(options) = profiled.filter(|p| &p.component == id) {
                profile = Some(Profile::new(&engine, id, &component, options.interval)?);
            }
            let pre = linker
                .instantiate_pre(&component)
                .map_err(|error| anyhow!("component {id} cannot be linked: {error:?}"))?;
            linked.insert(id.clone(), Linked { config, pre });
        }

        if let Some(options) = profiled
            && profile.is_none()
        {
            anyhow::bail!("no component {} to profile", options.component);
        }
        let sampling = |id: &str| {
            profiled.map(|options| match &profile {
                Some(profile) if options.component == id => Sampling::Record(Arc::clone(profile)),
                _ => Sampling::Skip,
            })
        };

        let http = HttpPlan::new(&manifest, |id| linked.get(id).map(|l: &Linked| &l.pre))?;
        let redis = RedisTrigger::new(&manifest, &variables, |id| {
            linked.get(id).map(|l: &Linked| l.pre.clone())
        })?;

        let shared = Arc::new_cyclic(|weak| {
            let components: BTreeMap<_, _> = linked
                .into_iter()
                .map(|(id, linked)| {
                    let runtime = ComponentRuntime {
                        config: Arc::new(linked.config),
                        engine: engine.clone(),
                        pre: linked.pre,
                        log: ComponentLog::default(),
                        stats: Arc::new(ComponentStats::default()),
                        chain: Chain(weak.clone()),
                        sampling: sampling(&id),
                    };
                    (id, Arc::new(runtime))
                })
                .collect();
            AppShared {
                http: http.start(&components, options.limits),
                redis,
                components,
                _scratch: scratch,
            }
        });
        let profiling = profile.map(|profile| {
            let ticker = EpochTicker::start(engine.clone(), Arc::clone(&profile));
            (profile, ticker)
        });
        Ok(Self {
            shared,
            bearer: Mutex::new(None),
            profiling,
        })
    }

    /// Writes the profile of the component named in [`AppOptions::profile`] (Firefox
    /// Profiler JSON) and stops recording it.
    pub fn write_profile(&self, output: impl std::io::Write) -> anyhow::Result<()> {
        let (profile, _) = self
            .profiling
            .as_ref()
            .context("this app was not loaded with a profile")?;
        profile.finish(output)
    }

    /// Makes [`App::request`] send `Authorization: Bearer <token>` (or nothing, for `None`).
    pub fn use_bearer(&self, token: Option<String>) {
        *self
            .bearer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }

    /// The token [`App::request`] sends, if any.
    pub fn bearer(&self) -> Option<String> {
        self.bearer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Handles one HTTP request as `spin up` would for a client at `client`.
    pub async fn handle(
        &self,
        request: Request<RequestBody>,
        client: SocketAddr,
    ) -> Response<HostBody> {
        self.shared.http.handle(request, client).await
    }

    /// What the Redis trigger subscribes to.
    pub fn redis_subscriptions(&self) -> &[Subscription] {
        self.shared.redis.subscriptions()
    }

    /// Starts the Redis trigger as `spin up` does: connects to each address, subscribes, and
    /// handles messages until a connection is lost (then the listeners report the exit).
    pub async fn start_redis(&self) -> anyhow::Result<RedisListeners> {
        self.shared.redis.start(&self.shared.components).await
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
        self.shared
            .components
            .iter()
            .map(|(id, c)| format!("----- {id} -----\n{}", c.log.contents()))
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

/// One engine per process and kind, so compiled components can be shared between apps: the
/// plain one, and one with epoch interruption for profiled apps.
fn engine(profiling: bool) -> anyhow::Result<Engine> {
    static PLAIN: OnceLock<Engine> = OnceLock::new();
    static PROFILING: OnceLock<Engine> = OnceLock::new();
    let cell = if profiling { &PROFILING } else { &PLAIN };
    if let Some(engine) = cell.get() {
        return Ok(engine.clone());
    }
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    config.epoch_interruption(profiling);
    let engine = Engine::new(&config).map_err(|e| anyhow!("{e:?}"))?;
    Ok(cell.get_or_init(|| engine).clone())
}

/// Compiles a component once per process and file version.
/// `epochs`: whether `engine` is the profiling one, whose code differs.
fn compile(engine: &Engine, path: &Path, epochs: bool) -> anyhow::Result<Component> {
    type Cache = Mutex<HashMap<(PathBuf, SystemTime, bool), Component>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("{} (was it built?)", path.display()))?;
    let key = (path.to_owned(), modified, epochs);
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

/// Every host interface a component may import, whatever triggers it: WASI 0.2 and 0.3 (as
/// Spin links both; a guest timer is `wasi:clocks/monotonic-clock@0.3.0`), wasi:http 0.3
/// (types and client) and the Spin interfaces of `wit/`. Sockets and files stay closed: the
/// WASI context grants no address and no directory.
fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    SpinImports::add_to_linker::<_, SpinHost>(&mut linker, HostState::spin_view)?;
    Ok(linker)
}
