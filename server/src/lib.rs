//! Daftar's cloud API (ARCHITECTURE.md §2): actix-web 4 over Diesel 2 + r2d2 on PostgreSQL.
//!
//! Feature folders: [`auth`], [`roster`], [`oneroster`] (imports); shared plumbing in
//! [`db`], [`errors`], [`audit`], [`config`]; [`embedded_pg`] owns a private PostgreSQL when
//! no `DATABASE_URL` is given; [`app`] wires routes and the OpenAPI document.

pub mod access;
pub mod admissions;
pub mod app;
pub mod attendance;
pub mod audit;
pub mod audit_viewer;
pub mod auth;
pub mod calendar;
pub mod config;
pub mod db;
pub mod demo;
pub mod edge;
pub mod embedded_pg;
pub mod errors;
pub mod health;
pub mod json;
pub mod ledger;
pub mod oneroster;
pub mod query;
pub mod reports;
pub mod roster;
pub mod schema;
pub mod schools;
pub mod spec;
pub mod sums;
pub mod sync;
pub mod tenancy;
pub mod validate;
