//! How an upload ended, as the uploader can tell.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The host's TCP port could not be bound (`Listen Failed`).
    ListenFailed(String),
    HostNotFound,
    /// No reply to the invitation(s): `No Answer` / `No response from the ESP`.
    NoResponse,
    /// The device sent `AUTH`, then nothing after our answer.
    NoAuthAnswer,
    /// The device rejected the password; its reply text.
    AuthFailed(String),
    /// The device refused the invitation (`ERR: …`, or any other answer).
    DeviceError(String),
    /// The device never connected back (`No response from device`).
    ConnectBackTimeout,
    /// The data phase broke off. `device_text` is any non-count text the device sent
    /// on the data connection before that (e.g. `Wrong Magic Byte`).
    TransferError {
        detail: String,
        sent: u64,
        device_text: Option<String>,
    },
    /// All data sent; the device answered with an error text.
    ResultError(String),
    /// All data sent; no verdict came.
    NoResult,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        *self == Outcome::Ok
    }

    pub fn exit_code(&self) -> i32 {
        if self.is_ok() { 0 } else { 1 }
    }

    /// A stable short name for scripts and tests.
    pub fn id(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ListenFailed(_) => "listen_failed",
            Outcome::HostNotFound => "host_not_found",
            Outcome::NoResponse => "no_response",
            Outcome::NoAuthAnswer => "no_auth_answer",
            Outcome::AuthFailed(_) => "auth_failed",
            Outcome::DeviceError(_) => "device_error",
            Outcome::ConnectBackTimeout => "connect_back_timeout",
            Outcome::TransferError { .. } => "transfer_error",
            Outcome::ResultError(_) => "result_error",
            Outcome::NoResult => "no_result",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok => "the device accepted the image".into(),
            Outcome::ListenFailed(e) => format!("could not listen for the device: {e}"),
            Outcome::HostNotFound => "the device's name did not resolve".into(),
            Outcome::NoResponse => "no answer to the invitation".into(),
            Outcome::NoAuthAnswer => "no answer to the authentication".into(),
            Outcome::AuthFailed(t) => format!("device rejected the password: {t}"),
            Outcome::DeviceError(t) => format!("device refused the update: {t}"),
            Outcome::ConnectBackTimeout => "the device never connected back".into(),
            Outcome::TransferError {
                detail,
                sent,
                device_text,
            } => match device_text {
                Some(t) => {
                    format!("transfer broke after {sent} bytes: {detail}; device said `{t}`")
                }
                None => format!("transfer broke after {sent} bytes: {detail}"),
            },
            Outcome::ResultError(t) => format!("device reported: {t}"),
            Outcome::NoResult => "no result after the transfer".into(),
        }
    }
}
