//! Experiment configs and resuming: `genlab train --config exp.toml`, the
//! `config.toml` every run writes, and `genlab train --resume DIR`.
//!
//! A config file is TOML whose keys are `train`'s long flag names (`steps`,
//! `batch`, `vae-hidden`, …) plus `model`; tables may group keys for the
//! reader (`[shared] steps = 100`), the keys inside keep their flag names.
//! Values are what the flag takes: numbers, strings, booleans (a switch such
//! as `zero-snr = true`), arrays for comma-separated lists
//! (`vae-hidden = [512, 256]`).
//!
//! The file is spliced into the command line before it is parsed, ahead of
//! the user's own arguments, so clap checks every value exactly as it checks
//! typed flags, and a flag given on the command line wins over the file
//! (every train option overrides itself). A run writes the fully resolved
//! options, defaults included, to `DIR/config.toml`: `genlab train --config
//! DIR/config.toml --out OTHER` replays it, and `--resume DIR` continues it
//! from its newest checkpoint.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, ArgMatches, Command, parser::ValueSource};
use gen_core::checkpoint::CheckpointDir;
use gen_core::{GenError, Result};

/// The resolved configuration a run writes into its directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Train flags that say how to run rather than what: never read from or
/// written to a config file.
const NOT_CONFIG: [&str; 5] = ["config", "resume", "overwrite", "help", "version"];

/// The `train` subcommand's clap command (with its arguments built).
pub fn train_command(root: &Command) -> Result<Command> {
    let mut root = root.clone();
    root.build();
    root.find_subcommand("train")
        .cloned()
        .ok_or_else(|| GenError::Other("genlab has no train subcommand".into()))
}

fn key_of(arg: &clap::Arg) -> String {
    arg.get_long()
        .map(str::to_string)
        .unwrap_or_else(|| arg.get_id().to_string())
}

fn config_args(train: &Command) -> impl Iterator<Item = &clap::Arg> {
    train
        .get_arguments()
        .filter(|a| !NOT_CONFIG.contains(&a.get_id().as_str()))
}

/// The valid keys of a config file, for error messages.
fn valid_keys(train: &Command) -> String {
    config_args(train)
        .map(key_of)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a config file into (key, value) pairs, tables flattened one level.
fn read_table(path: &Path) -> Result<Vec<(String, toml::Value)>> {
    let text = std::fs::read_to_string(path).map_err(|e| GenError::io(path, e))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("not valid TOML: {}", e.message()),
        fix: "write `key = value` lines whose keys are train's flag names (see `genlab train --help`)"
            .into(),
    })?;
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => out.extend(t),
            v => out.push((k, v)),
        }
    }
    Ok(out)
}

fn scalar_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What a config file says: the model it configures and the argument tokens
/// of everything else, each with the id of the argument it sets.
struct FileArgs {
    model: Option<String>,
    tokens: Vec<(String, OsString)>,
}

fn file_args(path: &Path, train: &Command) -> Result<FileArgs> {
    let bad = |key: &str, problem: String, fix: String| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("key `{key}`: {problem}"),
        fix,
    };
    let mut model = None;
    let mut tokens = Vec::new();
    for (key, value) in read_table(path)? {
        let Some(arg) = config_args(train).find(|a| key_of(a) == key) else {
            let problem = if NOT_CONFIG.contains(&key.as_str()) {
                "says how to run, not what; it is not a config key".to_string()
            } else {
                "unknown key".to_string()
            };
            return Err(bad(
                &key,
                problem,
                format!("valid keys are the train flags: {}", valid_keys(train)),
            ));
        };
        if arg.is_positional() {
            model = Some(scalar_text(&value).ok_or_else(|| {
                bad(
                    &key,
                    "must be a string".into(),
                    "e.g. model = \"vae\"".into(),
                )
            })?);
            continue;
        }
        let flag = format!("--{}", key_of(arg));
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match value {
                toml::Value::Boolean(true) => tokens.push((arg.get_id().to_string(), flag.into())),
                toml::Value::Boolean(false) => {}
                _ => {
                    return Err(bad(
                        &key,
                        "is a switch: its value must be true or false".into(),
                        format!("{key} = true"),
                    ));
                }
            }
            continue;
        }
        let values: Vec<String> = match &value {
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    scalar_text(v).ok_or_else(|| {
                        bad(
                            &key,
                            "arrays may hold only numbers, strings or booleans".into(),
                            format!("{key} = [512, 256]"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            v => vec![scalar_text(v).ok_or_else(|| {
                bad(
                    &key,
                    "must be a number, string, boolean or array".into(),
                    format!("see `genlab train --help` for --{key}"),
                )
            })?],
        };
        if values.is_empty() {
            continue;
        }
        let id = arg.get_id().to_string();
        if arg.get_value_delimiter().is_some() {
            tokens.push((id, format!("{flag}={}", values.join(",")).into()));
        } else if values.len() == 1 {
            tokens.push((id, format!("{flag}={}", values[0]).into()));
        } else {
            return Err(bad(
                &key,
                format!("takes one value, the file gives {}", values.len()),
                format!("{key} = {}", values[0]),
            ));
        }
    }
    Ok(FileArgs { model, tokens })
}

fn user_model(m: &ArgMatches) -> Option<String> {
    m.get_one::<String>("model").cloned()
}

/// The command line with `--config FILE` or `--resume DIR` spliced in: the
/// file's options first, then the user's (which win). `first` is the parse
/// of `argv` as typed. Returns None when neither option is given.
pub fn expand(
    argv: &[OsString],
    first: &ArgMatches,
    root: &Command,
) -> Result<Option<Vec<OsString>>> {
    let Some(("train", m)) = first.subcommand() else {
        return Ok(None);
    };
    let config = m.get_one::<PathBuf>("config").cloned();
    let resume = m.get_one::<PathBuf>("resume").cloned();
    let (file, run_dir) = match (config, resume) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(GenError::config(
                "--config",
                "with --resume",
                "--resume reads the run's own config.toml",
                "give one of them; flags after --resume DIR still override its options",
            ));
        }
        (Some(file), None) => {
            if !file.is_file() {
                return Err(GenError::config(
                    "--config",
                    file.display(),
                    "no such file",
                    "pass a TOML file, e.g. the config.toml a run wrote",
                ));
            }
            (file, None)
        }
        (None, Some(dir)) => {
            let file = dir.join(CONFIG_FILE);
            if !file.is_file() {
                let why = if dir.join("run.json").exists() {
                    "the run has no config.toml (it was trained by an older genlab)"
                } else {
                    "no genlab run in this directory"
                };
                return Err(GenError::config(
                    "--resume",
                    dir.display(),
                    why,
                    "pass the --out directory of a `genlab train` run",
                ));
            }
            if CheckpointDir::new(&dir, 1).latest()?.is_none() {
                return Err(GenError::config(
                    "--resume",
                    dir.display(),
                    "the run has no completed checkpoint to continue from",
                    "train it afresh with --config DIR/config.toml --overwrite",
                ));
            }
            if m.value_source("out") == Some(ValueSource::CommandLine)
                && m.get_one::<PathBuf>("out") != Some(&dir)
            {
                return Err(GenError::config(
                    "--out",
                    m.get_one::<PathBuf>("out")
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    "a resumed run continues in its own directory",
                    format!("drop --out, or copy {} there first", dir.display()),
                ));
            }
            (file, Some(dir))
        }
    };
    let train = train_command(root)?;
    let f = file_args(&file, &train)?;
    let user = user_model(m);
    if let (Some(want), Some(got)) = (&f.model, &user)
        && want != got
    {
        return Err(GenError::config(
            "model",
            got,
            format!("{} configures a `{want}` run", file.display()),
            format!("drop the model name to run `{want}`, or use a config written for `{got}`"),
        ));
    }
    // argv: genlab train [MODEL] FILE-TOKENS USER-TOKENS [--out=DIR]
    let pos = argv
        .iter()
        .position(|a| a == "train")
        .ok_or_else(|| GenError::Other("no train subcommand in the command line".into()))?;
    let mut out: Vec<OsString> = argv[..=pos].to_vec();
    if user.is_none()
        && let Some(model) = &f.model
    {
        out.push(model.into());
    }
    // The user's flags win by replacing the file's, not by following them:
    // a list option given twice would append (`--diffusion-hidden 16,16`
    // after the file's 16,16 is 16,16,16,16).
    out.extend(
        f.tokens
            .into_iter()
            .filter(|(id, _)| m.value_source(id) != Some(ValueSource::CommandLine))
            .map(|(_, token)| token),
    );
    out.extend(argv[pos + 1..].iter().cloned());
    if let Some(dir) = run_dir {
        let mut flag = OsString::from("--out=");
        flag.push(dir.as_os_str());
        out.push(flag);
    }
    Ok(Some(out))
}

/// A raw value as the TOML value a reader expects (numbers as numbers).
fn typed(raw: &str) -> toml::Value {
    match raw {
        "true" => return toml::Value::Boolean(true),
        "false" => return toml::Value::Boolean(false),
        _ => {}
    }
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = raw.parse::<f64>()
        && f.is_finite()
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
    {
        return toml::Value::Float(f);
    }
    toml::Value::String(raw.to_string())
}

/// The fully resolved options of a parsed `train` command line (defaults
/// included, unset optional flags left out) as the text of a config file,
/// one commented block per group of `train --help`.
pub fn resolved(train: &Command, m: &ArgMatches) -> String {
    let mut text = String::from(
        "# The resolved options of this run (`genlab train --help` explains each).\n\
         # Replay: genlab train --config THIS_FILE --out OTHER_DIR\n\
         # Continue: genlab train --resume THIS_RUN_DIR [--steps MORE]\n",
    );
    let mut heading: Option<&str> = None;
    for arg in config_args(train) {
        let id = arg.get_id().as_str();
        let Some(raw) = m.get_raw(id) else {
            continue;
        };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        if values.is_empty() {
            continue;
        }
        let h = arg.get_help_heading();
        if h != heading {
            heading = h;
            text.push_str(&format!("\n# {}\n", h.unwrap_or("What to train")));
        }
        let value = if values.len() == 1 {
            typed(&values[0])
        } else {
            toml::Value::Array(values.iter().map(|v| typed(v)).collect())
        };
        let key = key_of(arg);
        let key = if key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            key
        } else {
            format!("{key:?}")
        };
        text.push_str(&format!("{key} = {value}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_keep_their_type() {
        assert_eq!(typed("100"), toml::Value::Integer(100));
        assert_eq!(typed("0.001"), toml::Value::Float(0.001));
        assert_eq!(typed("1e-3"), toml::Value::Float(0.001));
        assert_eq!(typed("true"), toml::Value::Boolean(true));
        assert_eq!(typed("mnist5k"), toml::Value::String("mnist5k".into()));
        assert_eq!(typed("inf"), toml::Value::String("inf".into()));
        assert_eq!(typed("runs/x"), toml::Value::String("runs/x".into()));
    }
}
