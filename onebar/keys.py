"""Secret keys kept in the data directory when configuration gives none.

The key file holds a JSON list, oldest key first and the newest (the one that
signs) last, the same order itsdangerous and Flask's ``SECRET_KEY_FALLBACKS``
use. It is created once with owner-only permissions and never logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path

from .exc import ConfigError

KEY_FILE = "secret_keys.json"

#: How many keys a rotation keeps: the new one and the two before it, so a
#: cookie signed up to two rotations ago still verifies (and is re-signed).
KEEP = 3


def _new_key() -> str:
    return secrets.token_urlsafe(48)


def _write(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically; the result is always owner-only (0600).

    The new keys go to a temporary file that is created here and now
    (``mkstemp`` opens with ``O_EXCL`` and mode 0600), never to a name that
    may already exist with looser permissions, and its mode is set on the open
    descriptor before a byte is written.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(keys, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_or_create(data_dir: Path) -> tuple[str, ...]:
    """Return the keys in ``data_dir``, creating a first key if there is none.

    A key file that other users may read or write (a copy made with a loose
    umask, say) is refused, as ssh refuses such a private key: whoever reads
    the keys can sign cookies for any account.
    """
    path = data_dir / KEY_FILE
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0
    if mode & 0o077:
        raise ConfigError(f"the key file {path} can be read or written by other users (mode {mode:04o}): "
                          f"run 'chmod 600 {path}'")
    try:
        keys = json.loads(path.read_text())
    except FileNotFoundError:
        keys = [_new_key()]
        try:
            _write(path, keys)
        except OSError as exc:
            raise ConfigError(f"cannot write the key file {path}: {exc.strerror}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc}") from None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"the key file {path} must hold a JSON list of non-empty strings")
    return tuple(keys)


def rotate(data_dir: Path, keep: int = KEEP) -> tuple[str, ...]:
    """Add a new signing key; keep the ``keep - 1`` keys before it to verify."""
    keys = [*load_or_create(data_dir), _new_key()][-keep:]
    _write(data_dir / KEY_FILE, keys)
    return tuple(keys)
