//! `vault`: encrypt, decrypt, view, edit and rekey Ansible Vault files, and
//! the vault password flags every command takes.

use super::CliError;
use clap::{Args, Subcommand};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tbuddy_deploy::vault::{self, DEFAULT_ID, Keyring, VaultError, VaultSecret, format};

/// Where vault passwords come from (global flags, as in ansible-playbook).
#[derive(Debug, Args, Clone, Default)]
pub struct VaultArgs {
    /// A file holding the vault password; an executable file is run and its
    /// output used (repeatable).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE",
        global = true
    )]
    pub password_files: Vec<PathBuf>,
    /// A vault password with its id: [LABEL@]SOURCE, where SOURCE is a
    /// password file, a script or `prompt` (repeatable).
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE", global = true)]
    pub ids: Vec<String>,
    /// Ask for the vault password.
    #[arg(short = 'J', long = "ask-vault-pass", global = true)]
    pub ask: bool,
}

fn vault_error(e: VaultError) -> CliError {
    CliError::usage(format!("error: {e}"))
}

impl VaultArgs {
    /// Reads every password given, in order: --vault-id, --vault-password-file, --ask-vault-pass.
    pub fn keyring(&self) -> Result<Keyring, CliError> {
        let mut secrets = Vec::new();
        for id in &self.ids {
            secrets.push(secret_from_id(id)?);
        }
        for file in &self.password_files {
            secrets.push(VaultSecret::from_file(DEFAULT_ID, file).map_err(vault_error)?);
        }
        if self.ask {
            let pw = super::prompt::secret("Vault password: ")?;
            secrets.push(VaultSecret::new(DEFAULT_ID, pw).map_err(vault_error)?);
        }
        Ok(Keyring::new(secrets))
    }
}

/// `[label@]source`: a file, a script or `prompt`.
fn secret_from_id(id: &str) -> Result<VaultSecret, CliError> {
    let (label, source) = match id.split_once('@') {
        Some((l, s)) if !l.is_empty() => (l, s),
        _ => (DEFAULT_ID, id),
    };
    if source == "prompt" {
        let pw = super::prompt::secret(&format!("Vault password ({label}): "))?;
        return VaultSecret::new(label, pw).map_err(vault_error);
    }
    VaultSecret::from_file(label, Path::new(source)).map_err(vault_error)
}

#[derive(Debug, Args)]
pub struct VaultCmdArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Encrypt files in place (or to --output).
    Encrypt {
        files: Vec<PathBuf>,
        /// Write here instead of in place (`-` for standard output).
        #[arg(long)]
        output: Option<PathBuf>,
        /// The vault id whose password encrypts (default: the first given).
        #[arg(long)]
        encrypt_vault_id: Option<String>,
    },
    /// Decrypt files in place (or to --output).
    Decrypt {
        files: Vec<PathBuf>,
        /// Write here instead of in place (`-` for standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print decrypted files.
    View { files: Vec<PathBuf> },
    /// Decrypt to a private temporary file, run $EDITOR on it, encrypt it back.
    Edit {
        file: PathBuf,
        #[arg(long)]
        encrypt_vault_id: Option<String>,
    },
    /// Create a new encrypted file with $EDITOR.
    Create {
        file: PathBuf,
        #[arg(long)]
        encrypt_vault_id: Option<String>,
    },
    /// Re-encrypt files with a new password.
    Rekey {
        files: Vec<PathBuf>,
        /// The new password's file (or script).
        #[arg(long, value_name = "FILE")]
        new_vault_password_file: Option<PathBuf>,
        /// The new password as [LABEL@]SOURCE.
        #[arg(long, value_name = "[LABEL@]SOURCE")]
        new_vault_id: Option<String>,
    },
    /// Encrypt a string for an inline `!vault` value (reads standard input
    /// when no string is given).
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString {
        string: Option<String>,
        /// Print it as the value of this variable.
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        encrypt_vault_id: Option<String>,
    },
}

pub fn exec(args: VaultCmdArgs, flags: &VaultArgs) -> Result<i32, CliError> {
    let encrypting = matches!(
        args.action,
        Action::Encrypt { .. } | Action::Create { .. } | Action::EncryptString { .. }
    );
    let keyring = vault::keyring();
    let keyring = if keyring.is_empty() {
        vault::install(prompted(flags, encrypting)?)
    } else {
        keyring
    };
    match args.action {
        Action::Encrypt {
            files,
            output,
            encrypt_vault_id,
        } => {
            check_output(&files, &output)?;
            for f in &files {
                let data = read(f)?;
                if format::is_vault(&data) {
                    return Err(fail(f, "it is already vault-encrypted"));
                }
                let text = keyring
                    .encrypt(&data, encrypt_vault_id.as_deref())
                    .map_err(vault_error)?;
                write_out(output.as_deref().unwrap_or(f), text.as_bytes())?;
            }
            eprintln!("Encryption successful");
        }
        Action::Decrypt { files, output } => {
            check_output(&files, &output)?;
            for f in &files {
                let plain = decrypt(&keyring, f)?;
                write_out(output.as_deref().unwrap_or(f), &plain)?;
            }
            eprintln!("Decryption successful");
        }
        Action::View { files } => {
            let mut out = std::io::stdout().lock();
            for f in &files {
                let plain = decrypt(&keyring, f)?;
                out.write_all(&plain)
                    .map_err(|e| CliError::usage(e.to_string()))?;
            }
        }
        Action::Edit {
            file,
            encrypt_vault_id,
        } => {
            let data = read(&file)?;
            let label = encrypt_vault_id.or_else(|| envelope_label(&data, &keyring));
            let plain = decrypt(&keyring, &file)?;
            if let Some(edited) = edit_privately(&plain)?
                && edited != plain
            {
                let text = keyring
                    .encrypt(&edited, label.as_deref())
                    .map_err(vault_error)?;
                write_out(&file, text.as_bytes())?;
            }
        }
        Action::Create {
            file,
            encrypt_vault_id,
        } => {
            if file.exists() {
                return Err(fail(&file, "it already exists (use `vault edit`)"));
            }
            let edited = edit_privately(b"")?.unwrap_or_default();
            let text = keyring
                .encrypt(&edited, encrypt_vault_id.as_deref())
                .map_err(vault_error)?;
            write_out(&file, text.as_bytes())?;
        }
        Action::Rekey {
            files,
            new_vault_password_file,
            new_vault_id,
        } => {
            let new = match (&new_vault_id, &new_vault_password_file) {
                (Some(id), _) => secret_from_id(id)?,
                (None, Some(f)) => VaultSecret::from_file(DEFAULT_ID, f).map_err(vault_error)?,
                (None, None) => new_password_prompt()?,
            };
            let label = new.label.clone();
            let new_ring = Keyring::new(vec![new]);
            for f in &files {
                let plain = decrypt(&keyring, f)?;
                let text = new_ring
                    .encrypt(&plain, Some(&label))
                    .map_err(vault_error)?;
                write_out(f, text.as_bytes())?;
            }
            eprintln!("Rekey successful");
        }
        Action::EncryptString {
            string,
            name,
            encrypt_vault_id,
        } => {
            let plain = match string {
                Some(s) => s.into_bytes(),
                None => {
                    let mut buf = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut buf)
                        .map_err(|e| CliError::usage(e.to_string()))?;
                    buf
                }
            };
            let text = keyring
                .encrypt(&plain, encrypt_vault_id.as_deref())
                .map_err(vault_error)?;
            print!("{}", inline_block(name.as_deref(), &text));
            eprintln!("Encryption successful");
        }
    }
    Ok(super::exit::OK)
}

/// The `!vault |` block ansible-vault's encrypt_string prints: the envelope
/// indented by ten spaces under the (optional) variable name.
pub fn inline_block(name: Option<&str>, vault_text: &str) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |\n"),
        None => "!vault |\n".to_string(),
    };
    for line in vault_text.lines() {
        out.push_str("          ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Passwords asked for when no flag gave one.
fn prompted(flags: &VaultArgs, encrypting: bool) -> Result<Keyring, CliError> {
    let ring = flags.keyring()?;
    if !ring.is_empty() {
        return Ok(ring);
    }
    let secret = if encrypting {
        new_password_prompt()?
    } else {
        let pw = super::prompt::secret("Vault password: ")?;
        VaultSecret::new(DEFAULT_ID, pw).map_err(vault_error)?
    };
    Ok(Keyring::new(vec![secret]))
}

fn new_password_prompt() -> Result<VaultSecret, CliError> {
    let pw = super::prompt::secret("New Vault password: ")?;
    let again = super::prompt::secret("Confirm New Vault password: ")?;
    if pw != again {
        return Err(CliError::usage("error: the passwords do not match"));
    }
    VaultSecret::new(DEFAULT_ID, pw).map_err(vault_error)
}

/// The vault id of a 1.2 file, when one of the given passwords has it.
fn envelope_label(data: &[u8], keyring: &Keyring) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let label = format::Envelope::parse(text, "").ok()?.label?;
    keyring.labels().contains(&label.as_str()).then_some(label)
}

fn fail(path: &Path, why: &str) -> CliError {
    CliError::usage(format!("error: {}: {why}", path.display()))
}

fn check_output(files: &[PathBuf], output: &Option<PathBuf>) -> Result<(), CliError> {
    if files.is_empty() {
        return Err(CliError::usage("error: no file given"));
    }
    if output.is_some() && files.len() > 1 {
        return Err(CliError::usage("error: --output takes a single input file"));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::usage(e.to_string()))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| fail(path, &e.to_string()))
}

fn decrypt(keyring: &Keyring, path: &Path) -> Result<Vec<u8>, CliError> {
    let data = read(path)?;
    if !format::is_vault(&data) {
        return Err(fail(path, "it is not vault-encrypted"));
    }
    let text = String::from_utf8_lossy(&data);
    keyring
        .decrypt(&text, &path.display().to_string())
        .map_err(vault_error)
}

/// Writes atomically next to `path`, keeping an existing file's mode
/// (new files get 0600); `-` is standard output.
fn write_out(path: &Path, data: &[u8]) -> Result<(), CliError> {
    if path == Path::new("-") {
        return std::io::stdout()
            .write_all(data)
            .map_err(|e| CliError::usage(e.to_string()));
    }
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(path, &format!("cannot write: {e}"))
    })
}

/// Runs $EDITOR (else `vi`) on `plain` in a file only the user can read, in
/// a directory only the user can enter; the file is overwritten and removed
/// afterwards. None: the editor failed.
fn edit_privately(plain: &[u8]) -> Result<Option<Vec<u8>>, CliError> {
    let rand =
        format::hex(&format::random_salt().map_err(|e| CliError::usage(e.to_string()))?[..8]);
    let dir = std::env::temp_dir().join(format!("tbuddy-vault-{rand}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail(&dir, &e.to_string()))?;
    let file = dir.join("edit.yml");
    let result = (|| -> Result<Option<Vec<u8>>, CliError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .map_err(|e| fail(&file, &e.to_string()))?;
        f.write_all(plain)
            .map_err(|e| fail(&file, &e.to_string()))?;
        drop(f);
        let editor = std::env::var("EDITOR")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "vi".into());
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&file)
            .status()
            .map_err(|e| CliError::usage(format!("error: cannot run the editor: {e}")))?;
        if !status.success() {
            eprintln!("The editor exited with {status}; the file was left unchanged.");
            return Ok(None);
        }
        std::fs::read(&file)
            .map(Some)
            .map_err(|e| fail(&file, &e.to_string()))
    })();
    if let Ok(len) = std::fs::metadata(&file).map(|m| m.len()) {
        let _ = std::fs::write(&file, vec![0u8; len as usize]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}
