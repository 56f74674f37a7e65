//! The development identity provider over loopback HTTPS: MSAL (the web page's sign-in
//! library) refuses an authority that is not `https://`. The certificate is self-signed for
//! `127.0.0.1`, `::1` and `localhost`, made at the first start and kept (with its key) in a PEM
//! file, so a browser that was told to accept it once keeps accepting it across restarts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The names the certificate is valid for: the loopback addresses only.
const NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// Reads the certificate and key from `path`, or makes a self-signed pair and writes it there.
fn load_or_create(
    path: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    if !path.exists() {
        let made = rcgen::generate_simple_self_signed(NAMES.map(str::to_owned).to_vec())
            .context("making the self-signed certificate")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let pem = format!("{}{}", made.cert.pem(), made.signing_key.serialize_pem());
        std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
    }
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds no readable certificate", path.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .with_context(|| format!("{} holds no readable private key", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok((certs, key))
}

/// The TLS settings of the HTTPS listener, with the certificate of `path`.
pub fn server_config(path: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let (certs, key) = load_or_create(path)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TCP connections and hands over those whose TLS handshake completed (each handshake
/// runs on its own task, so one slow or refusing client holds up no other).
pub struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let addr = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    continue;
                };
                let (acceptor, sender) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    // A browser that has not accepted the certificate yet aborts the handshake.
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    if let Ok(Ok(tls)) = handshake.await {
                        let _ = sender.send((tls, peer)).await;
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        Ok(Self { addr, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_made_once_and_read_back_on_the_next_start() {
        let path = std::env::temp_dir().join(format!("dev-idp-tls-{}.pem", uuid::Uuid::new_v4()));
        let first = load_or_create(&path).expect("made");
        let second = load_or_create(&path).expect("read back");
        assert_eq!(first.0, second.0, "the same certificate after a restart");
        assert!(server_config(&path).is_ok());
        std::fs::remove_file(&path).ok();
    }
}
