//! A SoftHSM2 token of the test's own: a token folder and a `softhsm2.conf` in a temporary
//! directory, initialized with `softhsm2-util` (Debian's `softhsm2`; `scripts/test` installs
//! it). Servers and commands are pointed at it through `SOFTHSM2_CONF`, so tests never share
//! a token.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's SoftHSM2 module, unless `REKEY_TEST_PKCS11_MODULE` names another.
pub fn module_path() -> String {
    std::env::var("REKEY_TEST_PKCS11_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".to_owned())
}

pub struct SoftHsm {
    dir: tempfile::TempDir,
    pub label: String,
    pub pin: String,
}

impl SoftHsm {
    /// A fresh token labelled `label` with user PIN `pin`.
    pub fn new(label: &str, pin: &str) -> SoftHsm {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        let hsm = SoftHsm {
            dir,
            label: label.to_owned(),
            pin: pin.to_owned(),
        };
        std::fs::write(
            hsm.conf(),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                hsm.tokens().display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                "0000",
            ])
            .args(["--pin", pin])
            .env("SOFTHSM2_CONF", hsm.conf())
            .output()
            .expect(
                "softhsm2-util runs (install Debian's softhsm2: `apt-get install softhsm2`; \
                 scripts/test does)",
            );
        assert!(
            out.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        hsm
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn tokens(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    /// The environment that points `rekey` at this token with its PIN (the provider itself
    /// is chosen by `REKEY_ROOT_KEY_PROVIDER`).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SOFTHSM2_CONF", self.conf().display().to_string()),
            ("REKEY_PKCS11_MODULE", module_path()),
            ("REKEY_PKCS11_TOKEN_LABEL", self.label.clone()),
            ("REKEY_PKCS11_PIN", self.pin.clone()),
        ]
    }

    /// The token disappears, as an HSM unplugged or unreachable would.
    pub fn unplug(&self) {
        std::fs::rename(self.tokens(), self.unplugged()).unwrap();
    }

    /// The token is back.
    pub fn plug_in(&self) {
        std::fs::rename(self.unplugged(), self.tokens()).unwrap();
    }

    fn unplugged(&self) -> PathBuf {
        self.dir.path().join("tokens.unplugged")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs `rekey` with `args` and the environment `vars` (`None` removes a variable); returns
/// its exit status, stdout and stderr.
pub fn rekey(args: &[&str], vars: &[(&str, Option<String>)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command.args(args).env_remove("REKEY_DATABASE_URL");
    for (name, value) in vars {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let out = command.output().expect("rekey runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
