//! API tests against a real server on a loopback port with a real sled database on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod antispam;
mod api;
mod crash;
mod disk_full;
mod hardening;
mod import;
mod live;
mod mail;
mod migrate;
mod moderation;
mod ops;
mod pages;
mod postgres;
mod powercut;
mod subscriptions;
mod support;
mod webhooks;
mod write_path;
