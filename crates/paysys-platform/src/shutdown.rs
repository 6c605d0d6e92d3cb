//! One shutdown signal every task listens to (mini-redis style): SIGTERM or Ctrl-C cancels it,
//! servers stop accepting and drain, consumers stop after the message in hand.

use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self(CancellationToken::new())
    }
    pub fn trigger(&self) {
        self.0.cancel()
    }
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }
    pub async fn wait(&self) {
        self.0.cancelled().await
    }
    /// A child that is cancelled with this one but can also be cancelled alone.
    pub fn child(&self) -> Self {
        Self(self.0.child_token())
    }
    /// Cancels this signal when the process receives SIGTERM or Ctrl-C.
    pub fn on_signals(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("install SIGTERM handler");
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            tracing::info!("shutdown signal received, draining");
            me.trigger();
        });
    }
}

impl Shutdown {
    /// An owned future that resolves on shutdown (for `take_until`).
    pub async fn wait_owned(self) {
        self.0.cancelled_owned().await
    }
}
