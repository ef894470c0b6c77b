//! A generic Wayland protocol fuzzer: `--fuzz SECONDS [--clients N] [--seed S]` drives every
//! global the compositor at `$WAYLAND_DISPLAY` offers with random, well-formed requests, from
//! several clients at once, each killed at a random step and replaced; it stops at the end or
//! when the compositor dies (or stops answering) and prints what it did.
//!
//! Who does what: this module parses the options, runs one thread per client slot (each
//! connection a fresh [`client::Client`] with its own generator, seeded from the run's seed, the
//! slot and the generation), detects a dead compositor, prints progress every 10 s and the
//! summary; `protocol` holds the tables build.rs generated from the protocol XML, `client` the
//! requests, `inbox` the events, `values` and `buffers` the arguments, `rng` the numbers. The
//! `tandem-test-client` binary calls [`main`] when it sees `--fuzz`.
//!
//! Output: `fuzz: seed S` first on stdout; progress, per-interface request counts, the globals
//! reached and the protocol errors seen on stderr; as the last line of stdout
//! `fuzz-protocol: N requests, N clients, N protocol errors, N crashes`. Exit status 1 after a
//! crash (or a hang), 2 on bad options.

mod buffers;
mod client;
mod inbox;
pub mod protocol;
mod rng;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use client::{Client, Ending};
use rng::Rng;

pub const USAGE: &str = "\
usage: --fuzz SECONDS [--clients N] [--seed S] [--compositor-pid PID] [--replay CLIENT:GENERATION]
                      [--history-dir DIR] [--skip INTERFACE.REQUEST]... [--displays A,B] [--trace]
  --fuzz SECONDS        how long to fuzz the compositor at $WAYLAND_DISPLAY
  --clients N           clients connected at once (default 4)
  --seed S              the run's seed (default: from the clock; printed first)
  --compositor-pid PID  the compositor's pid, to tell a crash from a closed connection
  --replay C:G          run only client C's connection G of the seed's run, once
  --history-dir DIR     where the request logs of clients that saw a crash go (default: $TMPDIR)
  --skip I.R            never send request R of interface I (to fuzz past a known bug); repeatable
  --displays A,B        spread the clients over these sockets (in $XDG_RUNTIME_DIR, or paths);
                        default $WAYLAND_DISPLAY; a crash is judged on $WAYLAND_DISPLAY
  --trace               print every request to stderr as it is sent (cCLIENT.GENERATION: request)";

/// Steps a connection lives at most before it is killed.
const MAX_STEPS: u64 = 2000;

#[derive(Debug, Clone)]
pub struct Options {
    pub seconds: f64,
    pub clients: u32,
    pub seed: u64,
    pub compositor_pid: Option<i32>,
    pub replay: Option<(u32, u64)>,
    pub history_dir: PathBuf,
    /// Requests never sent, as (interface, opcode) indices into the protocol tables.
    pub skip: Vec<(usize, usize)>,
    /// Sockets the clients are spread over (client i on the i-th modulo their number).
    pub displays: Vec<String>,
    /// Print every request as it is sent.
    pub trace: bool,
}

impl Options {
    /// Parses the fuzzer's options (the program name already taken off).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            seconds: 0.0,
            clients: 4,
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 ^ u64::from(std::process::id()))
                .unwrap_or(1),
            compositor_pid: None,
            replay: None,
            history_dir: std::env::temp_dir(),
            skip: Vec::new(),
            displays: Vec::new(),
            trace: false,
        };
        let mut seconds = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or(format!("{flag} needs a value"))
            };
            let bad = |flag: &str, v: &str| format!("{flag}: bad value {v:?}");
            match flag.as_str() {
                "--fuzz" => {
                    let v = value()?;
                    seconds = Some(v.parse::<f64>().map_err(|_| bad("--fuzz", &v))?);
                }
                "--clients" => {
                    let v = value()?;
                    options.clients = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(bad("--clients", &v))?;
                }
                "--seed" => {
                    let v = value()?;
                    options.seed = parse_seed(&v).ok_or(bad("--seed", &v))?;
                }
                "--compositor-pid" => {
                    let v = value()?;
                    options.compositor_pid = Some(v.parse().map_err(|_| bad(&flag, &v))?);
                }
                "--replay" => {
                    let v = value()?;
                    let (c, g) = v.split_once(':').ok_or(bad("--replay", &v))?;
                    let c = c.parse().map_err(|_| bad("--replay", &v))?;
                    let g = g.parse().map_err(|_| bad("--replay", &v))?;
                    options.replay = Some((c, g));
                }
                "--history-dir" => options.history_dir = PathBuf::from(value()?),
                "--skip" => {
                    let v = value()?;
                    let found = v.split_once('.').and_then(|(i, r)| {
                        let interface = protocol::find(i)?;
                        let opcode = protocol::interface(interface)
                            .requests
                            .iter()
                            .position(|m| m.name == r)?;
                        Some((interface, opcode))
                    });
                    options
                        .skip
                        .push(found.ok_or(format!("--skip: no request {v:?}"))?);
                }
                "--displays" => {
                    let v = value()?;
                    options.displays = v
                        .split(',')
                        .filter(|d| !d.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                "--trace" => options.trace = true,
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        options.seconds = seconds.ok_or(format!("--fuzz SECONDS is required\n{USAGE}"))?;
        if !(options.seconds >= 0.0 && options.seconds.is_finite()) {
            return Err(format!("--fuzz: bad duration {}", options.seconds));
        }
        Ok(options)
    }
}

fn parse_seed(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Runs the fuzzer with command-line `args` (without the program name); returns the exit status.
pub fn main(args: impl IntoIterator<Item = String>) -> i32 {
    match Options::parse(args) {
        Ok(options) => {
            let summary = run(&options);
            i32::from(summary.crashes > 0)
        }
        Err(message) => {
            eprintln!("{message}");
            2
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub requests: u64,
    pub clients: u64,
    pub protocol_errors: u64,
    pub crashes: u64,
    /// Connections the compositor closed without a protocol error to read.
    pub disconnects: u64,
    pub seconds: f64,
}

/// A client's view of a crash (or hang), or of its connection just before.
struct CrashReport {
    client: u32,
    generation: u64,
    reason: String,
    history: Vec<String>,
}

#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    clients: AtomicU64,
    protocol_errors: AtomicU64,
    disconnects: AtomicU64,
    crashed: AtomicBool,
    stop: AtomicBool,
    counts: Mutex<HashMap<(usize, usize), u64>>,
    binds: Mutex<HashMap<usize, u64>>,
    /// Protocol errors by (interface, code): count and the first message.
    errors: Mutex<BTreeMap<(String, u32), (u64, String)>>,
    offered: Mutex<BTreeMap<String, u32>>,
    reports: Mutex<Vec<CrashReport>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One line to stderr in one write, so that the wayland libraries' own messages from the client
/// threads do not cut into it.
fn say(mut line: String) {
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Runs the fuzzer; prints as the module docs say.
pub fn run(options: &Options) -> Summary {
    println!("fuzz: seed {}", options.seed);
    let _ = std::io::stdout().flush();
    say(format!(
        "fuzz: {} s, {} clients, seed {}, {} interfaces in the protocol tables",
        options.seconds,
        options.clients,
        options.seed,
        protocol::interfaces().len()
    ));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    let shared = Arc::new(Shared::default());

    let slots: Vec<(u32, Option<u64>)> = match options.replay {
        Some((client, generation)) => vec![(client, Some(generation))],
        None => (0..options.clients).map(|c| (c, None)).collect(),
    };
    let mut threads = Vec::new();
    for (index, only) in slots {
        let shared = shared.clone();
        let seed = options.seed;
        let pid = options.compositor_pid;
        let skip = options.skip.clone();
        let trace = options.trace;
        let display = if options.displays.is_empty() {
            None
        } else {
            options
                .displays
                .get(index as usize % options.displays.len())
                .cloned()
        };
        let spawned = std::thread::Builder::new()
            .name(format!("fuzz-client-{index}"))
            .spawn(move || {
                let slot = Slot {
                    seed,
                    index,
                    only,
                    deadline,
                    pid,
                    skip,
                    display,
                    trace,
                };
                slot.run(&shared)
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => eprintln!("fuzz: cannot start client thread {index}: {e}"),
        }
    }

    let mut last_progress = Instant::now();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            let requests = shared.requests.load(Ordering::Relaxed);
            say(format!(
                "fuzz: {:.0} s: {requests} requests ({:.0}/s), {} clients, {} protocol errors, {} disconnects",
                elapsed,
                requests as f64 / elapsed.max(0.001),
                shared.clients.load(Ordering::Relaxed),
                shared.protocol_errors.load(Ordering::Relaxed),
                shared.disconnects.load(Ordering::Relaxed),
            ));
        }
    }
    for thread in threads {
        if thread.join().is_err() {
            eprintln!("fuzz: a client thread panicked");
        }
    }

    let summary = Summary {
        requests: shared.requests.load(Ordering::Relaxed),
        clients: shared.clients.load(Ordering::Relaxed),
        protocol_errors: shared.protocol_errors.load(Ordering::Relaxed),
        crashes: u64::from(shared.crashed.load(Ordering::Relaxed)),
        disconnects: shared.disconnects.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    };
    report(options, &shared, &summary);
    println!(
        "fuzz-protocol: {} requests, {} clients, {} protocol errors, {} crashes",
        summary.requests, summary.clients, summary.protocol_errors, summary.crashes
    );
    let _ = std::io::stdout().flush();
    summary
}

/// One client slot: connection after connection until the deadline, a stop, or a crash.
struct Slot {
    seed: u64,
    index: u32,
    /// The one generation to run (--replay).
    only: Option<u64>,
    deadline: Instant,
    pid: Option<i32>,
    skip: Vec<(usize, usize)>,
    /// The socket its clients connect to (None: $WAYLAND_DISPLAY).
    display: Option<String>,
    trace: bool,
}

/// How a slot's previous connection ended: a compositor that panics while handling a request
/// often posts that request's protocol error first, so the client that killed it may already
/// have counted an error and moved on when the others see the compositor gone.
struct Previous {
    generation: u64,
    ending: String,
    at: Instant,
    history: Vec<String>,
}

impl Slot {
    fn run(self, shared: &Shared) {
        let mut generation = self.only.unwrap_or(0);
        let mut failed_connects = 0;
        let mut previous: Option<Previous> = None;
        while !shared.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline {
            let mut rng = Rng::for_client(self.seed, self.index, generation);
            let steps = rng.range(1, MAX_STEPS);
            let mut client = match Client::connect(rng, self.skip.clone(), self.display.as_deref())
            {
                Ok(client) => client,
                Err(error) => {
                    failed_connects += 1;
                    if !compositor_alive(self.pid) || failed_connects > 50 {
                        let reason = format!("cannot connect: {error}");
                        self.crashed(shared, generation, reason, Vec::new(), previous);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            failed_connects = 0;
            if self.trace {
                client.trace(format!("c{}.{generation}", self.index));
            }
            shared.clients.fetch_add(1, Ordering::Relaxed);
            let ending = client.run(steps, self.deadline, &shared.stop);
            self.account(shared, &client, generation);
            let history = std::mem::take(&mut client.history);
            drop(client);
            let described = match ending {
                Ending::Killed | Ending::Stopped => "killed".to_string(),
                Ending::ProtocolError {
                    interface,
                    code,
                    message,
                } => {
                    shared.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    let described = format!("protocol error {interface} {code}: {message}");
                    lock(&shared.errors)
                        .entry((interface, code))
                        .or_insert((0, message))
                        .0 += 1;
                    described
                }
                Ending::Disconnected(why) => {
                    if !compositor_alive(self.pid) {
                        let reason = format!("connection lost ({why}) and the compositor is gone");
                        self.crashed(shared, generation, reason, history, previous);
                        return;
                    }
                    shared.disconnects.fetch_add(1, Ordering::Relaxed);
                    format!("closed by the compositor ({why})")
                }
                Ending::Hang => {
                    let reason = if compositor_alive(self.pid) {
                        format!(
                            "the compositor did not answer wl_display.sync within {} s",
                            client::HANG_TIMEOUT.as_secs()
                        )
                    } else {
                        "the compositor is gone".to_string()
                    };
                    self.crashed(shared, generation, reason, history, previous);
                    return;
                }
            };
            if self.only.is_some() {
                return;
            }
            previous = Some(Previous {
                generation,
                ending: described,
                at: Instant::now(),
                history,
            });
            generation += 1;
        }
    }

    /// Adds what a connection did to the run's totals.
    fn account(&self, shared: &Shared, client: &Client, generation: u64) {
        shared
            .requests
            .fetch_add(client.requests, Ordering::Relaxed);
        {
            let mut counts = lock(&shared.counts);
            for (key, n) in &client.counts {
                *counts.entry(*key).or_default() += n;
            }
        }
        {
            let mut binds = lock(&shared.binds);
            for (key, n) in &client.binds {
                *binds.entry(*key).or_default() += n;
            }
        }
        if generation == 0 || self.only.is_some() {
            let mut offered = lock(&shared.offered);
            for (interface, version) in client.globals() {
                offered.insert(interface, version);
            }
        }
    }

    fn crashed(
        &self,
        shared: &Shared,
        generation: u64,
        reason: String,
        history: Vec<String>,
        previous: Option<Previous>,
    ) {
        shared.crashed.store(true, Ordering::Relaxed);
        shared.stop.store(true, Ordering::Relaxed);
        let mut reports = lock(&shared.reports);
        // The connection before, if it ended shortly before the crash (or the hang) began.
        let window = if reason.contains("did not answer") {
            client::HANG_TIMEOUT + Duration::from_secs(5)
        } else {
            Duration::from_secs(2)
        };
        if let Some(previous) = previous.filter(|p| p.at.elapsed() < window) {
            let ago = previous.at.elapsed().as_millis();
            reports.push(CrashReport {
                client: self.index,
                generation: previous.generation,
                reason: format!("{} ({ago} ms before the crash was seen)", previous.ending),
                history: previous.history,
            });
        }
        reports.push(CrashReport {
            client: self.index,
            generation,
            reason,
            history,
        });
    }
}

/// Whether the compositor still runs: its pid (when given) is neither gone nor a zombie, and
/// its socket takes a connection.
fn compositor_alive(pid: Option<i32>) -> bool {
    if let Some(pid) = pid {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, Some('Z' | 'X') | None) {
            return false;
        }
    }
    let display = std::env::var("WAYLAND_DISPLAY").unwrap_or_else(|_| "wayland-0".into());
    let path = if display.starts_with('/') {
        PathBuf::from(display)
    } else {
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(dir) => PathBuf::from(dir).join(display),
            None => return pid.is_some(),
        }
    };
    UnixStream::connect(path).is_ok()
}

/// The summary on stderr: crashes with their requests, protocol errors, requests per interface,
/// globals reached.
fn report(options: &Options, shared: &Shared, summary: &Summary) {
    let mut err = std::io::stderr().lock();
    for report in lock(&shared.reports).iter() {
        let _ = writeln!(
            err,
            "fuzz: CRASH: client {} connection {}: {}",
            report.client, report.generation, report.reason
        );
        let file = options.history_dir.join(format!(
            "tandem-fuzz-{}-client{}-connection{}.log",
            options.seed, report.client, report.generation
        ));
        if !report.history.is_empty() {
            let _ = writeln!(
                err,
                "fuzz: its last requests (replay: --seed {} --replay {}:{}):",
                options.seed, report.client, report.generation
            );
            for line in report.history.iter().rev().take(20).rev() {
                let _ = writeln!(err, "    {line}");
            }
            match std::fs::write(&file, report.history.join("\n") + "\n") {
                Ok(()) => {
                    let _ = writeln!(
                        err,
                        "fuzz: all {} requests of that connection: {}",
                        report.history.len(),
                        file.display()
                    );
                }
                Err(e) => {
                    let _ = writeln!(err, "fuzz: cannot write {}: {e}", file.display());
                }
            }
        }
    }

    let counts = lock(&shared.counts);
    // Interface -> (requests, per request).
    type Tally = (u64, Vec<(&'static str, u64)>);
    let mut per_interface: BTreeMap<&str, Tally> = BTreeMap::new();
    for (&(interface, opcode), &n) in counts.iter() {
        let meta = protocol::interface(interface);
        let entry = per_interface.entry(meta.name).or_default();
        entry.0 += n;
        entry.1.push((meta.requests[opcode].name, n));
    }
    let _ = writeln!(err, "fuzz: requests per interface:");
    for (name, (total, mut requests)) in per_interface {
        requests.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = requests.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = writeln!(err, "    {name} {total}: {}", list.join(", "));
    }

    let binds = lock(&shared.binds);
    let offered = lock(&shared.offered);
    let mut bound = Vec::new();
    let mut not_bound = Vec::new();
    for (interface, version) in offered.iter() {
        let n = protocol::find(interface)
            .and_then(|i| binds.get(&i))
            .copied()
            .unwrap_or(0);
        if n > 0 {
            bound.push(format!("{interface} v{version} ({n})"));
        } else if protocol::find(interface).is_some() {
            not_bound.push(format!("{interface} v{version}"));
        } else {
            not_bound.push(format!(
                "{interface} v{version} (not in the protocol tables)"
            ));
        }
    }
    let _ = writeln!(
        err,
        "fuzz: globals offered and bound ({}): {}",
        bound.len(),
        bound.join(", ")
    );
    if !not_bound.is_empty() {
        let _ = writeln!(
            err,
            "fuzz: globals offered, never bound: {}",
            not_bound.join(", ")
        );
    }

    let errors = lock(&shared.errors);
    let mut sorted: Vec<_> = errors.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.1 .0));
    let _ = writeln!(err, "fuzz: protocol errors by interface and code:");
    for ((interface, code), (n, message)) in sorted.iter().take(40) {
        let _ = writeln!(err, "    {n:>6}  {interface} {code}: {message}");
    }
    let _ = writeln!(
        err,
        "fuzz: {} requests in {:.1} s ({:.0}/s), {} connections, {} protocol errors, {} closed without one, {} crashes",
        summary.requests,
        summary.seconds,
        summary.requests as f64 / summary.seconds.max(0.001),
        summary.clients,
        summary.protocol_errors,
        summary.disconnects,
        summary.crashes
    );
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_parse() {
        let o = parse(&["--fuzz", "5", "--clients", "2", "--seed", "42"]).unwrap();
        assert_eq!((o.seconds, o.clients, o.seed), (5.0, 2, 42));
        let o = parse(&["--fuzz=1.5", "--seed=0x10", "--replay", "3:7"]).unwrap();
        assert_eq!((o.seconds, o.seed, o.replay), (1.5, 16, Some((3, 7))));
        assert!(parse(&["--clients", "2"]).is_err());
        assert!(parse(&["--fuzz", "1", "--clients", "0"]).is_err());
        assert!(parse(&["--fuzz", "x"]).is_err());
        assert!(parse(&["--fuzz", "1", "--bogus"]).is_err());
        let o = parse(&["--fuzz", "1", "--skip", "xdg_surface.get_popup"]).unwrap();
        assert_eq!(o.skip.len(), 1);
        assert!(parse(&["--fuzz", "1", "--skip", "xdg_surface.nope"]).is_err());
        let o = parse(&["--fuzz", "1", "--displays", "a,b"]).unwrap();
        assert_eq!(o.displays, ["a", "b"]);
    }
}
