//! Kernel behaviour with test modules registered the way real ones are: profile errors,
//! start order, reverse stop order, failed starts and failed tasks, strategy settings,
//! typed services, module HTTP, and override precedence.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_kernel::http::{response, Access, Route};
use node_kernel::{
    async_trait, inventory, plan, run, service, without_settings, Behaviour, BoxError, ConfigError,
    KernelError, Method, MethodEntry, Module, ModuleConfig, ModuleFactory, Profile, ProfileSource,
    RunOn, Service, StartContext, StrategyFactory,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// What the test modules did, in order. Tests that run nodes hold `SERIAL` so their
/// journals do not mix.
static JOURNAL: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bounds every wait, so a broken kernel fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(10);

fn journal(line: String) {
    JOURNAL.lock().unwrap().push(line);
}

fn take_journal() -> Vec<String> {
    std::mem::take(&mut *JOURNAL.lock().unwrap())
}

// Two typed services, as an API crate would declare them.

trait Store: Send + Sync {
    fn owner(&self) -> &'static str;
}
impl Service for dyn Store {
    const NAME: &'static str = "store";
}

trait Net: Send + Sync {
    fn owner(&self) -> &'static str;
}
impl Service for dyn Net {
    const NAME: &'static str = "net";
}

/// A different type under the name of [`Store`]: a declaration of it is not one of `Store`.
trait Impostor: Send + Sync {}
impl Service for dyn Impostor {
    const NAME: &'static str = "store";
}

struct Owned(&'static str);
impl Store for Owned {
    fn owner(&self) -> &'static str {
        self.0
    }
}
impl Net for Owned {
    fn owner(&self) -> &'static str {
        self.0
    }
}

/// A behaviour with two strategies: `fast` has a setting, `slow` has none.
const SPEED: Behaviour<u32> = Behaviour::new("test behaviour");

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct FastConfig {
    x: u32,
}

impl Default for FastConfig {
    fn default() -> Self {
        // Any number would do: the tests only check that a profile's value replaces it.
        FastConfig { x: 10 }
    }
}

inventory::submit! {
    StrategyFactory { behaviour: SPEED.name, name: "fast", description: "fast",
        registered_by: env!("CARGO_PKG_NAME"),
        build: |c| { let config: FastConfig = c.parse()?; Ok(SPEED.erase(config.x)) } }
}
inventory::submit! {
    StrategyFactory { behaviour: SPEED.name, name: "slow", description: "slow",
        registered_by: env!("CARGO_PKG_NAME"),
        build: |c| { without_settings(c)?; Ok(SPEED.erase(2)) } }
}

/// `double` wraps another strategy of `SPEED` (`of`, `fast` by default) and doubles it.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct DoubleConfig {
    of: String,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        DoubleConfig {
            of: "fast".to_string(),
        }
    }
}

inventory::submit! {
    StrategyFactory { behaviour: SPEED.name, name: "double", description: "double",
        registered_by: env!("CARGO_PKG_NAME"),
        build: |c| {
            let config: DoubleConfig = c.parse()?;
            let inner = c.wrap("of", &SPEED, &config.of)?;
            Ok(SPEED.erase(inner * 2))
        } }
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct TestConfig {
    /// Fail in `start`.
    fail: bool,
    /// Ask the node to shut down once started (stands in for a signal or `stop`).
    shutdown: bool,
    /// A number, to check types and override precedence.
    level: u32,
    /// A strategy name of `SPEED`.
    strategy: String,
    /// A task that fails once started: "panic" or "error".
    failing_task: String,
}

struct TestModule {
    name: &'static str,
    config: TestConfig,
}

#[async_trait]
impl Module for TestModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let name = self.name;
        journal(format!("start {name} level={}", self.config.level));
        // A task that ends only when the module's token fires: stop must wait for it.
        let cancel = ctx.cancel_token();
        ctx.spawn("waiter", async move {
            cancel.cancelled().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            journal(format!("task end {name}"));
        });
        ctx.on_stop(move || {
            journal(format!("stop {name}"));
            Ok(())
        });
        match name {
            "store" | "store2" => ctx.provide::<dyn Store>(Arc::new(Owned(name)))?,
            "net" => {
                let store = ctx.require::<dyn Store>()?;
                journal(format!("net found the store of {}", store.owner()));
                ctx.provide::<dyn Net>(Arc::new(Owned(name)))?;
            }
            "api" => {
                let net = ctx.require::<dyn Net>()?;
                let store = ctx.get::<dyn Store>()?.map_or("nobody", |s| s.owner());
                journal(format!(
                    "api found the net of {} and the store of {store}",
                    net.owner()
                ));
            }
            // Declares no service: asking for one is a bug of the module.
            "rogue" => {
                ctx.require::<dyn Store>()?;
            }
            // Declares `talk` but registers `chat` (and a table holding `talk` only when
            // configured with level 1, which is then all it registers).
            "talker" if self.config.level == 1 => {
                ctx.register_methods(&Arc::new(()), RunOn::Inline, TALK_TABLE)?;
            }
            "talker" => ctx.register_method(&CHAT, |_| async { Ok(serde_json::json!("hi")) })?,
            // Declares a service of the same name but another type.
            "impostor" => ctx.provide::<dyn Store>(Arc::new(Owned(name)))?,
            _ => {}
        }
        match self.config.failing_task.as_str() {
            "panic" => ctx.spawn("worker", panics()),
            "error" => ctx.spawn("worker", async { Err::<(), _>("disk full") }),
            _ => {}
        }
        if self.config.fail {
            return Err(format!("{name} refuses to start").into());
        }
        if self.config.shutdown {
            ctx.request_shutdown();
        }
        Ok(())
    }
}

async fn panics() {
    panic!("boom")
}

fn build(name: &'static str, config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: TestConfig = config.parse()?;
    if !parsed.strategy.is_empty() {
        config.strategy("strategy", &SPEED, &parsed.strategy)?;
    }
    Ok(Box::new(TestModule {
        name,
        config: parsed,
    }))
}

inventory::submit! {
    ModuleFactory { name: "store", description: "provides storage", registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn Store>()], needs: &[], uses: &[], methods: &[], build: |c| build("store", c) }
}
inventory::submit! {
    ModuleFactory { name: "net", description: "needs storage", registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn Net>()], needs: &[service::<dyn Store>()], uses: &[], methods: &[], build: |c| build("net", c) }
}
inventory::submit! {
    ModuleFactory { name: "api", description: "needs net, uses store", registered_by: env!("CARGO_PKG_NAME"),
        provides: &[], needs: &[service::<dyn Net>()], uses: &[service::<dyn Store>()], methods: &[], build: |c| build("api", c) }
}
inventory::submit! {
    ModuleFactory { name: "store2", description: "provides storage too", registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn Store>()], needs: &[], uses: &[], methods: &[], build: |c| build("store2", c) }
}
inventory::submit! {
    ModuleFactory { name: "rogue", description: "asks for storage without declaring it",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[], needs: &[], uses: &[], methods: &[], build: |c| build("rogue", c) }
}
const TALK: Method = Method {
    name: "talk",
    params: &[],
    help: "",
};
const CHAT: Method = Method {
    name: "chat",
    params: &[],
    help: "",
};
const TALK_TABLE: &[MethodEntry<()>] = &[("talk", &[], "", |_, _| Ok(serde_json::json!("hi")))];
inventory::submit! {
    ModuleFactory { name: "talker", description: "declares one RPC method, registers another",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[], needs: &[], uses: &[], methods: &[&TALK], build: |c| build("talker", c) }
}
inventory::submit! {
    ModuleFactory { name: "impostor", description: "provides storage under another type's declaration",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn Impostor>()], needs: &[], uses: &[], methods: &[], build: |c| build("impostor", c) }
}

fn load(text: &str, env: &[(&str, &str)], sets: &[&str]) -> Result<node_kernel::Plan, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let profile = Profile::load(&ProfileSource::File(path.clone()), env, &sets, None)
        .map_err(|e| e.to_string())?;
    plan(profile).map_err(|e| e.to_string().replace(&path.display().to_string(), "FILE"))
}

fn error_of(text: &str) -> String {
    match load(text, &[], &[]) {
        Ok(_) => panic!("profile should be refused:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn unknown_module_lists_registered_ones() {
    let e = error_of("[node]\nmodules = [\"stroe\"]\n");
    assert!(
        e.contains("unknown module \"stroe\" in FILE at node.modules"),
        "{e}"
    );
    assert!(
        e.contains("registered: api, impostor, net, rogue, store, store2, talker, web"),
        "{e}"
    );
}

#[test]
fn unknown_key_in_a_module_table_names_table_key_and_choices() {
    let e = error_of("[node]\nmodules = [\"store\"]\n[store]\nlevle = 1\n");
    assert!(e.contains("in FILE, [store]"), "{e}");
    assert!(e.contains("levle"), "{e}");
    assert!(e.contains("level"), "{e}");
}

#[test]
fn wrong_type_names_the_key_and_value() {
    let e = error_of("[node]\nmodules = [\"store\"]\n[store]\nlevel = \"high\"\n");
    assert!(e.contains("[store]"), "{e}");
    assert!(e.contains("high"), "{e}");
    assert!(e.contains("level"), "{e}");
}

#[test]
fn unknown_strategy_lists_registered_ones() {
    let e = error_of("[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"quick\"\n");
    assert!(
        e.contains("strategy = \"quick\" is not valid; valid choices: double, fast, slow"),
        "{e}"
    );
}

#[test]
fn a_strategy_reads_its_settings_from_its_sub_table() {
    let strategy = |text: &str| {
        let plan = load(text, &[], &[]).unwrap();
        plan.modules[0].strategies["test behaviour"].clone()
    };
    let base = "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"fast\"\n";
    assert_eq!(
        strategy(&format!("{base}[store.fast]\nx = 1\n")),
        serde_json::json!({"name": "fast", "config": {"x": 1}})
    );
    // Without a sub-table the strategy's defaults apply, and are reported.
    assert_eq!(
        strategy(base),
        serde_json::json!({"name": "fast", "config": {"x": 10}})
    );
    // Its settings stay out of the module's own table.
    let plan = load(&format!("{base}[store.fast]\nx = 1\n"), &[], &[]).unwrap();
    assert!(plan.modules[0].config.get("fast").is_none());
}

#[test]
fn a_strategy_wraps_another_built_with_that_ones_settings() {
    let strategy = |text: &str| {
        let plan = load(text, &[], &[]).unwrap();
        plan.modules[0].strategies["test behaviour"].clone()
    };
    let base = "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"double\"\n";
    // The wrapped strategy's settings are its own table, beside the wrapper's.
    assert_eq!(
        strategy(&format!("{base}[store.fast]\nx = 1\n")),
        serde_json::json!({"name": "double", "config": {"of": "fast"},
            "wraps": [{"name": "fast", "config": {"x": 1}}]})
    );
    assert_eq!(
        strategy(&format!("{base}[store.double]\nof = \"slow\"\n")),
        serde_json::json!({"name": "double", "config": {"of": "slow"},
            "wraps": [{"name": "slow", "config": {}}]})
    );
    // A wrapped strategy's wrong setting, and an unknown name, are named as a chosen
    // one's would be.
    let e = error_of(&format!("{base}[store.fast]\ny = 1\n"));
    assert!(e.contains("in the settings of strategy \"fast\""), "{e}");
    let e = error_of(&format!("{base}[store.double]\nof = \"quick\"\n"));
    assert!(
        e.contains("of = \"quick\" is not valid; valid choices: double, fast, slow"),
        "{e}"
    );
}

#[test]
fn a_wrong_strategy_setting_names_the_strategy() {
    let e = error_of(
        "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"fast\"\n[store.fast]\ny = 1\n",
    );
    assert!(e.contains("in FILE, [store]"), "{e}");
    assert!(e.contains("in the settings of strategy \"fast\""), "{e}");
    assert!(e.contains("unknown field `y`, expected `x`"), "{e}");

    let e = error_of(
        "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"slow\"\n[store.slow]\nx = 1\n",
    );
    assert!(
        e.contains("strategy \"slow\"") && e.contains("no settings"),
        "{e}"
    );

    // The settings of a strategy not chosen are checked too: a typo is found before the
    // operator switches to it.
    let e = error_of(
        "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"slow\"\n[store.fast]\ny = 1\n",
    );
    assert!(e.contains("in the settings of strategy \"fast\""), "{e}");
}

#[test]
fn a_sub_table_for_no_strategy_of_the_module_is_refused() {
    // Not a registered strategy: an unknown key of the module's table.
    let e = error_of(
        "[node]\nmodules = [\"store\"]\n[store]\nstrategy = \"fast\"\n[store.quick]\nx = 1\n",
    );
    assert!(e.contains("in FILE, [store]") && e.contains("quick"), "{e}");
    // A registered strategy, of a behaviour this module does not choose.
    let e = error_of("[node]\nmodules = [\"net\", \"store\"]\n[net.fast]\nx = 1\n");
    assert!(e.contains("in FILE, [net]"), "{e}");
    assert!(
        e.contains("\"fast\", which is not a strategy this module chooses"),
        "{e}"
    );
}

#[test]
fn missing_service_names_the_providers() {
    let e = error_of("[node]\nmodules = [\"net\"]\n");
    assert!(
        e.contains("module \"net\" in FILE needs service \"store\""),
        "{e}"
    );
    assert!(e.contains("store, store2"), "{e}");
}

#[test]
fn two_providers_of_one_service_are_refused() {
    let e = error_of("[node]\nmodules = [\"store\", \"store2\"]\n");
    assert!(e.contains("both provide service \"store\""), "{e}");
}

#[test]
fn unknown_table_and_duplicate_module_are_refused() {
    let e = error_of("[node]\nmodules = [\"store\"]\n[stor]\nlevel = 1\n");
    assert!(e.contains("unknown table [stor]"), "{e}");
    let e = error_of("[node]\nmodules = [\"store\", \"store\"]\n");
    assert!(e.contains("listed twice"), "{e}");
}

#[test]
fn start_order_follows_needs_then_profile_order() {
    let plan = load(
        "[node]\nmodules = [\"api\", \"net\", \"store\"]\n",
        &[],
        &[],
    )
    .unwrap();
    let order: Vec<&str> = plan.modules.iter().map(|m| m.factory.name).collect();
    assert_eq!(order, ["store", "net", "api"]);
}

#[test]
fn set_beats_env_beats_file() {
    let text = "[node]\nmodules = [\"store\"]\n[store]\nlevel = 1\n";
    let level = |env: &[(&str, &str)], sets: &[&str]| {
        load(text, env, sets).unwrap().modules[0].config["level"].clone()
    };
    assert_eq!(level(&[], &[]), 1);
    assert_eq!(level(&[("NODE_STORE__LEVEL", "2")], &[]), 2);
    assert_eq!(level(&[("NODE_STORE__LEVEL", "2")], &["store.level=3"]), 3);
}

fn datadir_profile(modules: &str, extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[node]\nmodules = [{modules}]\ndatadir = \"{}\"\n{extra}",
        dir.path().join("data").display()
    );
    (dir, text)
}

/// Runs a profile to its end, within the deadline.
async fn run_profile(modules: &str, extra: &str) -> Result<(), KernelError> {
    let (_dir, text) = datadir_profile(modules, extra);
    tokio::time::timeout(DEADLINE, run(load(&text, &[], &[]).unwrap()))
        .await
        .expect("the node ends in time")
}

#[tokio::test]
async fn modules_start_in_order_with_their_services_and_stop_in_reverse_after_their_tasks() {
    let _serial = SERIAL.lock().await;
    take_journal();
    run_profile("\"api\", \"net\", \"store\"", "[api]\nshutdown = true\n")
        .await
        .unwrap();
    assert_eq!(
        take_journal(),
        [
            "start store level=0",
            "start net level=0",
            "net found the store of store",
            "start api level=0",
            "api found the net of net and the store of store",
            "task end api",
            "stop api",
            "task end net",
            "stop net",
            "task end store",
            "stop store",
        ]
    );
}

#[tokio::test]
async fn a_failed_start_stops_the_started_modules_and_reports_why() {
    let _serial = SERIAL.lock().await;
    take_journal();
    let err = run_profile("\"store\", \"net\", \"api\"", "[net]\nfail = true\n")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "module \"net\" failed to start: net refuses to start"
    );
    assert_eq!(
        take_journal(),
        [
            "start store level=0",
            "start net level=0",
            "net found the store of store",
            "task end net",
            "stop net",
            "task end store",
            "stop store",
        ]
    );
}

#[tokio::test]
async fn a_task_that_panics_or_fails_stops_the_node_naming_module_and_task() {
    let _serial = SERIAL.lock().await;
    for (kind, reason) in [("panic", "panicked: boom"), ("error", "disk full")] {
        take_journal();
        let err = run_profile(
            "\"store\", \"net\"",
            &format!("[store]\nfailing_task = \"{kind}\"\n"),
        )
        .await
        .unwrap_err();
        match &err {
            KernelError::Failed {
                module,
                task,
                reason: why,
            } => assert_eq!(
                (module.as_str(), task.as_str(), why.as_str()),
                ("store", "worker", reason)
            ),
            other => panic!("{kind}: {other}"),
        }
        assert_eq!(
            err.to_string(),
            format!("module \"store\" failed: task \"worker\" {reason}")
        );
        // Every module started stops, in reverse order, as on a signal.
        let journal = take_journal();
        let stops: Vec<&String> = journal.iter().filter(|l| l.starts_with("stop")).collect();
        let expected = match stops.len() {
            // The failure was seen before `net` started, or after.
            1 => vec!["stop store"],
            _ => vec!["stop net", "stop store"],
        };
        assert_eq!(stops, expected, "{kind}: {journal:?}");
    }
}

#[tokio::test]
async fn asking_for_an_undeclared_service_fails_the_start_clearly() {
    let _serial = SERIAL.lock().await;
    take_journal();
    let err = run_profile("\"store\", \"rogue\"", "").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "module \"rogue\" failed to start: module \"rogue\" asks for service \"store\" \
         (dyn it::Store) without declaring it in `needs`, so it may start before its provider"
    );
}

#[tokio::test]
async fn a_module_registers_exactly_the_rpc_methods_it_declares() {
    let _serial = SERIAL.lock().await;
    take_journal();
    let err = run_profile("\"talker\"", "").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "module \"talker\" failed to start: registered RPC methods its factory does not \
         declare in `methods`: chat; did not register RPC methods its factory declares in \
         `methods`: talk (declare them with the constants it registers, `methods: &[&METHODS]`)"
    );
    // Registering what it declares, from a table, starts.
    run_profile("\"talker\"", "[talker]\nlevel = 1\nshutdown = true\n")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_declaration_is_held_to_its_type_not_its_name() {
    let _serial = SERIAL.lock().await;
    take_journal();
    let err = run_profile("\"impostor\"", "").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "module \"impostor\" failed to start: module \"impostor\" provides service \"store\" \
         (dyn it::Store) without declaring it in `provides`"
    );
}

// Module HTTP: a module serving a public and an authenticated route.

/// What the `web` module hands the test once it serves.
type Serving = (SocketAddr, CancellationToken);
static WEB: Mutex<Option<oneshot::Sender<Serving>>> = Mutex::new(None);

struct Web;

#[async_trait]
impl Module for Web {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let routes = vec![
            Route::new("/hello", Access::Public, |_| async {
                response(hyper::StatusCode::OK, "text/plain", "hello\n")
            }),
            Route::new("/private", Access::Authenticated, |_| async {
                response(hyper::StatusCode::OK, "text/plain", "private\n")
            }),
        ];
        let addr = ctx.serve_http("127.0.0.1:0".parse()?, routes).await?;
        if let Some(serving) = WEB.lock().unwrap().take() {
            let _ = serving.send((addr, ctx.shutdown_token()));
        }
        Ok(())
    }
}

inventory::submit! {
    ModuleFactory { name: "web", description: "serves HTTP routes", registered_by: env!("CARGO_PKG_NAME"),
        provides: &[], needs: &[], uses: &[], methods: &[], build: |_| Ok(Box::new(Web)) }
}

/// A GET over a raw connection: the status line and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(DEADLINE, stream.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    let status = answer.lines().next().unwrap_or("").to_string();
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}

#[tokio::test]
async fn a_module_serves_http_routes_with_their_access() {
    let _serial = SERIAL.lock().await;
    let (_dir, text) = datadir_profile("\"web\"", "");
    let (tx, serving) = oneshot::channel();
    *WEB.lock().unwrap() = Some(tx);
    let node = tokio::spawn(run(load(&text, &[], &[]).unwrap()));
    let (addr, shutdown) = tokio::time::timeout(DEADLINE, serving)
        .await
        .expect("the node starts in time")
        .unwrap();

    assert_eq!(
        get(addr, "/hello").await,
        ("HTTP/1.1 200 OK".to_string(), "hello\n".to_string())
    );
    // Nobody installed an authenticator (the rpc module does): nobody gets in.
    let (status, _) = get(addr, "/private").await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let (status, _) = get(addr, "/elsewhere").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, node)
        .await
        .expect("the node stops in time")
        .unwrap()
        .unwrap();
    // The listener ended with the node.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
