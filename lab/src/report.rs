//! The report: every arrival of every object at every node, the figures of each step,
//! as JSON and as one self-contained HTML page with CDF plots (inline SVG, no external
//! asset).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use crate::net::Mode;
use crate::scenario::Scenario;

/// One transaction or block and when it reached each node.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Object {
    /// `tx` or `block`.
    pub(crate) kind: String,
    /// Its txid or hash.
    pub(crate) id: String,
    /// The node it started at.
    pub(crate) origin: usize,
    /// Milliseconds from its arrival at the origin to its arrival at each other node, in
    /// node order (the origin left out); `None` where it never arrived.
    pub(crate) delays_ms: Vec<Option<f64>>,
}

/// Percentiles of the arrivals of one kind of object in a step: per object over the
/// nodes, then the median over the objects.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Spread {
    /// Objects measured.
    pub(crate) objects: usize,
    /// Median over objects of the time to reach half the other nodes.
    pub(crate) p50_ms: Option<f64>,
    /// ... 90% of them.
    pub(crate) p90_ms: Option<f64>,
    /// ... every one.
    pub(crate) p100_ms: Option<f64>,
    /// Share of (object, node) pairs that arrived.
    pub(crate) reached: f64,
}

/// What one step measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepResult {
    /// The step's kind.
    pub(crate) kind: String,
    /// What it did.
    pub(crate) label: String,
    /// Wall time of the step.
    pub(crate) duration_secs: f64,
    /// Objects measured.
    pub(crate) objects: Vec<Object>,
    /// Arrival spreads by object kind.
    pub(crate) spread: BTreeMap<String, Spread>,
    /// Bytes each node sent during the step, mean over nodes.
    pub(crate) upload_bytes_per_node: f64,
    /// ... the most any node sent.
    pub(crate) upload_bytes_max: f64,
    /// CPU milliseconds each node used during the step, mean over nodes.
    pub(crate) cpu_ms_per_node: f64,
    /// ... divided by the step's objects.
    pub(crate) cpu_ms_per_object_per_node: f64,
    /// Resident memory at the end of the step, median and largest node.
    pub(crate) rss_mib_median: f64,
    /// ... largest.
    pub(crate) rss_mib_max: f64,
    /// Bans in force over all nodes at the end of the step.
    pub(crate) bans: usize,
    /// Bans made during the step.
    pub(crate) bans_added: usize,
    /// Connection ends over all nodes at the end of the step (two per connection).
    pub(crate) connections: usize,
    /// Figures of this kind of step (`txs_in_every_mempool_secs`, ...).
    pub(crate) extra: BTreeMap<String, Value>,
}

impl StepResult {
    /// An empty result.
    pub(crate) fn new(kind: &str, label: String) -> StepResult {
        StepResult {
            kind: kind.to_string(),
            label,
            duration_secs: 0.0,
            objects: Vec::new(),
            spread: BTreeMap::new(),
            upload_bytes_per_node: 0.0,
            upload_bytes_max: 0.0,
            cpu_ms_per_node: 0.0,
            cpu_ms_per_object_per_node: 0.0,
            rss_mib_median: 0.0,
            rss_mib_max: 0.0,
            bans: 0,
            bans_added: 0,
            connections: 0,
            extra: BTreeMap::new(),
        }
    }

    fn compute_spread(&mut self) {
        let mut kinds: BTreeMap<String, Vec<&Object>> = BTreeMap::new();
        for object in &self.objects {
            kinds.entry(object.kind.clone()).or_default().push(object);
        }
        self.spread = kinds
            .into_iter()
            .map(|(kind, objects)| {
                let pairs: usize = objects.iter().map(|o| o.delays_ms.len()).sum();
                let arrived: usize = objects
                    .iter()
                    .map(|o| o.delays_ms.iter().flatten().count())
                    .sum();
                let per = |p: f64| {
                    let values: Vec<f64> = objects
                        .iter()
                        .filter_map(|o| percentile_of(&o.delays_ms, p))
                        .collect();
                    (!values.is_empty()).then(|| crate::run::median(&values))
                };
                let spread = Spread {
                    objects: objects.len(),
                    p50_ms: per(0.5),
                    p90_ms: per(0.9),
                    p100_ms: per(1.0),
                    reached: if pairs == 0 {
                        1.0
                    } else {
                        arrived as f64 / pairs as f64
                    },
                };
                (kind, spread)
            })
            .collect();
    }

    /// One line for the progress output.
    pub(crate) fn summary_line(&self) -> String {
        let mut line = format!("  {} in {:.1} s:", self.label, self.duration_secs);
        let mut copy = self.clone();
        copy.compute_spread();
        for (kind, s) in &copy.spread {
            let _ = write!(
                line,
                " {kind} 50/90/100% {}/{}/{} ms ({:.0}% reached);",
                ms(s.p50_ms),
                ms(s.p90_ms),
                ms(s.p100_ms),
                s.reached * 100.0
            );
        }
        let _ = write!(
            line,
            " upload {:.0} kB/node, CPU {:.2} ms/object/node, RSS {:.1} MiB, bans +{}",
            self.upload_bytes_per_node / 1000.0,
            self.cpu_ms_per_object_per_node,
            self.rss_mib_median,
            self.bans_added
        );
        for (key, value) in &self.extra {
            let _ = write!(line, ", {key} {value}");
        }
        line
    }
}

/// The share `p` of nodes an object reached by this delay; `None` when fewer arrived.
fn percentile_of(delays: &[Option<f64>], p: f64) -> Option<f64> {
    if delays.is_empty() {
        return Some(0.0);
    }
    let mut arrived: Vec<f64> = delays.iter().flatten().copied().collect();
    arrived.sort_by(f64::total_cmp);
    let rank = ((p * delays.len() as f64).ceil() as usize).max(1);
    arrived.get(rank - 1).copied()
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// One network played once.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunResult {
    /// The broadcast behaviour compared, or `run`.
    pub(crate) label: String,
    /// Nodes at the start.
    pub(crate) nodes: usize,
    /// Outbound dials.
    pub(crate) edges: usize,
    /// Each node's group name (empty without groups).
    pub(crate) groups: Vec<String>,
    /// Seconds from the last node's start to every connection made.
    pub(crate) connect_secs: f64,
    /// Connection ends reported when the lab went on.
    pub(crate) connections_made: usize,
    /// Connection ends the topology asks for (two per dial).
    pub(crate) connections_expected: usize,
    /// Every step, funding first.
    pub(crate) steps: Vec<StepResult>,
}

impl RunResult {
    /// Names the run and computes its spreads.
    pub(crate) fn labelled(mut self, label: &str) -> RunResult {
        self.label = label.to_string();
        for step in &mut self.steps {
            step.compute_spread();
        }
        self
    }
}

/// Everything a lab measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// When it ran (UTC, from `date`).
    pub(crate) date: String,
    /// The commit of the working tree it ran from, when in a git checkout.
    pub(crate) commit: Option<String>,
    /// The machine: cores and CPU model.
    pub(crate) machine: String,
    /// Namespaces or loopback.
    pub(crate) mode: Mode,
    /// The node binary.
    pub(crate) node_bin: PathBuf,
    /// The scenario, with the command line's values.
    pub(crate) scenario: Scenario,
    /// Seconds the lab took.
    pub(crate) elapsed_secs: f64,
    /// One per behaviour compared.
    pub(crate) runs: Vec<RunResult>,
}

impl Report {
    /// An empty report of this scenario.
    pub(crate) fn new(scenario: &Scenario, mode: Mode, bin: &Path) -> Report {
        Report {
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
            commit: command_line("git", &["rev-parse", "--short", "HEAD"]),
            machine: machine(),
            mode,
            node_bin: bin.to_path_buf(),
            scenario: scenario.clone(),
            elapsed_secs: 0.0,
            runs: Vec::new(),
        }
    }

    /// Writes `report.json` and `report.html` into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let json_path = dir.join("report.json");
        std::fs::write(&json_path, serde_json::to_string_pretty(self)?)?;
        let html_path = dir.join("report.html");
        std::fs::write(&html_path, self.html())?;
        Ok((json_path, html_path))
    }

    /// The page.
    pub(crate) fn html(&self) -> String {
        let mut page = String::new();
        let title = format!(
            "node lab: {} nodes, {} topology, {} Mbit/s",
            self.scenario.nodes, self.scenario.topology.kind, self.scenario.link.rate_mbit
        );
        let _ = write!(
            page,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>\
             body{{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}\
             table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
             th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}svg{{background:#fff;border:1px solid #ddd}}\
             .legend span{{margin-right:1.5em}}</style></head><body><h1>{title}</h1>\
             <p>{} on {} ({}), commit {}, seed {}, {:.0} s, node binary <code>{}</code></p>",
            self.date,
            self.machine,
            match self.mode {
                Mode::Namespaces => "a network namespace per node",
                Mode::Loopback => "loopback, links unshaped",
            },
            self.commit.as_deref().unwrap_or("unknown"),
            self.scenario.seed,
            self.elapsed_secs,
            escape(&self.node_bin.display().to_string()),
        );
        page.push_str("<h2>Network</h2><table><tr><th>run</th><th>nodes</th><th>dials</th><th>connected in s</th><th>connection ends</th></tr>");
        for run in &self.runs {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}/{}</td></tr>",
                escape(&run.label),
                run.nodes,
                run.edges,
                run.connect_secs,
                run.connections_made,
                run.connections_expected
            );
        }
        page.push_str("</table>");
        let steps = self.runs.first().map_or(0, |r| r.steps.len());
        for index in 0..steps {
            let label = &self.runs[0].steps[index].label;
            let _ = write!(page, "<h2>{}</h2>", escape(label));
            let kinds: Vec<String> = self.runs[0].steps[index].spread.keys().cloned().collect();
            for kind in &kinds {
                let series: Vec<(String, Vec<f64>, usize)> = self
                    .runs
                    .iter()
                    .filter_map(|run| {
                        let step = run.steps.get(index)?;
                        let objects: Vec<&Object> =
                            step.objects.iter().filter(|o| &o.kind == kind).collect();
                        let total = objects.iter().map(|o| o.delays_ms.len()).sum();
                        let mut delays: Vec<f64> = objects
                            .iter()
                            .flat_map(|o| o.delays_ms.iter().flatten().copied())
                            .collect();
                        delays.sort_by(f64::total_cmp);
                        Some((run.label.clone(), delays, total))
                    })
                    .collect();
                if series.iter().any(|(_, d, _)| !d.is_empty()) {
                    let _ = write!(page, "<h3>{kind} arrivals</h3>{}", cdf_svg(&series));
                }
            }
            page.push_str("<table><tr><th>run</th>");
            for kind in &kinds {
                let _ = write!(page, "<th>{kind} 50% ms</th><th>{kind} 90% ms</th><th>{kind} 100% ms</th><th>{kind} reached</th>");
            }
            page.push_str("<th>upload kB/node</th><th>max kB</th><th>CPU ms/node</th><th>CPU ms/object/node</th><th>RSS MiB</th><th>bans</th><th>connections</th><th>s</th></tr>");
            for run in &self.runs {
                let Some(step) = run.steps.get(index) else {
                    continue;
                };
                let _ = write!(page, "<tr><td>{}</td>", escape(&run.label));
                for kind in &kinds {
                    let s = step.spread.get(kind).cloned().unwrap_or_default();
                    let _ = write!(
                        page,
                        "<td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td>",
                        ms(s.p50_ms),
                        ms(s.p90_ms),
                        ms(s.p100_ms),
                        s.reached * 100.0
                    );
                }
                let _ = write!(
                    page,
                    "<td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.3}</td><td>{:.1}</td><td>{} (+{})</td><td>{}</td><td>{:.1}</td></tr>",
                    step.upload_bytes_per_node / 1000.0,
                    step.upload_bytes_max / 1000.0,
                    step.cpu_ms_per_node,
                    step.cpu_ms_per_object_per_node,
                    step.rss_mib_median,
                    step.bans,
                    step.bans_added,
                    step.connections,
                    step.duration_secs
                );
            }
            page.push_str("</table>");
            for run in &self.runs {
                if let Some(step) = run.steps.get(index).filter(|s| !s.extra.is_empty()) {
                    let extra: Vec<String> = step
                        .extra
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    let _ = write!(
                        page,
                        "<p>{}: {}</p>",
                        escape(&run.label),
                        escape(&extra.join(", "))
                    );
                }
            }
        }
        page.push_str("</body></html>\n");
        page
    }
}

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// A CDF plot: for each series, the share of (object, node) pairs reached by each delay.
fn cdf_svg(series: &[(String, Vec<f64>, usize)]) -> String {
    let (width, height, left, bottom) = (640.0, 300.0, 50.0, 30.0);
    let max = series
        .iter()
        .flat_map(|(_, d, _)| d.last().copied())
        .fold(0.0f64, f64::max)
        .max(0.001);
    let scale_x = |v: f64| left + (v / max) * (width - left - 40.0);
    let scale_y = |p: f64| (height - bottom) - p * (height - bottom - 10.0);
    let mut svg =
        format!("<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">");
    for tick in 0..=4 {
        let p = tick as f64 / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/><text x=\"5\" y=\"{}\" font-size=\"11\">{:.0}%</text>",
            width - 10.0,
            scale_y(p) + 4.0,
            p * 100.0,
            y = scale_y(p),
        );
        let v = max * tick as f64 / 4.0;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{v:.1} ms</text>",
            scale_x(v),
            height - 10.0
        );
    }
    for (i, (_, delays, total)) in series.iter().enumerate() {
        if delays.is_empty() || *total == 0 {
            continue;
        }
        let mut points = format!("{},{}", scale_x(0.0), scale_y(0.0));
        for (k, d) in delays.iter().enumerate() {
            let _ = write!(
                points,
                " {:.1},{:.1} {:.1},{:.1}",
                scale_x(*d),
                scale_y(k as f64 / *total as f64),
                scale_x(*d),
                scale_y((k + 1) as f64 / *total as f64)
            );
        }
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"{}\" points=\"{points}\"/>",
            COLOURS[i % COLOURS.len()]
        );
    }
    svg.push_str("</svg><div class=\"legend\">");
    for (i, (label, _, _)) in series.iter().enumerate() {
        let _ = write!(
            svg,
            "<span style=\"color:{}\">&#9632; {}</span>",
            COLOURS[i % COLOURS.len()],
            escape(label)
        );
    }
    svg.push_str("</div>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(cmd).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
        })
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_count_missing_arrivals_as_never() {
        let delays = vec![Some(1.0), Some(2.0), Some(3.0), None];
        assert_eq!(percentile_of(&delays, 0.5), Some(2.0));
        assert_eq!(percentile_of(&delays, 0.75), Some(3.0));
        assert_eq!(percentile_of(&delays, 1.0), None);
    }

    #[test]
    fn the_page_is_self_contained() {
        let mut step = StepResult::new("txs", "2 transactions".to_string());
        step.objects.push(Object {
            kind: "tx".into(),
            id: "a".into(),
            origin: 0,
            delays_ms: vec![Some(1.0), Some(4.0)],
        });
        let run = RunResult {
            label: "announce".into(),
            nodes: 3,
            edges: 2,
            groups: vec![],
            connect_secs: 0.5,
            connections_made: 4,
            connections_expected: 4,
            steps: vec![step],
        }
        .labelled("announce");
        assert_eq!(run.steps[0].spread["tx"].p100_ms, Some(4.0));
        let mut report = Report::new(&Scenario::default(), Mode::Loopback, Path::new("node"));
        report.runs.push(run);
        let page = report.html();
        assert!(page.contains("<svg") && page.contains("polyline"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external asset"
        );
    }
}
