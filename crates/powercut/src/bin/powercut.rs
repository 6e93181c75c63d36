//! `powercut BACKING MOUNTPOINT`: mounts the power-cut file system in the foreground.
//! SIGUSR1 cuts the power (forgets everything not fsynced, prints what, exits 0);
//! SIGTERM or SIGINT unmounts cleanly, keeping everything.

use std::path::PathBuf;

use anyhow::{Context, bail};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [backing, mountpoint] = args.as_slice() else {
        bail!("usage: powercut BACKING MOUNTPOINT");
    };
    // Listen before mounting, so that an early signal is not lost (or fatal).
    let mut signals = Signals::new([SIGUSR1, SIGTERM, SIGINT]).context("signal handlers")?;
    let mounted = talkback_powercut::mount(backing, mountpoint)?;
    eprintln!(
        "powercut: {} mounted at {}; SIGUSR1 cuts the power, SIGTERM unmounts",
        backing.display(),
        mountpoint.display()
    );
    match signals.forever().next() {
        Some(SIGUSR1) => eprintln!("powercut: power cut; forgot {}", mounted.cut()?),
        _ => mounted.unmount()?,
    }
    Ok(())
}
