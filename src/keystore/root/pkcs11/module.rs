//! A PKCS#11 module (the token vendor's shared library) loaded once per process: the standard
//! lets a process initialize a module once, so every provider naming the same library shares
//! one context. When a token is lost, some modules (SoftHSM2 among them) see it again only
//! after `C_Finalize` and `C_Initialize`; `reinitialize` does that under a write lock, so no
//! other call is inside the module meanwhile, and bumps a generation that tells every
//! provider its sessions are gone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

/// The fewest seconds between two re-initializations of one module: a token that stays away
/// must not turn every call into a `C_Finalize`.
const MIN_REINITIALIZE_INTERVAL: Duration = Duration::from_secs(1);

/// One initialized context of a module.
pub(super) struct Context {
    pub(super) pkcs11: Pkcs11,
    /// Bumped by every re-initialization: a session opened under another generation is gone.
    pub(super) generation: u64,
}

pub(super) struct Module {
    path: PathBuf,
    context: RwLock<Context>,
    last_reinitialized: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

/// The module at `path`, loaded and initialized on first use.
pub(super) fn module(path: &Path) -> Result<Arc<Module>, String> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(module) = modules.get(path) {
        return Ok(Arc::clone(module));
    }
    let module = Arc::new(Module {
        path: path.to_owned(),
        context: RwLock::new(Context {
            pkcs11: load(path)?,
            generation: 0,
        }),
        last_reinitialized: Mutex::new(None),
    });
    modules.insert(path.to_owned(), Arc::clone(&module));
    Ok(module)
}

fn load(path: &Path) -> Result<Pkcs11, String> {
    let pkcs11 = Pkcs11::new(path).map_err(|e| {
        format!(
            "cannot load the PKCS#11 module {}: {e} (keystore.pkcs11.module must be the token \
             vendor's library, e.g. /usr/lib/softhsm/libsofthsm2.so)",
            path.display()
        )
    })?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another part of this process initialized it: it is usable as it is.
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(pkcs11),
        Err(e) => Err(format!(
            "the PKCS#11 module {} failed to initialize: {e}",
            path.display()
        )),
    }
}

impl Module {
    /// The current context; calls into the module hold this guard.
    pub(super) fn context(&self) -> RwLockReadGuard<'_, Context> {
        self.context
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finalizes and initializes the module again, unless another caller already did since
    /// `seen_generation` or it was done less than a second ago.
    pub(super) fn reinitialize(&self, seen_generation: u64) {
        let mut last = self
            .last_reinitialized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < MIN_REINITIALIZE_INTERVAL) {
            return;
        }
        let mut context = self
            .context
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if context.generation != seen_generation {
            return;
        }
        *last = Some(Instant::now());
        // C_Finalize invalidates every session of the old context; its errors (the module
        // already lost its state) change nothing.
        let _ = context.pkcs11.clone().finalize();
        match load(&self.path) {
            Ok(pkcs11) => context.pkcs11 = pkcs11,
            Err(e) => tracing::warn!(error = %e, "re-initializing the PKCS#11 module failed"),
        }
        context.generation = context.generation.wrapping_add(1);
    }
}
