//! A stand-in PostgreSQL that asks for a clear-text password, records it, and refuses the login.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub database: String,
    pub password: String,
}

pub struct FakePostgres {
    pub addr: SocketAddr,
    pub logins: Arc<Mutex<Vec<Login>>>,
}

impl FakePostgres {
    pub async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the PostgreSQL stand-in");
        let addr = listener.local_addr().expect("PostgreSQL stand-in address");
        let logins = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logins);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    if let Ok(login) = refuse_login(stream).await {
                        lock(&sink).push(login);
                    }
                });
            }
        });
        Self { addr, logins }
    }

    pub fn logins(&self) -> Vec<Login> {
        lock(&self.logins).clone()
    }
}

pub fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Speaks the start of the PostgreSQL protocol: declines TLS, asks for the password in clear
/// text (`AuthenticationCleartextPassword`), and answers `28P01` whatever it is.
pub async fn refuse_login(mut stream: TcpStream) -> std::io::Result<Login> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSS_ENC_REQUEST: u32 = 80_877_104;
    let startup = loop {
        let len = usize::try_from(stream.read_u32().await?).map_err(|_| protocol_error("len"))?;
        let code = stream.read_u32().await?;
        let mut rest = vec![0; len.checked_sub(8).ok_or_else(|| protocol_error("len"))?];
        stream.read_exact(&mut rest).await?;
        match code {
            SSL_REQUEST | GSS_ENC_REQUEST => stream.write_all(b"N").await?,
            code if code >> 16 == 3 => break rest,
            _ => return Err(protocol_error("unexpected start-up code")),
        }
    };
    let fields: Vec<String> = startup
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let param = |key: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == key)
            .and_then(|pair| pair.get(1).cloned())
            .unwrap_or_default()
    };
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    if stream.read_u8().await? != b'p' {
        return Err(protocol_error("a password message was expected"));
    }
    let len = usize::try_from(stream.read_u32().await?).map_err(|_| protocol_error("len"))?;
    let mut body = vec![0; len.checked_sub(4).ok_or_else(|| protocol_error("len"))?];
    stream.read_exact(&mut body).await?;
    let password = body.split(|b| *b == 0).next().unwrap_or_default();
    let login = Login {
        user: param("user"),
        database: param("database"),
        password: String::from_utf8(password.to_vec()).map_err(|_| protocol_error("utf-8"))?,
    };
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28P01"),
        (b'M', "password authentication failed (stand-in)"),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let len = u32::try_from(fields.len() + 4).map_err(|_| protocol_error("len"))?;
    let mut message = vec![b'E'];
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(&fields);
    stream.write_all(&message).await?;
    let _ = stream.shutdown().await;
    Ok(login)
}
