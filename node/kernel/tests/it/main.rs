//! Kernel behaviour with test modules registered the way real ones are: profile errors,
//! start order, reverse stop order, failed starts, and override precedence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_kernel::{
    inventory, plan, run, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, Profile,
    ProfileSource, StartContext, StrategyFactory,
};
use serde::{Deserialize, Serialize};

/// What the test modules did, in order. Tests that run nodes hold `SERIAL` so their
/// journals do not mix.
static JOURNAL: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn journal(line: String) {
    JOURNAL.lock().unwrap().push(line);
}

fn take_journal() -> Vec<String> {
    std::mem::take(&mut *JOURNAL.lock().unwrap())
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct TestConfig {
    /// Fail in `start`.
    fail: bool,
    /// Ask the node to shut down once started (stands in for a signal or `stop`).
    shutdown: bool,
    /// A number, to check types and override precedence.
    level: u32,
    /// A strategy name.
    strategy: String,
}

struct TestModule {
    name: &'static str,
    config: TestConfig,
}

impl Module for TestModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        journal(format!("start {} level={}", self.name, self.config.level));
        // A task that ends only when the module's token fires: stop must wait for it.
        let cancel = ctx.cancel.clone();
        let name = self.name;
        ctx.spawn(async move {
            cancel.cancelled().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            journal(format!("task end {name}"));
        });
        ctx.services
            .provide(self.name, Arc::new(self.name.to_string()));
        if self.config.fail {
            return Err(format!("{} refuses to start", self.name).into());
        }
        if self.config.shutdown {
            ctx.request_shutdown();
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<(), BoxError> {
        journal(format!("stop {}", self.name));
        Ok(())
    }
}

fn build(name: &'static str, config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: TestConfig = config.parse()?;
    if !parsed.strategy.is_empty() {
        config.choose_strategy("strategy", "test behaviour", &parsed.strategy)?;
    }
    Ok(Box::new(TestModule {
        name,
        config: parsed,
    }))
}

inventory::submit! {
    ModuleFactory { name: "store", description: "provides storage", provides: &["store"],
        needs: &[], uses: &[], build: |c| build("store", c) }
}
inventory::submit! {
    ModuleFactory { name: "net", description: "needs storage", provides: &["net"],
        needs: &["store"], uses: &[], build: |c| build("net", c) }
}
inventory::submit! {
    ModuleFactory { name: "api", description: "needs net, uses store", provides: &[],
        needs: &["net"], uses: &["store"], build: |c| build("api", c) }
}
inventory::submit! {
    ModuleFactory { name: "store2", description: "provides storage too", provides: &["store"],
        needs: &[], uses: &[], build: |c| build("store2", c) }
}
inventory::submit! {
    StrategyFactory { behaviour: "test behaviour", name: "fast", description: "fast",
        build: || Box::new(1u8) }
}
inventory::submit! {
    StrategyFactory { behaviour: "test behaviour", name: "slow", description: "slow",
        build: || Box::new(2u8) }
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
    assert!(e.contains("registered: api, net, store, store2"), "{e}");
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
        e.contains("strategy = \"quick\" is not valid; valid choices: fast, slow"),
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

#[tokio::test]
async fn modules_start_in_order_and_stop_in_reverse_after_their_tasks() {
    let _serial = SERIAL.lock().await;
    take_journal();
    let (_dir, text) = datadir_profile("\"api\", \"net\", \"store\"", "[api]\nshutdown = true\n");
    run(load(&text, &[], &[]).unwrap()).await.unwrap();
    assert_eq!(
        take_journal(),
        [
            "start store level=0",
            "start net level=0",
            "start api level=0",
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
    let (_dir, text) = datadir_profile("\"store\", \"net\", \"api\"", "[net]\nfail = true\n");
    let err = run(load(&text, &[], &[]).unwrap()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "module \"net\" failed to start: net refuses to start"
    );
    assert_eq!(
        take_journal(),
        [
            "start store level=0",
            "start net level=0",
            "task end net",
            "stop net",
            "task end store",
            "stop store",
        ]
    );
}
