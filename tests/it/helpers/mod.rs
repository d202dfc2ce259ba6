mod app;
pub mod conformance;
mod dns;
pub mod graph;
pub mod process;

#[allow(unused_imports)]
pub use app::{Backend, TestApp, code, fresh_database, settings, spawn_app, spawn_app_with};

pub fn app_master_key() -> &'static str {
    app::MASTER_KEY
}

pub fn app_operator_key() -> &'static str {
    app::OPERATOR_KEY
}
#[allow(unused_imports)]
pub use dns::TestDns;

/// Runs an async test body once per storage backend: `both_backends!(name);` expects an
/// `async fn name(backend: Backend)` and generates `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}
